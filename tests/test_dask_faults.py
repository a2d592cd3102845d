"""The Dask path (``ddf.sms.send``: partitions streamed through one campaign) under the
adversarial faults the pandas path is held to (tests/test_pause.py,
tests/test_journal_outage.py, tests/test_provider_outage.py):

1. a Dask campaign paused (SIGSTOP) past its lease, at a hook point just before or
   just after a worker commits an intent, or between two partitions, while a colleague
   re-runs the campaign (with pandas or with Dask, another chunking); then resumed;
2. a journal that stops answering mid-campaign (a SQLite file locked by another
   process, a PostgreSQL server killed);
3. a provider that stops answering mid-campaign (down, or answering only HTTP 500).

Each time: every number is delivered at most once, none without a committed intent;
the stopped campaign raises as pandas' does, its partial result (the partitions done,
the one it stopped in among them) true to the delivery log; a re-run finishes it.
Only the public API is used (Journal's hooks in the paused process, as test_pause's).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
import pytest
from frames import contacts
from truth import (
    assert_every_call_had_an_intent,
    assert_true_to_deliveries,
    delivered_once,
    when,
)

import smsframe.dask  # noqa: F401 - registers ddf.sms (and df.sms)
from smsframe import JournalError, ProviderUnavailable, SmsClient
from smsframe.journal import Journal
from smsframe.runner import OUTAGE_AFTER
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "dask-faults-pw")


@pytest.fixture(autouse=True)
def threads():
    """Dask's threaded scheduler (no distributed client in this module)."""
    with dask.config.set(scheduler="threads"):
        yield


def computed(out) -> pd.DataFrame:
    return out.compute() if isinstance(out, dd.DataFrame) else out


def check_partial(error: Exception, frame: pd.DataFrame, parts: int) -> pd.DataFrame:
    """The partial result of a Dask campaign that stopped midway: a Dask frame of the
    partitions done, in order from the first; the message says how many were not
    started. Returns its rows."""
    assert "nothing is sent twice" in str(error)
    assert isinstance(error.result, dd.DataFrame), type(error.result)
    out = error.result.compute()
    size = len(frame) // parts
    assert 0 < len(out) <= len(frame) and len(out) % size == 0, len(out)
    assert out.index.equals(frame.index[: len(out)])
    not_started = parts - len(out) // size
    if not_started:
        assert f"{not_started} partitions not started" in str(error), str(error)
    return out


# -- 1. paused past the lease (SIGSTOP) -------------------------------------------------
ROWS, PARTS, CHUNK, WORKERS = 1200, 3, 10, 4
PAUSE_AT = 52  # the 13th call of partition 1 (40 calls a partition)
LEASE_TTL_S = 1.5

# As tests/test_pause.py's paused campaign, sent with Dask. It stops itself at the hook
# point holding the journal's writing lock and the lease renewal's (no database write
# of it in flight: a colleague is blocked by its lease only) until the test says "go"
# after SIGCONT. "between": once partition 0's rows are all on record, before any call
# of partition 1 (whose rows it planned from the journal as it was when it started).
PAUSED = textwrap.dedent(
    f"""
    import itertools, os, signal, sys, threading
    import dask
    import dask.dataframe as dd
    import pandas as pd
    import smsframe.dask
    from smsframe import SmsClient
    from smsframe.journal import Journal

    wsdl, url, point = sys.argv[1:4]
    dask.config.set(scheduler="threads")
    Journal.lease_ttl = {LEASE_TTL_S}
    renewing = threading.Lock()
    extend, record, unsent = Journal._extend, Journal.record_intent, Journal.record_unsent
    intents, parts = itertools.count(), itertools.count()

    def guarded_extend(self, lease, me):
        with renewing:
            return extend(self, lease, me)

    def pause(journal, numbers):
        with renewing, journal._calls._lock:
            print("paused", ";".join(numbers) or "-", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
            sys.stdin.readline()

    def paused_once(self, intent, lease, resent=None):
        here = next(intents) == {PAUSE_AT}
        if here and point == "before":
            pause(self, intent.numbers)
        call_id = record(self, intent, lease, resent)
        if here and point == "after":
            pause(self, intent.numbers)
        return call_id

    def paused_between(self, name, rows, replace=True):
        unsent(self, name, rows, replace=replace)
        if next(parts) == 0 and point == "between":
            self.calls(name)  # every outcome of partition 0 written
            pause(self, [])

    Journal._extend, Journal.record_intent = guarded_extend, paused_once
    Journal.record_unsent = paused_between
    df = pd.DataFrame({{"phone": [f"137{{i:08d}}" for i in range({ROWS})]}})
    ddf = dd.from_pandas(df, npartitions={PARTS})
    client = SmsClient(wsdl, 101, "demo", "dask-faults-pw")
    out = ddf.sms.send(client, message="闪购", campaign="c", journal=url,
                       workers={WORKERS}, chunk_size={CHUNK}, progress=False).compute()
    # (its warning is not looked for: catch_warnings is not thread-safe before Python
    # 3.14, and Dask's threads use it)
    status = out["sms_status"].astype(str)
    print("done", status.value_counts().to_dict(),
          out.loc[status == "skipped", "sms_reason"].astype(str).value_counts().to_dict(),
          flush=True)
    """
)


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def wait_until_lease_expired(url: str) -> None:
    journal = Journal(url, read_only=True)
    try:
        while (until := journal.lease_until("c")) is not None and until > datetime.now(UTC):
            time.sleep(0.1)
    finally:
        journal.close()


def colleague_send(wsdl: str, url: str, engine: str) -> pd.DataFrame:
    """The colleague's re-run of the campaign, with another chunking (and partitioning)."""
    client = SmsClient(wsdl, *ACCOUNT)
    frame = contacts(ROWS)
    if engine == "dask":
        frame = dd.from_pandas(frame, npartitions=4)
    out = frame.sms.send(
        client, message="闪购", campaign="c", journal=url, chunk_size=7, progress=False
    )
    return computed(out)


@pytest.fixture
def journal_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.mark.parametrize(
    ("journal_url", "point", "colleague"),
    [
        ("sqlite", "before", "pandas"),
        ("sqlite", "after", "dask"),
        ("sqlite", "between", "pandas"),
    ],
    indirect=["journal_url"],
)
def test_a_paused_dask_campaign_never_sends_what_a_colleague_sent(journal_url, point, colleague):
    with Simulator(latency_ms=5) as sim:
        sim.add_account(*ACCOUNT, balance=10 * ROWS)
        child = subprocess.Popen(
            [sys.executable, "-c", PAUSED, sim.wsdl_url, journal_url, point],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = child.stdout.readline().split()
            assert line[:1] == ["paused"], child.stderr.read()
            paused_numbers = [n for n in line[1].split(";") if n != "-"]
            while not stopped(child.pid):
                time.sleep(0.01)
            delivered_before = len(sim.deliveries())
            wait_until_lease_expired(journal_url)

            # A colleague re-runs the campaign with another chunking, and finishes it.
            out = colleague_send(sim.wsdl_url, journal_url, colleague)
            by_colleague = sim.deliveries()
            assert_true_to_deliveries(out, by_colleague)
            assert len(out) == ROWS
            status = out.set_index("sms_phone")["sms_status"].astype(str)
            assert set(status) <= {"sent", "unknown"}
            assert (status == "unknown").sum() <= WORKERS * CHUNK  # the paused calls only
            if point == "after":  # committed, not yet made: unknown, and not resent
                assert (status[paused_numbers] == "unknown").all()
                assert not by_colleague["phone"].isin(paused_numbers).any()
            elif point == "before":  # not committed: the colleague sent them
                assert (status[paused_numbers] == "sent").all()
            else:  # partition 0 done and on record, nothing in flight
                assert delivered_before == ROWS // PARTS
                assert (status == "sent").all()

            child.send_signal(signal.SIGCONT)
            output, errors = child.communicate("go\n", timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0, errors[-3000:]
        assert output.startswith("done"), output
        assert "{'lease_lost': " in output  # the paused run stopped: the rest not sent
        deliveries = sim.deliveries()

    # Every number delivered exactly once, each with a committed intent; what the paused
    # run sent once resumed are calls the colleague reported unknown (never resent).
    assert 0 < delivered_before < ROWS
    assert sorted(deliveries["phone"]) == sorted(contacts(ROWS)["phone"])
    assert_every_call_had_an_intent(journal_url, "c", deliveries)
    resumed = set(deliveries["phone"]) - set(by_colleague["phone"])
    assert resumed <= set(status[status == "unknown"].index)
    if point == "after":
        assert set(paused_numbers) <= resumed
    if point == "between":  # the stale plan of partition 1 was fenced: no call
        assert not resumed
    journal = Journal(journal_url)
    recorded = journal.campaign("c")
    journal.close()
    assert (recorded["status"] == "sent").all()  # the resumed calls' outcomes are in
    assert isinstance(recorded, pd.DataFrame) and len(recorded) == ROWS


# -- 2. the journal stops answering mid-campaign ------------------------------------------
J_ROWS, J_PARTS, J_CHUNK = 1200, 4, 20  # 15 calls a partition
J_STOP_AT = 20  # calls: in partition 1


def journal_send(sim: Simulator, journal) -> dd.DataFrame:
    client = SmsClient(sim.wsdl_url, *ACCOUNT)
    ddf = dd.from_pandas(contacts(J_ROWS), npartitions=J_PARTS)
    return ddf.sms.send(
        client,
        message="闪购",
        campaign="c",
        journal=journal,
        chunk_size=J_CHUNK,
        workers=4,
        progress=False,
    )


def check_journal_stopped(error: JournalError, sim: Simulator, advice: str) -> None:
    """As pandas' (tests/test_journal_outage.py): every row of the partitions done true
    to the delivery log, what was not sent skipped for that reason; every number
    delivered shows ``sent`` there (the partition it stopped in is among them)."""
    assert advice in str(error)
    out = check_partial(error, contacts(J_ROWS), J_PARTS)
    deliveries = sim.deliveries()
    assert_true_to_deliveries(out, deliveries)
    status = out["sms_status"].astype(str)
    assert set(status) <= {"sent", "skipped"}  # in-flight calls finished, their answer kept
    assert (status == "sent").sum() == len(deliveries) > J_ROWS // J_PARTS
    assert (out.loc[status == "skipped", "sms_reason"] == "journal_unavailable").all()
    assert (status == "skipped").sum() > 0


def check_journal_rerun(sim: Simulator, url: str) -> None:
    """Once the journal is back, a Dask re-run sends the rest: every number delivered
    once; the rows not delivered are those whose outcome could not be journaled
    (``unknown``, never resent)."""
    assert_every_call_had_an_intent(url, "c", sim.deliveries())
    again = journal_send(sim, url).compute()
    deliveries = sim.deliveries()
    assert len(again) == J_ROWS
    assert_true_to_deliveries(again, deliveries)
    status = again["sms_status"].astype(str)
    assert set(status) <= {"sent", "unknown"}
    numbers = delivered_once(deliveries)
    assert (status[~again["sms_phone"].isin(numbers)] == "unknown").all()  # none left unsent
    assert (status == "sent").sum() >= J_ROWS - 4 * J_CHUNK  # the calls in flight
    assert_every_call_had_an_intent(url, "c", deliveries)


@pytest.mark.sim(ACCOUNT, balance=1_000_000, latency_ms=5)
def test_a_journal_locked_by_another_process_mid_dask_campaign(sim, tmp_path):
    path = tmp_path / "journal.sqlite"
    url = f"sqlite:///{path}"
    journal = Journal(url, lock_timeout=0.5)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # Another process takes the file's write lock and keeps it (paused, say).
    locker = when(
        lambda: sim.requests["SendMessage"] >= J_STOP_AT,
        lambda: other.execute("BEGIN IMMEDIATE"),
    )
    with pytest.raises(JournalError) as raised:
        journal_send(sim, journal)
    locker.join()
    check_journal_stopped(raised.value, sim, "locked by another process")
    other.execute("ROLLBACK")
    other.close()
    journal.close()
    check_journal_rerun(sim, url)


@pytest.mark.sim(ACCOUNT, balance=1_000_000, latency_ms=5)
def test_a_postgresql_journal_killed_mid_dask_campaign(sim, killable_postgres):
    url = killable_postgres.url
    killer = when(lambda: sim.requests["SendMessage"] >= J_STOP_AT, killable_postgres.kill)
    with pytest.raises(JournalError) as raised:
        journal_send(sim, url)
    killer.join()
    check_journal_stopped(raised.value, sim, "stopped answering")
    killable_postgres.restart()
    check_journal_rerun(sim, url)


# -- 3. the provider stops answering mid-campaign --------------------------------------
P_ROWS, P_PARTS, P_CHUNK = 1600, 4, 5  # 80 calls a partition
P_STOP_AT = 100  # calls: in partition 1
NOT_REACHED = (OUTAGE_AFTER + 4) * P_CHUNK  # rows of the calls that told it was down


def provider_send(wsdl: str, url: str) -> dd.DataFrame:
    client = SmsClient(wsdl, *ACCOUNT, operation_timeout=2)
    ddf = dd.from_pandas(contacts(P_ROWS), npartitions=P_PARTS)
    return ddf.sms.send(
        client,
        message="hi",
        campaign="c",
        journal=url,
        chunk_size=P_CHUNK,
        workers=4,
        progress=False,
    )


def check_provider_stopped(error: ProviderUnavailable, deliveries: pd.DataFrame) -> None:
    """As pandas' (tests/test_provider_outage.py), over the partitions done."""
    assert "stopped answering" in str(error)
    out = check_partial(error, contacts(P_ROWS), P_PARTS)
    assert_true_to_deliveries(out, deliveries)
    status = out["sms_status"].astype(str)
    assert set(status) <= {"sent", "failed", "unknown", "skipped"}
    skipped = out[status == "skipped"]
    assert len(skipped) > 0 and (skipped["sms_reason"] == "provider_unavailable").all()
    assert len(skipped) + P_ROWS - len(out) > P_ROWS / 2  # not sent: skipped, not started
    assert len(out[status.isin(["failed", "unknown"])]) <= NOT_REACHED
    # every number delivered is in the result, sent or unknown (its answer lost)
    called = out.loc[status.isin(["sent", "unknown"]), "sms_phone"]
    assert set(deliveries["phone"]) <= set(called)
    assert len(deliveries) > P_ROWS // P_PARTS  # it stopped in partition 1 or later


def check_provider_rerun(wsdl: str, url: str, deliveries_of) -> None:
    again = provider_send(wsdl, url).compute()
    deliveries = deliveries_of()
    assert len(again) == P_ROWS
    assert_true_to_deliveries(again, deliveries)
    status = again["sms_status"].astype(str)
    assert set(status) <= {"sent", "unknown"}
    assert (status == "sent").sum() >= P_ROWS - NOT_REACHED
    numbers = delivered_once(deliveries)
    assert (status[~again["sms_phone"].isin(numbers)] == "unknown").all()  # none left unsent
    assert_every_call_had_an_intent(url, "c", deliveries)


def test_a_provider_that_goes_down_mid_dask_campaign(tmp_path):
    url, store = f"sqlite:///{tmp_path / 'j.sqlite'}", tmp_path / "provider.sqlite"
    sim = Simulator(store, latency_ms=5).start()
    sim.add_account(*ACCOUNT, balance=10 * P_ROWS)
    wsdl, port = sim.wsdl_url, sim.address[1]
    stopper = when(lambda: sim.requests["SendMessage"] >= P_STOP_AT, sim.stop)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as raised:
        provider_send(wsdl, url)
    stopper.join()
    assert time.monotonic() - started < 15  # not a crawl through every remaining call
    with Simulator(store, port=port) as back:  # the provider is back, same address
        check_provider_stopped(raised.value, back.deliveries())
        check_provider_rerun(wsdl, url, back.deliveries)


def test_a_provider_answering_only_errors_mid_dask_campaign(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with Simulator(latency_ms=5) as sim:
        sim.add_account(*ACCOUNT, balance=10 * P_ROWS)
        injector = when(
            lambda: sim.requests["SendMessage"] >= P_STOP_AT,
            lambda: sim.inject("SendMessage", "http500", probability=None),
        )
        with pytest.raises(ProviderUnavailable) as raised:
            provider_send(sim.wsdl_url, url)
        injector.join()
        check_provider_stopped(raised.value, sim.deliveries())
        out = raised.value.result.compute()
        unknown = out["sms_status"] == "unknown"
        assert unknown.sum() >= OUTAGE_AFTER * P_CHUNK  # HTTP 500: processed or not?
        sim.clear_faults()
        check_provider_rerun(sim.wsdl_url, url, sim.deliveries)
