"""Crash-resume harness: campaigns disrupted at seeded random moments, then run again
to completion, with the provider simulator in its own process. Three kinds of trials:

- ``sigkill``: a campaign subprocess killed with SIGKILL, then re-run.
- ``sigstop``: a campaign subprocess (lease 2 s) paused with SIGSTOP until its lease
  has expired; a colleague re-runs the campaign with another chunk size to completion;
  then the paused process resumes (SIGCONT) and must stop by itself, warning that it
  lost its hold. With SQLite, a process paused mid-write holds the file's write lock:
  the colleague is then blocked (a JournalError after its 5 s lock timeout), which the
  figures count.
- ``journal-outage``: a campaign in this process whose SQLite journal's disk fills up
  (``PRAGMA max_page_count``) at a random point: it must stop with a JournalError whose
  ``.result`` is true to the deliveries; a re-run once the space is back completes.

Every trial ends with a re-run to completion and asserts, from the simulator's delivery
log and the journal: no number delivered twice; none delivered without a committed
intent of the campaign; the final rows ``sent`` were delivered, ``unknown`` ones may or
may not have been, and no other status. Prints per-trial figures and a summary per kind.

    python bench/bench_crash.py [--kind all|sigkill|sigstop|journal-outage]
                                [--trials 20] [--rows 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from serve import simulator_process

import smsframe  # noqa: F401 - registers df.sms
from smsframe import JournalError, SmsClient
from smsframe.journal import Journal
from smsframe.simulator.server import deliveries_frame
from smsframe.simulator.store import Store

ACCOUNT = (101, "crash", "crash-bench-pw")
WORKERS, CHUNK, COLLEAGUE_CHUNK = 4, 100, 70
PAUSED_LEASE_S, COLLEAGUE_LOCK_TIMEOUT_S = 2.0, 5
# A campaign grows its journal by about 12 pages (4 KiB) per 1,000 rows (measured: 239
# pages for 20,000 rows, 4 workers, chunk 100); the disk "fills up" after a random share.
PAGES_PER_1000_ROWS = 12
KINDS = ("sigkill", "sigstop", "journal-outage")

CAMPAIGN = """
import sys, warnings, pandas as pd, smsframe
from smsframe import SmsClient
from smsframe.journal import Journal
wsdl, journal, rows, workers, chunk = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
Journal.lease_ttl = float(sys.argv[6])
df = pd.DataFrame({"phone": [f"147{i:08d}" for i in range(rows)]})
client = SmsClient(wsdl, 101, "crash", "crash-bench-pw")
client.login()
print("ready", flush=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = df.sms.send(client, message="crash", campaign="crash", journal=journal,
                      workers=workers, chunk_size=chunk, progress=False)
print("done", out["sms_status"].astype(str).value_counts().to_dict(),
      [str(w.message) for w in caught], flush=True)
"""


def contacts(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"phone": [f"147{i:08d}" for i in range(rows)]})


def send(wsdl: str, journal: Journal | str, rows: int, chunk: int = CHUNK) -> pd.DataFrame:
    """Campaign "crash" on ``rows`` contacts, from this process."""
    client = SmsClient(wsdl, *ACCOUNT)
    return contacts(rows).sms.send(
        client,
        message="crash",
        campaign="crash",
        journal=journal,
        workers=WORKERS,
        chunk_size=chunk,
        progress=False,
    )


def start_campaign(wsdl: str, url: str, rows: int, lease_ttl: float) -> subprocess.Popen:
    """Campaign "crash" in a subprocess, once it has logged in."""
    campaign = subprocess.Popen(
        [sys.executable, "-c", CAMPAIGN, wsdl, url, *map(str, (rows, WORKERS, CHUNK, lease_ttl))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert campaign.stdout.readline().strip() == "ready", campaign.stderr.read()
    return campaign


def delivered(db: Path) -> pd.DataFrame:
    store = Store(db)
    try:
        return deliveries_frame(store)
    finally:
        store.close()


def wait_for_deliveries(db: Path, target: int, campaign: subprocess.Popen) -> None:
    """Until the simulator has delivered ``target`` numbers (or the campaign ended)."""
    store = Store(db)
    try:
        while store.query("SELECT count(*) FROM deliveries")[1][0][0] < target:
            assert campaign.poll() is None, campaign.stderr.read()[-3000:]
            time.sleep(0.002)
    finally:
        store.close()


def disrupt_at_random(db: Path, campaign: subprocess.Popen, rows: int, rng, sig) -> None:
    """Send ``sig`` to ``campaign`` at a random point (by deliveries so far), between any
    two steps: the journal's intent and outcome included."""
    wait_for_deliveries(db, int(rng.uniform(0.02, 0.95) * rows), campaign)
    time.sleep(rng.uniform(0, 0.02))
    os.kill(campaign.pid, sig)


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def wait_until_lease_expired(url: str) -> None:
    """Until the lease of campaign "crash" has run out."""
    journal = Journal(url, read_only=True)
    try:
        while (until := journal.lease_until("crash")) is not None and until > datetime.now(UTC):
            time.sleep(0.1)
    finally:
        journal.close()


def check(url: str, log: pd.DataFrame, out: pd.DataFrame, **figures) -> dict:
    """The figures of a trial from the delivery ``log``, the journal at ``url`` and the
    final result ``out``; asserts the invariants."""
    journal = Journal(url)
    try:
        calls = journal.calls("crash")
    finally:
        journal.close()
    journaled = {n for numbers in calls["numbers"] for n in numbers.split(";")}
    times = log["phone"].value_counts()
    status = out["sms_status"].astype(str)
    sent = out.loc[status == "sent", "sms_phone"]
    result = figures | {
        "delivered": len(log),
        "duplicates": int((times > 1).sum()),
        "without_intent": len(set(times.index) - journaled),
        "unknown": int((status == "unknown").sum()),
        "sent_not_delivered": int((~sent.isin(times.index)).sum()),
        "other_status": int((~status.isin(["sent", "unknown"])).sum()),
    }
    assert result["duplicates"] == 0 and result["without_intent"] == 0, result
    assert result["sent_not_delivered"] == 0 and result["other_status"] == 0, result
    return result


def sigkill_trial(rows: int, rng: random.Random, directory: Path) -> dict:
    """Kill the campaign with SIGKILL, then run it again."""
    db, url = directory / "sim.sqlite", f"sqlite:///{directory}/journal.sqlite"
    with simulator_process(db, ACCOUNT, 10 * rows, latency_ms=5) as wsdl:
        campaign = start_campaign(wsdl, url, rows, Journal.lease_ttl)
        disrupt_at_random(db, campaign, rows, rng, signal.SIGKILL)
        campaign.wait()
        at_crash = len(delivered(db))
        out = send(wsdl, url, rows)
        result = check(url, delivered(db), out, delivered_at_disruption=at_crash)
    assert result["unknown"] <= WORKERS * CHUNK, result
    return result


def sigstop_trial(rows: int, rng: random.Random, directory: Path) -> dict:
    """Pause the campaign past its lease, a colleague finishes it with another chunk
    size, the paused one resumes and stops by itself; then a final re-run."""
    db, url = directory / "sim.sqlite", f"sqlite:///{directory}/journal.sqlite"
    with simulator_process(db, ACCOUNT, 10 * rows, latency_ms=5) as wsdl:
        campaign = start_campaign(wsdl, url, rows, PAUSED_LEASE_S)
        try:
            disrupt_at_random(db, campaign, rows, rng, signal.SIGSTOP)
            while not stopped(campaign.pid):
                assert campaign.poll() is None, "the campaign ended before its pause: more --rows"
                time.sleep(0.002)
            at_pause = len(delivered(db))
            wait_until_lease_expired(url)
            colleague = Journal(url, lock_timeout=COLLEAGUE_LOCK_TIMEOUT_S)
            try:
                send(wsdl, colleague, rows, COLLEAGUE_CHUNK)
                blocked = False
            except JournalError as error:  # the paused process holds the write lock
                assert "locked by another process" in str(error), error
                blocked = True
            finally:
                colleague.close()
            campaign.send_signal(signal.SIGCONT)
            output, errors = campaign.communicate(timeout=120)
        finally:
            if campaign.poll() is None:
                campaign.kill()
                campaign.wait()
        assert campaign.returncode == 0 and output.startswith("done"), errors[-3000:]
        out = send(wsdl, url, rows)
        return check(
            url,
            delivered(db),
            out,
            delivered_at_disruption=at_pause,
            colleague_blocked=blocked,
            paused_warned_lost_hold="lost its hold on 'crash'" in output,
        )


def journal_outage_trial(rows: int, rng: random.Random, directory: Path) -> dict:
    """Fill the journal's disk at a random point of the campaign; it stops cleanly with
    its partial result, and a re-run once the space is back completes it."""
    db, url = directory / "sim.sqlite", f"sqlite:///{directory}/journal.sqlite"
    headroom = rng.randint(1, max(1, rows * PAGES_PER_1000_ROWS // 1000 * 95 // 100))
    with simulator_process(db, ACCOUNT, 10 * rows, latency_ms=5) as wsdl:
        journal = Journal(url)
        with journal.engine.connect() as connection:
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

        def small_disk(dbapi_connection, _record) -> None:
            dbapi_connection.execute(f"PRAGMA max_page_count={pages + headroom}")

        sa.event.listen(journal.engine, "connect", small_disk)
        journal.engine.dispose()  # every connection from now on has the limit
        try:
            send(wsdl, journal, rows)
            raise AssertionError(f"no JournalError with {headroom} pages of headroom")
        except JournalError as error:
            assert "disk holding it is full" in str(error), error
            partial = error.result
        finally:
            with contextlib.suppress(JournalError):  # its last outcomes may not fit either
                journal.close()
        at_outage = delivered(db)
        status = partial["sms_status"].astype(str)
        was = partial["sms_phone"].isin(set(at_outage["phone"]))
        assert set(status) <= {"sent", "skipped"}, status.value_counts()
        assert was[status == "sent"].all() and not was[status == "skipped"].any()
        out = send(wsdl, url, rows)  # a fresh journal, without the limit
        return check(
            url,
            delivered(db),
            out,
            delivered_at_disruption=len(at_outage),
            headroom_pages=headroom,
            skipped_at_outage=int((status == "skipped").sum()),
        )


TRIALS = dict(zip(KINDS, (sigkill_trial, sigstop_trial, journal_outage_trial), strict=True))


def summary(kind: str, frame: pd.DataFrame, rows: int) -> str:
    line = (
        f"{kind}: {len(frame)} trials of {rows:,} rows, {WORKERS} workers, chunk {CHUNK}: "
        f"duplicates {frame['duplicates'].sum()}, calls without intent "
        f"{frame['without_intent'].sum()}, max unknown per trial {frame['unknown'].max()}, "
        f"mean delivered at the disruption {frame['delivered_at_disruption'].mean():,.0f}, "
        f"mean trial {frame['seconds'].mean():.1f} s"
    )
    if kind == "sigstop":
        line += (
            f"; colleague blocked by the paused process's lock in "
            f"{frame['colleague_blocked'].sum()}, paused process warned it lost its hold in "
            f"{frame['paused_warned_lost_hold'].sum()}"
        )
    return line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=[*KINDS, "all"], default="all")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    kinds, summaries = KINDS if args.kind == "all" else (args.kind,), []
    for kind in kinds:
        results = []
        for number in range(args.trials):
            rng = random.Random(f"{args.seed}:{kind}:{number}")
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                result = TRIALS[kind](args.rows, rng, Path(tmp))
            results.append(
                {"kind": kind, "trial": number, "seed": args.seed}
                | result
                | {"seconds": round(time.perf_counter() - started, 1)}
            )
            print(results[-1], flush=True)
        summaries.append(summary(kind, pd.DataFrame(results), args.rows))
        print(summaries[-1], flush=True)
    if len(kinds) > 1:
        print("\n" + "\n".join(summaries))


if __name__ == "__main__":
    main()
