"""A campaign killed with SIGKILL at a random moment, then run again: no number is
delivered twice, and every row is either delivered exactly once or ``unknown``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "crash-pw")
ROWS, WORKERS, CHUNK = 5000, 4, 100

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


def contacts() -> pd.DataFrame:
    return pd.DataFrame({"phone": [f"137{i:08d}" for i in range(ROWS)]})


@pytest.mark.parametrize(
    ("mode", "seed"), [("send", seed) for seed in range(5)] + [("schedule", 5), ("schedule", 6)]
)
def test_sigkill_then_rerun_never_delivers_twice(tmp_path, mode, seed):
    rng = random.Random(seed)
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    with Simulator(latency_ms=10) as sim:
        sim.add_account(*ACCOUNT, balance=10 * ROWS)
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CAMPAIGN,
                sim.wsdl_url,
                url,
                *map(str, (ROWS, WORKERS, CHUNK)),
                mode,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip() == "ready"
        # Kill it once some calls were made, at a random moment within the campaign.
        deadline = time.monotonic() + 20
        operation = "SendTimer" if mode == "schedule" else "SendMessage"
        while sim.requests[operation] < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.1))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        delivered_at_crash = len(sim.deliveries())
        assert 0 < delivered_at_crash < ROWS, "the kill should land mid-campaign"

        client = SmsClient(sim.wsdl_url, *ACCOUNT)
        options = dict(message="闪购", campaign="crash", journal=url, progress=False)
        if mode == "schedule":
            out = contacts().sms.schedule(client, at="2031-01-01 09:00", **options)
        else:
            out = contacts().sms.send(client, **options)
        deliveries = sim.deliveries()

    times = deliveries["phone"].value_counts()
    assert times.max() == 1, "a number was delivered twice"
    delivered = out["sms_phone"].isin(times.index)
    status = out["sms_status"]
    done = "scheduled" if mode == "schedule" else "sent"
    assert set(status.unique()) <= {done, "unknown"}
    assert delivered[status == done].all()
    unknown = int((status == "unknown").sum())
    assert unknown <= WORKERS * CHUNK  # at most the calls in flight at the crash
    # The journal agrees with the frame, from another connection.
    recorded = Journal(url).campaign("crash").set_index("phone")["status"]
    assert recorded.loc[out["sms_phone"]].tolist() == status.astype(str).tolist()
