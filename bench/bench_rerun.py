"""Re-runs and audits of a finished campaign, in one run.

A campaign of ``--rows`` recipients is sent once (chunk 100, 4 workers, simulator in
its own process); then, ``--repeat`` times each, with the median and the spread:

- the re-run of the finished campaign (sends nothing; goal <= 0.5 s at 500k);
- ``out.sms.audit()`` of its result (goal <= 0.5 s at 500k);
- ``smsframe.audit(journal, name)`` from the journal alone.

    python bench/bench_rerun.py [--rows 500000] [--repeat 5] [--profile rerun|audit]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from serve import simulator_process

import smsframe
from smsframe import SmsClient

ACCOUNT = (101, "bench", "bench-pw")


def timed(call, repeat: int) -> tuple[float, float, float, float]:
    """Median, min and max wall time, and median CPU time of this process (steadier
    than wall time on a shared machine)."""
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(times), min(times), max(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", choices=["rerun", "audit", "journal-audit"])
    parser.add_argument("--sort", default="cumulative", help="profile order, e.g. tottime")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with simulator_process(directory / "sim.sqlite", ACCOUNT, 10**9, 0) as wsdl:
            client = SmsClient(wsdl, *ACCOUNT, pool_size=4)
            journal = f"sqlite:///{directory / 'journal.sqlite'}"
            df = pd.DataFrame({"phone": [f"15{i:09d}" for i in range(args.rows)]})
            options = dict(campaign="rerun", journal=journal, workers=4, chunk_size=100)
            started = time.perf_counter()
            out = df.sms.send(client, "bench", progress=False, **options)
            print(f"{args.rows:,} recipients sent in {time.perf_counter() - started:.1f} s")
            calls = {
                "rerun": lambda: df.sms.send(client, "bench", progress=False, **options),
                "audit": lambda: out.sms.audit(),
                "journal-audit": lambda: smsframe.audit(journal, "rerun"),
            }
            if args.profile:
                profile = cProfile.Profile()
                profile.runcall(calls[args.profile])
                pstats.Stats(profile).sort_stats(args.sort).print_stats(30)
                return
            for name, call in calls.items():
                median, low, high, cpu = timed(call, args.repeat)
                print(
                    f"{name:14} median {median:.2f} s  (min {low:.2f}, max {high:.2f}); "
                    f"CPU {cpu:.2f} s"
                )


if __name__ == "__main__":
    main()
