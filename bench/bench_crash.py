"""Crash-resume harness: campaigns killed with SIGKILL at seeded random moments, then
run again to completion, with the provider simulator in its own process.

Each trial asserts, from the simulator's delivery log: no number delivered twice;
every row delivered exactly once or reported ``unknown``; unknown rows at most
workers x chunk_size per crash. Prints per-trial figures and a summary.

    python bench/bench_crash.py [--trials 20] [--rows 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from serve import simulator_process

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.simulator.server import deliveries_frame
from smsframe.simulator.store import Store

ACCOUNT = (101, "crash", "crash-bench-pw")
WORKERS, CHUNK = 4, 100

CAMPAIGN = """
import sys, pandas as pd, smsframe
from smsframe import SmsClient
wsdl, journal, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
df = pd.DataFrame({"phone": [f"147{i:08d}" for i in range(rows)]})
client = SmsClient(wsdl, 101, "crash", "crash-bench-pw")
client.login()
print("ready", flush=True)
df.sms.send(client, message="crash", campaign="crash", journal=journal,
            workers=int(sys.argv[4]), chunk_size=int(sys.argv[5]), progress=False)
"""


def delivered(db: Path) -> pd.DataFrame:
    store = Store(db)
    try:
        return deliveries_frame(store)
    finally:
        store.close()


def trial(number: int, rows: int, rng: random.Random, directory: Path) -> dict:
    db, journal = directory / f"sim-{number}.sqlite", f"sqlite:///{directory}/j-{number}.sqlite"
    with simulator_process(db, ACCOUNT, 10 * rows, latency_ms=5) as wsdl:
        campaign = subprocess.Popen(
            [sys.executable, "-c", CAMPAIGN, wsdl, journal, str(rows), str(WORKERS), str(CHUNK)],
            stdout=subprocess.PIPE,
            text=True,
        )
        campaign.stdout.readline()
        # Kill at a random point of the campaign (by deliveries so far), between any two
        # steps: the journal's intent and outcome included.
        target = int(rng.uniform(0.02, 0.95) * rows)
        store = Store(db)
        try:
            while store.query("SELECT count(*) FROM deliveries")[1][0][0] < target:
                time.sleep(0.002)
        finally:
            store.close()
        time.sleep(rng.uniform(0, 0.02))
        os.kill(campaign.pid, signal.SIGKILL)
        campaign.wait()
        at_crash = len(delivered(db))
        client = SmsClient(wsdl, *ACCOUNT)
        df = pd.DataFrame({"phone": [f"147{i:08d}" for i in range(rows)]})
        out = df.sms.send(
            client,
            message="crash",
            campaign="crash",
            journal=journal,
            workers=WORKERS,
            chunk_size=CHUNK,
            progress=False,
        )
    log = delivered(db)
    times = log["phone"].value_counts()
    status = out["sms_status"].astype(str)
    unknown = int((status == "unknown").sum())
    sent_not_delivered = int((~out.loc[status == "sent", "sms_phone"].isin(times.index)).sum())
    result = {
        "trial": number,
        "delivered_at_crash": at_crash,
        "delivered": len(log),
        "duplicates": int((times > 1).sum()),
        "unknown": unknown,
        "sent_not_delivered": sent_not_delivered,
        "other_status": int((~status.isin(["sent", "unknown"])).sum()),
    }
    assert result["duplicates"] == 0, result
    assert sent_not_delivered == 0 and result["other_status"] == 0, result
    assert unknown <= WORKERS * CHUNK, result
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.trials):
            results.append(trial(number, args.rows, rng, Path(tmp)))
            print(results[-1], flush=True)
    frame = pd.DataFrame(results)
    print(
        f"\n{args.trials} trials of {args.rows:,} rows, {WORKERS} workers, chunk {CHUNK}: "
        f"duplicates {frame['duplicates'].sum()}, max unknown per crash "
        f"{frame['unknown'].max()} (bound {WORKERS * CHUNK}), mean delivered at crash "
        f"{frame['delivered_at_crash'].mean():,.0f}"
    )


if __name__ == "__main__":
    main()
