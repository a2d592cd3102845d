"""Campaign throughput and memory, side by side in one run.

1. 100k recipients: ``df.sms.send`` (journal on) vs a hand-written concurrent zeep
   loop with the same chunk size and workers (target: <= 1.3x its time) and a naive
   one-number-per-call loop (target: smsframe >= 50x faster, rate measured on a sample).
   Both contenders first run once on 2,000 numbers (imports, first connections), then
   alternate in ABBA order for ``--rounds`` rounds so that drift of a shared machine or
   of the simulator's growing store hits both alike; the figure is the median ratio.
2. With ``latency_ms=50``: throughput for 1, 2, 4, 8 workers (target: >= 0.8 x workers).
3. Peak memory of a 1M-row plan vs the input frame (target: <= 3x).

The simulator runs in its own process (``smsframe simulator serve``), as a provider would.

    python bench/bench_campaign.py [--rows 100000] [--rounds 4] [--parts 123]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import zeep
from serve import simulator_process

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.sample import contacts

ACCOUNT = (101, "bench", "bench-pw")
WORKERS, CHUNK = 4, 100
SCALING_ROWS = 40_000


def simulator(directory: Path, name: str, latency_ms: int = 0):
    return simulator_process(directory / f"{name}.sqlite", ACCOUNT, 10**9, latency_ms)


def phones(n: int, start: int = 0) -> list[str]:
    return [f"15{i:09d}" for i in range(start, start + n)]


def smsframe_send(wsdl: str, numbers: list[str], directory: Path, workers: int = WORKERS) -> float:
    df = pd.DataFrame({"phone": numbers})
    client = SmsClient(wsdl, *ACCOUNT, pool_size=max(workers, 4))
    client.login()
    started = time.perf_counter()
    out = df.sms.send(
        client,
        message="bench",
        campaign=f"bench-{time.time_ns()}",
        journal=f"sqlite:///{directory / 'journal.sqlite'}",
        workers=workers,
        chunk_size=CHUNK,
        progress=False,
    )
    elapsed = time.perf_counter() - started
    assert (out["sms_status"] == "sent").all(), out["sms_status"].value_counts()
    return elapsed


def zeep_loop(wsdl: str, numbers: list[str]) -> float:
    service = zeep.Client(wsdl).service
    chunks = [numbers[i : i + CHUNK] for i in range(0, len(numbers), CHUNK)]
    stamp = int(time.time())

    def call(chunk):
        state = service.SendMessage(*ACCOUNT, "bench-zeep", ";".join(chunk), stamp)
        assert state.State == 1

    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(call, chunks))
    return time.perf_counter() - started


def naive_loop(wsdl: str, numbers: list[str]) -> float:
    service = zeep.Client(wsdl).service
    started = time.perf_counter()
    for number in numbers:
        assert service.SendMessage(*ACCOUNT, "bench-naive", number, int(time.time())).State == 1
    return time.perf_counter() - started


def contact_frame(rows: int) -> pd.DataFrame:
    """A contact list like data/contacts.csv, ``rows`` long, with distinct mobiles."""
    sample = contacts()
    df = sample.iloc[[i % len(sample) for i in range(rows)]].reset_index(drop=True)
    df["phone"] = [f"138 {i % 10000:04d} {i // 10000:04d}" for i in range(rows)]
    return df


def plan_peak(df: pd.DataFrame) -> tuple[int, int]:
    size = int(df.memory_usage(deep=True).sum())
    tracemalloc.start()
    plan = df.sms.plan(message="双十一优惠，回T退订")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert plan.summary()["recipients"] > 0
    return size, peak


def throughput(args: argparse.Namespace, directory: Path) -> None:
    print(f"1. {args.rows:,} recipients, {WORKERS} workers, chunk {CHUNK}")
    with simulator(directory, "throughput") as wsdl:
        fresh = itertools.count(1)

        def ours(rows: int) -> float:
            return smsframe_send(wsdl, phones(rows, start=next(fresh) * 10**7), directory)

        def bare(rows: int) -> float:
            return zeep_loop(wsdl, phones(rows, start=next(fresh) * 10**7))

        ours(2_000), bare(2_000)  # warm-up
        times: dict[str, list[float]] = {"ours": [], "bare": []}
        for round_ in range(args.rounds):
            order = ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours")
            for name in order:
                times[name].append({"ours": ours, "bare": bare}[name](args.rows))
        naive = naive_loop(wsdl, phones(args.naive, start=next(fresh) * 10**7))
    naive_rate = args.naive / naive
    ratios = [a / b for a, b in zip(times["ours"], times["bare"], strict=True)]
    ours_s, bare_s = statistics.median(times["ours"]), statistics.median(times["bare"])
    print(
        f"   smsframe send (journal on): {ours_s:7.2f} s  {args.rows / ours_s:9,.0f} "
        f"recipients/s (median of {args.rounds})"
    )
    print(
        f"   hand-written zeep loop:     {bare_s:7.2f} s  {args.rows / bare_s:9,.0f} recipients/s"
    )
    print(
        f"   naive one-per-call loop:    {naive_rate:9,.0f} recipients/s "
        f"(on {args.naive:,} numbers)"
    )
    print(
        f"   time vs zeep loop: {statistics.median(ratios):.2f}x median, rounds "
        f"{' '.join(f'{r:.2f}' for r in ratios)} (target <= 1.3x)"
    )
    print(f"   speed vs naive:    {args.rows / ours_s / naive_rate:.0f}x (target >= 50x)")


def scaling(directory: Path) -> None:
    print(
        f"2. latency 50 ms per call: recipients/s by workers ({SCALING_ROWS:,} recipients; "
        "a campaign's 3 pre-flight and closing calls included)"
    )
    with simulator(directory, "latency", latency_ms=50) as wsdl:
        rates = {}
        for workers in (1, 2, 4, 8):
            numbers = phones(SCALING_ROWS, start=10_000_000 * workers)
            rates[workers] = SCALING_ROWS / smsframe_send(wsdl, numbers, directory, workers)
        bare = SCALING_ROWS / zeep_loop(wsdl, phones(SCALING_ROWS, start=90_000_000))
    for workers, rate in rates.items():
        print(
            f"   {workers} workers: {rate:8,.0f} recipients/s  "
            f"scaling {rate / rates[1]:.2f} (target >= {0.8 * workers:.1f})"
        )
    print(
        f"   hand-written zeep loop, {WORKERS} workers: {bare:8,.0f} recipients/s: smsframe "
        f"takes {bare / rates[WORKERS]:.2f}x its time at this latency"
    )


def plan_memory(args: argparse.Namespace) -> None:
    contact_list = contact_frame(args.plan_rows)
    for name, df in (
        ("contact list", contact_list),
        ("phone column only", contact_list[["phone"]]),
    ):
        size, peak = plan_peak(df)
        print(
            f"3. plan of {args.plan_rows:,} rows, {name}: input {size / 2**20:.0f} MiB, "
            f"peak {peak / 2**20:.0f} MiB = {peak / size:.2f}x (target <= 3x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=2_000, help="numbers for the naive loop")
    parser.add_argument("--rounds", type=int, default=4, help="ABBA rounds of part 1")
    parser.add_argument("--plan-rows", type=int, default=1_000_000)
    parser.add_argument("--parts", default="123", help="which parts to run, e.g. 1 or 13")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if "1" in args.parts:
            throughput(args, Path(tmp))
        if "2" in args.parts:
            scaling(Path(tmp))
    if "3" in args.parts:
        plan_memory(args)


if __name__ == "__main__":
    main()
