"""Campaign throughput and memory, side by side in one run.

1. The matrix: ``df.sms.send`` (journal on and durable) vs a hand-written concurrent
   zeep loop with the same chunks and workers (goal: <= 1.05x its time in every cell),
   for latency 0 and 50 ms, chunk 100 and 1000, 4 and 16 workers, 10k, 100k and 500k
   recipients. Each cell alternates the two in ABBA order for ``--rounds`` rounds, so
   that drift of a shared machine or of the simulator's growing store hits both alike;
   the figure is the median ratio, with its spread.
2. With ``latency_ms=50``: throughput for 1, 2, 4, 8 workers (target: >= 0.8 x workers).
3. Peak memory of a 1M-row plan vs the input frame (target: <= 3x).
4. A naive one-number-per-call loop (target: smsframe >= 50x faster, rate measured on a
   sample).

The simulator runs in its own process (``smsframe simulator serve``), as a provider would.

    python bench/bench_campaign.py                       # everything (about 15 minutes)
    python bench/bench_campaign.py --parts 1 --latency 50 --chunk 1000 --rows 10000
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import requests
import zeep
from _memory import Peak, peak_bytes
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


def smsframe_send(
    wsdl: str, numbers: list[str], directory: Path, workers: int = WORKERS, chunk: int = CHUNK
) -> float:
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
        chunk_size=chunk,
        progress=False,
    )
    elapsed = time.perf_counter() - started
    assert (out["sms_status"] == "sent").all(), out["sms_status"].value_counts()
    return elapsed


def zeep_loop(wsdl: str, numbers: list[str], workers: int = WORKERS, chunk: int = CHUNK) -> float:
    session = requests.Session()  # a connection per worker, as SmsClient keeps
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=max(workers, 4)))
    service = zeep.Client(wsdl, transport=zeep.Transport(session=session)).service
    chunks = [numbers[i : i + chunk] for i in range(0, len(numbers), chunk)]
    stamp = int(time.time())

    def call(chunk):
        state = service.SendMessage(*ACCOUNT, "bench-zeep", ";".join(chunk), stamp)
        assert state.State == 1

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
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


def plan_peak(df: pd.DataFrame) -> tuple[int, Peak]:
    """The input's size, and the peak of Python's and of Arrow's memory (bench/_memory.py)
    while a plan is made and summarised."""

    def planned():
        plan = df.sms.plan(message="双十一优惠，回T退订")
        assert plan.summary()["recipients"] > 0  # what a user looks at: its calls made too
        return plan  # held while measured: what the plan itself keeps

    return int(df.memory_usage(deep=True).sum()), peak_bytes(planned)[1]


def cell(wsdl: str, rows: int, chunk: int, workers: int, rounds: int, directory: Path, fresh):
    """Median time of ``df.sms.send`` and of the zeep loop on one cell, ABBA rounds."""

    def ours() -> float:
        numbers = phones(rows, start=next(fresh) * 10**6)
        return smsframe_send(wsdl, numbers, directory, workers, chunk)

    def bare() -> float:
        return zeep_loop(wsdl, phones(rows, start=next(fresh) * 10**6), workers, chunk)

    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for round_ in range(rounds):
        order = ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours")
        for name in order:
            times[name].append({"ours": ours, "bare": bare}[name]())
    return times


def matrix(args: argparse.Namespace, directory: Path) -> None:
    print(
        "1. send vs a hand-written concurrent zeep loop (same chunks, same workers; journal "
        f"on and durable), {args.rounds} ABBA rounds per cell, median ratio [min-max]"
    )
    print(
        f"   {'latency':>7} {'chunk':>5} {'workers':>7} {'rows':>7}  "
        f"{'smsframe':>9} {'zeep loop':>9}  ratio"
    )
    fresh = itertools.count(1)
    for latency in args.latency:
        with simulator(directory, f"matrix-{latency}", latency) as wsdl:
            smsframe_send(wsdl, phones(2_000, start=next(fresh) * 10**6), directory)  # warm-up
            zeep_loop(wsdl, phones(2_000, start=next(fresh) * 10**6))
            for chunk, workers, rows in itertools.product(args.chunk, args.workers, args.rows):
                times = cell(wsdl, rows, chunk, workers, args.rounds, directory, fresh)
                ratios = [a / b for a, b in zip(times["ours"], times["bare"], strict=True)]
                ours, bare = statistics.median(times["ours"]), statistics.median(times["bare"])
                print(
                    f"   {latency:>5}ms {chunk:>5} {workers:>7} {rows:>7,}  "
                    f"{ours:8.2f}s {bare:8.2f}s  "
                    f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]",
                    flush=True,
                )


def naive(args: argparse.Namespace, directory: Path) -> None:
    with simulator(directory, "naive") as wsdl:
        fresh = itertools.count(1)
        ours = smsframe_send(wsdl, phones(args.naive_rows, start=next(fresh) * 10**7), directory)
        naive = naive_loop(wsdl, phones(args.naive, start=next(fresh) * 10**7))
    rate, ours_rate = args.naive / naive, args.naive_rows / ours
    print(
        f"4. naive one-number-per-call loop: {rate:,.0f} recipients/s (on {args.naive:,} "
        f"numbers); smsframe {ours_rate:,.0f}/s = {ours_rate / rate:.0f}x "
        "(target >= 50x)"
    )


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
            f"peak {peak.sampled / 2**20:.0f} MiB = {peak.sampled / size:.2f}x sampled, "
            f"at most {peak.bound / 2**20:.0f} MiB = {peak.bound / size:.2f}x (Python "
            f"{peak.python / 2**20:.0f} + Arrow {peak.arrow / 2**20:.0f}; target <= 3x); "
            f"the plan holds {peak.held / 2**20:.0f} MiB = {peak.held / size:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = {"type": int, "nargs": "+"}
    parser.add_argument("--latency", **ints, default=[0, 50], help="ms per call")
    parser.add_argument("--chunk", **ints, default=[100, 1000])
    parser.add_argument("--workers", **ints, default=[4, 16])
    parser.add_argument("--rows", **ints, default=[10_000, 100_000, 500_000])
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds per cell")
    parser.add_argument("--naive", type=int, default=2_000, help="numbers for the naive loop")
    parser.add_argument("--naive-rows", type=int, default=100_000, help="smsframe's side of it")
    parser.add_argument("--plan-rows", type=int, default=1_000_000)
    parser.add_argument("--parts", default="1234", help="which parts to run, e.g. 1 or 13")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if "1" in args.parts:
            matrix(args, Path(tmp))
        if "2" in args.parts:
            scaling(Path(tmp))
        if "4" in args.parts:
            naive(args, Path(tmp))
    if "3" in args.parts:
        plan_memory(args)


if __name__ == "__main__":
    main()
