"""One crash-and-rerun trial, shared by the SQLite and the PostgreSQL crash tests: a
campaign in a subprocess killed with SIGKILL at a random moment, then run again; no
number is delivered twice, and every row is delivered exactly once or ``unknown``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "crash-pw")

CAMPAIGN = textwrap.dedent(
    """
    import sys
    import pandas as pd
    import smsframe
    from smsframe import SmsClient

    wsdl, journal, rows, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[6]
    df = pd.DataFrame({"phone": [f"137{i:08d}" for i in range(rows)]})
    client = SmsClient(wsdl, 101, "demo", "crash-pw")
    print("ready", flush=True)
    options = dict(message="闪购", campaign="crash", journal=journal,
                   workers=int(sys.argv[4]), chunk_size=int(sys.argv[5]), progress=False)
    if mode == "schedule":
        df.sms.schedule(client, at="2031-01-01 09:00", **options)
    else:
        df.sms.send(client, **options)
    print("done", flush=True)
    """
)


def run(frame: pd.DataFrame, client: SmsClient, url: str, mode: str) -> pd.DataFrame:
    options = dict(message="闪购", campaign="crash", journal=url, progress=False)
    if mode == "schedule":
        return frame.sms.schedule(client, at="2031-01-01 09:00", **options)
    return frame.sms.send(client, **options)


def crash_and_rerun(
    url: str, mode: str, seed: int, *, rows: int, workers: int, chunk: int, latency_ms: int
) -> None:
    rng = random.Random(seed)
    operation = "SendTimer" if mode == "schedule" else "SendMessage"
    with Simulator(latency_ms=latency_ms) as sim:
        sim.add_account(*ACCOUNT, balance=10 * rows)
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CAMPAIGN,
                sim.wsdl_url,
                url,
                *map(str, (rows, workers, chunk)),
                mode,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout.readline().strip() == "ready"
            # Kill it once some calls were made, at a random moment within the campaign.
            deadline = time.monotonic() + 30
            while sim.requests[operation] < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.1))
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        delivered_at_crash = len(sim.deliveries())
        assert 0 < delivered_at_crash < rows, "the kill should land mid-campaign"

        # The rerun takes over the dead process's lease at once (same machine, pid gone).
        frame = pd.DataFrame({"phone": [f"137{i:08d}" for i in range(rows)]})
        out = run(frame, SmsClient(sim.wsdl_url, *ACCOUNT), url, mode)
        deliveries = sim.deliveries()

    times = deliveries["phone"].value_counts()
    assert times.max() == 1, "a number was delivered twice"
    status = out["sms_status"]
    done = "scheduled" if mode == "schedule" else "sent"
    assert set(status.unique()) <= {done, "unknown"}
    assert out["sms_phone"][status == done].isin(times.index).all()
    assert int((status == "unknown").sum()) <= workers * chunk  # the calls in flight
    # The journal agrees with the frame, from another connection.
    journal = Journal(url)
    recorded = journal.campaign("crash").set_index("phone")["status"]
    assert recorded.loc[out["sms_phone"]].tolist() == status.astype(str).tolist()
    journal.close()
