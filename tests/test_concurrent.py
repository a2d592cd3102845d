"""Two processes start the same campaign at the same moment on the same journal (a
SQLite file, and a real PostgreSQL): one sends, the other stops with CampaignBusy
and sends nothing; no number is delivered twice, also after a rerun. And a campaign
on a PostgreSQL journal killed with SIGKILL mid-way, then run again."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from crash import crash_and_rerun
from frames import contacts

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "race-pw")
ROWS, CHUNK, WORKERS = 300, 10, 2
LATENCY_MS = 100  # 30 calls on 2 workers: the winner sends for about 1.5 s

RACE = textwrap.dedent(
    """
    import sys
    import pandas as pd
    import smsframe
    from smsframe import SmsClient
    from smsframe.errors import CampaignBusy

    wsdl, journal, rows, chunk, workers = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    df = pd.DataFrame({"phone": [f"138{i:08d}" for i in range(rows)]})
    client = SmsClient(wsdl, 101, "demo", "race-pw")
    df.sms.plan("warm-up")  # imports and first-use costs paid before the start
    print("ready", flush=True)
    sys.stdin.readline()  # the start signal, given to both at once
    try:
        out = df.sms.send(client, message="抢购", campaign="race", journal=journal,
                          workers=workers, chunk_size=chunk, progress=False)
    except CampaignBusy as busy:
        print(f"busy: {busy}", flush=True)
        sys.exit(3)
    print("sent", int((out["sms_status"] == "sent").sum()), flush=True)
    """
)


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request, tmp_path) -> str:
    """A new journal: a SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


def test_two_processes_sending_the_same_campaign_at_once_never_duplicate(journal_url):
    with Simulator(latency_ms=LATENCY_MS) as sim:
        sim.add_account(*ACCOUNT, balance=10 * ROWS)
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    RACE,
                    sim.wsdl_url,
                    journal_url,
                    *map(str, (ROWS, CHUNK, WORKERS)),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            for process in processes:
                assert process.stdout.readline().strip() == "ready", process.stderr.read()
            for process in processes:  # go: both start the campaign now
                process.stdin.write("go\n")
                process.stdin.flush()
            outputs = [process.communicate(timeout=60) for process in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()

        results = {
            p.returncode: (p, out, err) for p, (out, err) in zip(processes, outputs, strict=True)
        }
        assert sorted(results) == [0, 3], [
            f"exit {code}: {r[1]}{r[2][-2000:]}" for code, r in results.items()
        ]
        winner, sent_out, _ = results[0]
        _, busy_out, busy_err = results[3]
        # The one that lost says so clearly, and who holds the campaign.
        assert busy_out.startswith("busy: campaign 'race' is being sent right now"), busy_out
        assert f":{winner.pid}:" in busy_out
        assert "nothing was sent" in busy_out
        assert "Traceback" not in busy_err
        assert sent_out.split() == ["sent", str(ROWS)]

        deliveries = sim.deliveries()
        assert len(deliveries) == ROWS
        assert deliveries["phone"].is_unique
        assert sim.requests["SendMessage"] == ROWS // CHUNK  # the loser made no call

        # Run again afterwards: everything is recorded as done; nothing goes out again.
        client = SmsClient(sim.wsdl_url, *ACCOUNT)
        out = contacts(ROWS, "138").sms.send(
            client, message="抢购", campaign="race", journal=journal_url, progress=False
        )
        assert (out["sms_status"] == "sent").all()
        after = sim.deliveries()
        assert len(after) == ROWS
        assert after["phone"].is_unique
        assert sim.requests["SendMessage"] == ROWS // CHUNK
    journal = Journal(journal_url)
    recorded = journal.campaign("race")
    assert len(recorded) == ROWS
    assert (recorded["status"] == "sent").all()
    journal.close()


# -- SIGKILL mid-campaign on a PostgreSQL journal -------------------------------------


@pytest.mark.parametrize(("mode", "seed"), [("send", 1), ("send", 2), ("schedule", 3)])
def test_sigkill_then_rerun_on_postgresql_never_delivers_twice(fresh_postgres_url, mode, seed):
    # 40 calls on 4 workers at 20 ms: about 0.3 s or more, so the kill lands mid-campaign.
    crash_and_rerun(fresh_postgres_url, mode, seed, rows=2000, workers=4, chunk=50, latency_ms=20)
