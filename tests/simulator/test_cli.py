"""`smsframe simulator serve` in another process, used over HTTP; `deliveries` prints CSV."""

from __future__ import annotations

import csv
import io
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import zeep
from zeep.transports import Transport

pytestmark = pytest.mark.timeout(90)

A, B = "13800138000", "13912345678"
TS = 1_764_000_000
CLI = [sys.executable, "-m", "smsframe.cli", "simulator"]
COLUMNS = [
    "account_id",
    "batch_id",
    "phone",
    "message",
    "timestamp",
    "scheduled_for",
    "received_at",
]


def first_line(proc: subprocess.Popen, timeout: float = 30) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        raise AssertionError(f"no first line within {timeout} s") from None


@contextmanager
def serving(*args: str, stop: signal.Signals = signal.SIGTERM) -> Iterator[tuple[str, list]]:
    """Run `smsframe simulator serve ARGS`; yield (WSDL URL, [exit code after stop])."""
    proc = subprocess.Popen(
        [*CLI, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    exit_code: list = []
    try:
        url = first_line(proc)
        if not url:
            proc.kill()
            raise AssertionError(f"serve printed nothing; stderr: {proc.stderr.read()}")
        yield url, exit_code
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
        try:
            exit_code.append(proc.wait(timeout=15))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"serve did not stop on {stop.name}") from None
        proc.stdout.close()
        proc.stderr.close()


def deliveries(db) -> list[dict]:
    done = subprocess.run(
        [*CLI, "deliveries", "--db", str(db)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    reader = csv.DictReader(io.StringIO(done.stdout))
    assert reader.fieldnames is not None
    assert set(COLUMNS) <= set(reader.fieldnames)
    return list(reader)


def zeep_service(url: str):
    return zeep.Client(url, transport=Transport(timeout=10, operation_timeout=10)).service


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_then_deliveries_as_csv(tmp_path):
    db = tmp_path / "cli.sqlite"
    accounts = ["--account", "101:demo:secret:1000", "--account", "202:two:pw:5"]
    with serving("--db", str(db), *accounts) as (url, exit_code):
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("?wsdl")
        service = zeep_service(url)
        assert service.UserLogin(101, "demo", "secret") == 101
        assert service.UserLogin(202, "two", "pw") == 202
        sent = service.SendMessage(101, "demo", "secret", '您好, "世界"\n第二行', f"{A};x;{B}", TS)
        assert (sent.State, sent.FailPhone) == (1, "x")
        timer = service.SendTimer(101, "demo", "secret", "later", A, "2099-01-02 03:04:05", TS + 1)
        assert timer.State == 1
        balance = service.GetBalance(101, "demo", "secret")
        assert (balance.Balance, balance.Sended) == (997, 3)
    assert exit_code == [0]

    rows = deliveries(db)
    assert [r["phone"] for r in rows] == [A, B, A]
    assert [r["message"] for r in rows] == ['您好, "世界"\n第二行'] * 2 + ["later"]
    assert [int(r["account_id"]) for r in rows] == [101] * 3
    assert [int(r["batch_id"]) for r in rows] == [sent.Id, sent.Id, timer.Id]
    assert [int(r["timestamp"]) for r in rows] == [TS, TS, TS + 1]
    assert rows[0]["scheduled_for"] == ""
    assert rows[2]["scheduled_for"].startswith("2099-01-02 03:04:05+08:00")
    assert all(r["received_at"] for r in rows)


def test_restart_keeps_state_and_does_not_reopen_accounts(tmp_path):
    db = tmp_path / "cli.sqlite"
    port = free_port()
    args = ["--db", str(db), "--port", str(port), "--account", "101:demo:secret:10"]
    with serving(*args) as (url, exit_code):
        assert f":{port}/" in url
        assert zeep_service(url).SendMessage(101, "demo", "secret", "one", A, TS).State == 1
    assert exit_code == [0]
    with serving(*args, stop=signal.SIGINT) as (url, exit_code):
        service = zeep_service(url)
        balance = service.GetBalance(101, "demo", "secret")
        assert (balance.Balance, balance.Sended, balance.Totaled) == (9, 1, 10)
        assert service.SendMessage(101, "demo", "secret", "two", B, TS).State == 1
    assert exit_code == [0]
    assert [r["message"] for r in deliveries(db)] == ["one", "two"]


def test_serve_with_latency(tmp_path):
    args = ["--db", str(tmp_path / "l.sqlite"), "--latency-ms", "300"]
    with serving(*args, "--account", "101:demo:secret:10") as (url, _):
        service = zeep_service(url)
        started = time.perf_counter()
        assert service.UserLogin(101, "demo", "secret") == 101
        assert time.perf_counter() - started >= 0.3


def test_deliveries_of_an_empty_log_is_a_header(tmp_path):
    db = tmp_path / "empty.sqlite"
    with serving("--db", str(db)) as (url, _):
        assert zeep_service(url).UserLogin(101, "demo", "secret") == -3  # no account opened
    assert deliveries(db) == []


@pytest.mark.parametrize("account", ["101:demo:secret", "x:demo:secret:10", "101:demo:secret:ten"])
def test_serve_rejects_a_malformed_account(tmp_path, account):
    done = subprocess.run(
        [*CLI, "serve", "--db", str(tmp_path / "x.sqlite"), "--account", account],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "ID:NAME:PASSWORD:BALANCE" in done.stderr
