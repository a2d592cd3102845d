"""A campaign paused past its lease (SIGSTOP, as a laptop's lid or a debugger does)
while a colleague re-runs it with another chunk size; then it resumes (SIGCONT).

The pause lands at a hook point, deterministically: just before a worker commits an
intent (on resuming, the fence refuses it: no call), or just after (on resuming, that
call goes out; the colleague's run reported its rows ``unknown`` and never resent
them). Either way every number is delivered exactly once, each with a committed
intent, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from frames import contacts
from truth import assert_every_call_had_an_intent, assert_true_to_deliveries

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "pause-pw")
ROWS, CHUNK, WORKERS, PAUSE_AT = 3000, 10, 4, 12
LEASE_TTL_S = 1.5

# The paused campaign. It stops itself at the hook point holding the journal's writing
# lock and the lease renewal's, so that no database write of it is in flight: a
# colleague is never blocked by its locks, only by its lease. A process does not stop
# at once when it sends itself SIGSTOP (its other threads are stopped first): the
# pausing thread keeps both locks until the test says "go" after SIGCONT.
PAUSED = textwrap.dedent(
    f"""
    import itertools, os, signal, sys, threading, warnings
    import pandas as pd
    import smsframe
    from smsframe import SmsClient
    from smsframe.journal import Journal

    wsdl, url, point = sys.argv[1:4]
    Journal.lease_ttl = {LEASE_TTL_S}
    renewing = threading.Lock()
    extend, record = Journal._extend, Journal.record_intent
    intents = itertools.count()

    def guarded_extend(self, lease, me):
        with renewing:
            return extend(self, lease, me)

    def pause(journal, intent):
        with renewing, journal._calls._lock:
            print("paused", ";".join(intent.numbers), flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
            sys.stdin.readline()

    def paused_once(self, intent, lease, resent=None):
        here = next(intents) == {PAUSE_AT}
        if here and point == "before":
            pause(self, intent)
        call_id = record(self, intent, lease, resent)
        if here and point == "after":
            pause(self, intent)
        return call_id

    Journal._extend, Journal.record_intent = guarded_extend, paused_once
    df = pd.DataFrame({{"phone": [f"137{{i:08d}}" for i in range({ROWS})]}})
    client = SmsClient(wsdl, 101, "demo", "pause-pw")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = df.sms.send(client, message="闪购", campaign="c", journal=url,
                          workers={WORKERS}, chunk_size={CHUNK}, progress=False)
    print("done", out["sms_status"].astype(str).value_counts().to_dict(),
          [str(w.message) for w in caught], flush=True)
    """
)


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def wait_until_lease_expired(url: str) -> None:
    journal = Journal(url, read_only=True)
    try:
        while (until := journal.lease_until("c")) is not None and until > datetime.now(UTC):
            time.sleep(0.1)
    finally:
        journal.close()


@pytest.mark.parametrize("point", ["before", "after"])
def test_a_paused_campaign_never_sends_what_a_colleague_sent(journal_url, point):
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
            paused_numbers = line[1].split(";")
            while not stopped(child.pid):
                time.sleep(0.01)
            delivered_before = len(sim.deliveries())
            wait_until_lease_expired(journal_url)

            # A colleague re-runs the campaign with another chunking, and finishes it.
            client = SmsClient(sim.wsdl_url, *ACCOUNT)
            colleague = contacts(ROWS).sms.send(
                client,
                message="闪购",
                campaign="c",
                journal=journal_url,
                chunk_size=7,
                progress=False,
            )
            assert_true_to_deliveries(colleague, sim.deliveries())
            status = colleague.set_index("sms_phone")["sms_status"].astype(str)
            assert set(status) <= {"sent", "unknown"}
            assert (status == "unknown").sum() <= WORKERS * CHUNK  # the paused calls only
            if point == "after":  # committed, not yet made: unknown, and not resent
                assert (status[paused_numbers] == "unknown").all()
                assert not sim.deliveries()["phone"].isin(paused_numbers).any()
            else:  # not committed: the colleague sent them
                assert (status[paused_numbers] == "sent").all()

            child.send_signal(signal.SIGCONT)
            output, errors = child.communicate("go\n", timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0, errors[-3000:]
        assert output.startswith("done"), output
        assert "lost its hold on 'c'" in output  # the paused run stopped, with a warning
        deliveries = sim.deliveries()

    # Every number delivered exactly once, each with a committed intent.
    assert delivered_before > 0
    assert sorted(deliveries["phone"]) == sorted(contacts(ROWS)["phone"])
    assert_every_call_had_an_intent(journal_url, "c", deliveries)
    journal = Journal(journal_url)
    recorded = journal.campaign("c")
    journal.close()
    assert (recorded["status"] == "sent").all()  # the resumed calls' outcomes are in
    assert isinstance(recorded, pd.DataFrame) and len(recorded) == ROWS
