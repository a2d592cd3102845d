"""Persistence across a restart on the same SQLite file, and concurrent callers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from smsframe.simulator import Simulator

pytestmark = pytest.mark.timeout(60)

A, B, C = "13800138000", "13912345678", "15000000001"
TS = 1_764_000_000


# -- persistence -----------------------------------------------------------------------------


def test_state_survives_a_restart_on_the_same_file(tmp_path, make_zeep_client):
    db = tmp_path / "p.sqlite"
    with Simulator(db_path=db) as first:
        first.add_account(101, "demo", "secret", 1000)
        first.add_account(102, "agent", "pw", 50, kind="agent")
        first.add_account(103, "off", "pw", 50, disabled=True)
        first.add_account(104, "bound", "pw", 50, bound_ip="10.1.1.1")
        first.set_keywords(["赌博"])
        first.mark_unreachable([C])
        service = make_zeep_client(first).service
        sent = service.SendMessage(101, "demo", "secret", "promo", f"{A};{B};{C}", TS)
        assert (sent.State, sent.FailPhone) == (1, C)
        timer = service.SendTimer(101, "demo", "secret", "later", A, "2099-05-01 09:30:00", TS)
        assert timer.State == 1
        assert service.UpdatePsw(101, "demo", "secret", "n3w") == 1
        first.recharge(101, 7)
        before = first.deliveries()

    assert db.exists()
    with Simulator(db_path=str(db)) as second:
        service = make_zeep_client(second).service
        # accounts, with their password change, kinds, flags and bound IP
        assert service.UserLogin(101, "demo", "n3w") == 101
        assert service.UserLogin(101, "demo", "secret") == -3
        assert service.UserLogin(102, "agent", "pw") == -4
        assert service.UserLogin(103, "off", "pw") == 0
        assert service.UserLogin(104, "bound", "pw") == -30
        # balances
        assert second.balance(101) == {"Balance": 1004, "Sended": 3, "Totaled": 1007}
        state = service.GetBalance(101, "demo", "n3w")
        assert (state.Balance, state.Sended, state.Totaled) == (1004, 3, 1007)
        # the delivery log, scheduled time included
        pd.testing.assert_frame_equal(second.deliveries(), before)
        assert second.deliveries().scheduled_for.iloc[2] == pd.Timestamp(
            "2099-05-01 09:30:00", tz="Asia/Shanghai"
        )
        # keywords and unreachable numbers
        assert service.SendMessage(101, "demo", "n3w", "来赌博", A, TS).State == -13
        again = service.SendMessage(101, "demo", "n3w", "promo", f"{C};{B}", TS)
        # the batch of the same account + Timestamp + Message is shared across the restart
        assert (again.State, again.FailPhone, again.Id) == (1, C, sent.Id)
        fresh = service.SendMessage(101, "demo", "n3w", "new text", A, TS)
        assert fresh.Id not in (sent.Id, timer.Id)
        assert fresh.Id > max(sent.Id, timer.Id)
        assert len(second.deliveries()) == len(before) + 2

    with Simulator(db_path=db) as third:
        assert len(third.deliveries()) == len(before) + 2
        assert third.balance(101) == {"Balance": 1002, "Sended": 5, "Totaled": 1007}


def test_adding_an_existing_account_after_restart_is_refused(tmp_path):
    db = tmp_path / "p.sqlite"
    with Simulator(db_path=db) as first:
        first.add_account(101, "demo", "secret", 10)
    with Simulator(db_path=db) as second:
        with pytest.raises(ValueError):
            second.add_account(101, "demo", "secret", 10)
        assert second.balance(101) == {"Balance": 10, "Sended": 0, "Totaled": 10}


def test_in_memory_simulators_share_nothing(make_zeep_client):
    with Simulator() as one:
        one.add_account(101, "demo", "secret", 10)
        make_zeep_client(one).service.SendMessage(101, "demo", "secret", "hi", A, TS)
    with Simulator() as two:
        assert two.deliveries().empty
        with pytest.raises(KeyError):
            two.balance(101)


def test_start_and_stop_without_a_context_manager(make_zeep_client):
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.url
    assert sim.start() is sim
    sim.add_account(101, "demo", "secret", 10)
    assert sim.wsdl_url == sim.url + "?wsdl"
    assert sim.url.startswith("http://127.0.0.1:")
    assert make_zeep_client(sim).service.UserLogin(101, "demo", "secret") == 101
    sim.stop()
    sim.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = sim.url


# -- concurrency -----------------------------------------------------------------------------


def number(thread: int, call: int, k: int) -> str:
    return f"13{thread}{call:04d}{k:04d}"


@pytest.mark.parametrize("storage", ["memory", "file"])
@pytest.mark.parametrize("clients", ["one-each", "shared"])
def test_eight_concurrent_callers_bill_exactly_and_lose_nothing(
    tmp_path, make_zeep_client, storage, clients
):
    db = tmp_path / "c.sqlite" if storage == "file" else None
    threads, calls, message = 8, 12, "并" * 71  # 2 parts
    with Simulator(db_path=db) as sim:
        sim.add_account(101, "demo", "secret", 1000)
        shared = make_zeep_client(sim).service
        services = [
            shared if clients == "shared" else make_zeep_client(sim).service for _ in range(8)
        ]
        barrier = threading.Barrier(threads)

        def worker(t: int) -> list:
            barrier.wait()
            return [
                services[t].SendMessage(
                    101, "demo", "secret", message, f"{number(t, c, 0)};x;{number(t, c, 1)}", TS
                )
                for c in range(calls)
            ]

        with ThreadPoolExecutor(threads) as pool:
            answers = [a for batch in pool.map(worker, range(threads)) for a in batch]

        assert len(answers) == threads * calls
        assert {(a.State, a.FailPhone) for a in answers} == {(1, "x")}
        assert len({a.Id for a in answers}) == 1  # same account, Timestamp and Message
        log = sim.deliveries()
        expected = {number(t, c, k) for t in range(threads) for c in range(calls) for k in (0, 1)}
        assert len(log) == len(expected) == 192
        assert set(log.phone) == expected
        cost = 2 * 192
        assert sim.balance(101) == {"Balance": 1000 - cost, "Sended": cost, "Totaled": 1000}


def test_concurrent_callers_never_overdraw(sim, make_zeep_client):
    """Balance 10, 8 callers each wanting 2 x 2 messages: exactly 5 calls get through."""
    sim.add_account(200, "small", "pw", 10)
    services = [make_zeep_client(sim).service for _ in range(8)]
    barrier = threading.Barrier(8)

    def worker(t: int) -> list[int]:
        barrier.wait()
        return [
            services[t].SendMessage(200, "small", "pw", f"t{t}", f"{A};{B}", TS).State
            for _ in range(2)
        ]

    with ThreadPoolExecutor(8) as pool:
        states = [s for batch in pool.map(worker, range(8)) for s in batch]
    assert sorted(states) == [-8] * 11 + [1] * 5
    assert sim.balance(200) == {"Balance": 0, "Sended": 10, "Totaled": 10}
    assert len(sim.deliveries()) == 10


def test_calls_really_overlap_under_latency(make_zeep_client):
    latency = 0.3
    with Simulator(latency_ms=int(latency * 1000)) as sim:
        sim.add_account(101, "demo", "secret", 100)
        services = [make_zeep_client(sim).service for _ in range(8)]
        barrier = threading.Barrier(8)

        def worker(t: int) -> tuple[float, object]:
            barrier.wait()
            started = time.perf_counter()
            answer = services[t].SendMessage(101, "demo", "secret", f"m{t}", A, TS)
            return time.perf_counter() - started, answer

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(worker, range(8)))
        wall = time.perf_counter() - started

        assert all(answer.State == 1 for _, answer in results)
        assert all(took >= latency for took, _ in results)  # the latency is really applied
        assert wall < 8 * latency / 2, f"{wall:.2f} s for 8 calls of {latency} s each"
        assert len(sim.deliveries()) == 8


def test_latency_applies_to_every_call(make_zeep_client):
    with Simulator(latency_ms=150) as sim:
        sim.add_account(101, "demo", "secret", 100)
        service = make_zeep_client(sim).service
        started = time.perf_counter()
        for _ in range(3):
            assert service.UserLogin(101, "demo", "secret") == 101
        assert time.perf_counter() - started >= 0.45


def test_starts_and_serves_where_an_event_loop_runs_already():
    """As in Jupyter, whose kernel runs an asyncio loop in the caller's thread."""
    import asyncio

    import requests

    async def serve() -> int:
        with Simulator() as sim:
            return requests.get(sim.wsdl_url, timeout=10).status_code

    assert asyncio.run(serve()) == 200
