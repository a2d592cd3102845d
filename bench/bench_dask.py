"""Benchmark: ``ddf.sms`` (smsframe.dask) on a Dask ``LocalCluster``, against ``df.sms``.

1. ``--part plan``: normalise and plan a Parquet dataset of messy numbers (``--rows``,
   default 50M, files of 1M rows written once to ``--data`` by ``_dask_data.messy`` and
   reused): ``dd.read_parquet(...).sms.plan("您好", chunk_size=1000)`` (the pass over
   the phone column that finds numbers repeated across partitions) then ``.summary()``
   (the plan's figures, on the workers), on ``LocalCluster(n_workers=2,
   threads_per_worker=1)``. Prints rows/s, rows/s per core, and the same per core for
   ``df.sms.plan(...).summary()`` on one 1M-row file (goal: Dask within 1.5x per core);
   the peak memory of the process tree (this process with the scheduler and the
   nannies in it, the workers; RSS summed every 0.2 s; goal <= 2 GiB); the rows
   rejected as duplicates of a number in an earlier partition.
2. ``--part send``: ``ddf.sms.send`` of ``--send-rows`` distinct mobiles (default 5M,
   Parquet files of up to 1M rows) to the simulator in its own process, durable SQLite
   journal, chunk 1000, 16 workers, latency 0, outcomes written to a folder: time,
   recipients/s, peak memory of the process tree (the simulator apart), journal bytes
   per recipient; then ``df.sms.send`` of the same numbers on a fresh simulator and
   journal (goal: Dask within 1.3x per recipient). ``--send-rounds``: rounds of both,
   in alternating order (the machine's load drifts), with the median ratio.
3. ``--part crash``: the Dask send in a subprocess (its own LocalCluster), SIGKILLed
   with its workers when about half the recipients are delivered, then run again to
   completion: numbers delivered twice (must be 0), delivered in all.

Workers are started under ``dask.config.set(smsframe.dask.WORKER_CONFIG)``, as the README
says; ``--worker-config dask`` starts them with Dask's defaults instead.

    python bench/bench_dask.py                                   # everything, full sizes
    python bench/bench_dask.py --rows 3000000 --send-rows 200000 # a smoke run
    python bench/bench_dask.py --part plan --rows 10000000
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dask
import dask.dataframe as dd
import distributed
import pandas as pd
import psutil
import pyarrow
from _dask_data import FILE_ROWS, distinct, messy
from distributed import Client, LocalCluster
from serve import simulator_process

import smsframe
import smsframe.dask  # registers ddf.sms
from smsframe import SmsClient

ACCOUNT = (101, "bench", "bench-pw")
CORES = 2
CHUNK, WORKERS = 1000, 16
MESSAGE = "您好"
GiB, MiB = 2**30, 2**20

CRASH_SEND = """
import sys, time
import dask.dataframe as dd
from distributed import Client, LocalCluster
import smsframe.dask
from smsframe import SmsClient
wsdl, journal, to, memory_limit, *files = sys.argv[1:]
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=memory_limit,
                      dashboard_address=":0") as cluster, Client(cluster):
        client = SmsClient(wsdl, 101, "bench", "bench-pw", pool_size=16)
        client.login()
        print("ready", flush=True)
        started = time.perf_counter()
        out = dd.read_parquet(files).sms.send(
            client, "crash", campaign="crash", journal=journal, chunk_size=1000,
            workers=16, progress=False, to=to)
        status = out["sms_status"].astype(str).map_partitions(
            lambda s: s.value_counts()).compute().groupby(level=0).sum().to_dict()
        print("done", round(time.perf_counter() - started, 1), status, flush=True)
"""


# -- memory of the process tree ------------------------------------------------------
class TreePeak:
    """The peak RSS summed over this process and its descendants (sampled every
    ``interval`` s in a thread), leaving out ``exclude``'s processes (the simulator:
    ``peak_all`` counts them too). The list of descendants is read again every
    ``refresh`` s (a restarted worker is seen then); ``cpu``: the sampler's own CPU
    seconds (part of this process's)."""

    def __init__(
        self, interval: float = 0.2, exclude: tuple[int, ...] = (), refresh: float = 1.0
    ) -> None:
        self.interval, self.refresh, self.exclude = interval, refresh, set(exclude)
        self.peak, self.peak_all, self.at_peak, self.samples, self.cpu = 0, 0, {}, 0, 0.0
        self.role_max: dict[str, int] = {}  # each role's own peak, whenever it came
        self._tree: dict[int, tuple[psutil.Process, str, bool]] = {}
        self._read_at = -math.inf
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tree-peak")

    def _read_tree(self) -> None:
        me = psutil.Process()
        skip: set[int] = set()
        for pid in self.exclude:
            with contextlib.suppress(psutil.Error):
                skip |= {pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))}
        tree = {}
        for process in [me, *me.children(recursive=True)]:
            known = self._tree.get(process.pid)
            if known is not None:
                tree[process.pid] = known
            else:
                name = "this process" if process.pid == me.pid else _role(process)
                tree[process.pid] = (process, name, process.pid in skip)
        self._tree, self._read_at = tree, time.monotonic()

    def sample(self) -> tuple[dict[str, int], int]:
        """RSS per role (``exclude`` left out), and the total with it."""
        if time.monotonic() - self._read_at >= self.refresh:
            self._read_tree()
        sizes: dict[str, int] = {}
        everything = 0
        for process, name, skipped in self._tree.values():
            with contextlib.suppress(psutil.Error):
                rss = process.memory_info().rss
                everything += rss
                if not skipped:
                    sizes[name] = sizes.get(name, 0) + rss
        return sizes, everything

    def _run(self) -> None:
        started = time.thread_time()
        while not self._stop.is_set():
            sizes, everything = self.sample()
            self.samples += 1
            self.peak_all = max(self.peak_all, everything)
            for name, size in sizes.items():
                self.role_max[name] = max(self.role_max.get(name, 0), size)
            if sum(sizes.values()) > self.peak:
                self.peak, self.at_peak = sum(sizes.values()), sizes
            self.cpu = time.thread_time() - started
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def describe(self) -> str:
        parts = ", ".join(f"{name} {size / MiB:,.0f}" for name, size in self.at_peak.items())
        own = ", ".join(f"{name} {size / MiB:,.0f}" for name, size in self.role_max.items())
        return (
            f"{self.peak / GiB:.2f} GiB ({self.peak / MiB:,.0f} MiB: {parts} MiB; each at its "
            f"own peak: {own} MiB)"
        )


def _role(process: psutil.Process) -> str:
    """What a descendant is: a Dask worker (the nannies and the scheduler of a
    LocalCluster run in this process; each worker in a spawned child), the simulator or
    a helper."""
    try:
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return "other"
    if "simulator serve" in cmdline:
        return "simulator"
    if "resource_tracker" in cmdline or "forkserver" in cmdline:
        return "helpers"
    if "multiprocessing" in cmdline and "spawn" in cmdline:
        return "workers"
    return "other"


def tree_cpu(exclude: tuple[int, ...] = ()) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) so far of this process and each descendant."""
    me = psutil.Process()
    cpu = {}
    for process in [me, *me.children(recursive=True)]:
        if process.pid in exclude:
            continue
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            name = "this process" if process.pid == me.pid else _role(process)
            cpu[process.pid] = (name, times.user + times.system)
    return cpu


def cpu_used(before: dict[int, tuple[str, float]], after: dict) -> dict[str, float]:
    """CPU seconds per role between two :func:`tree_cpu` snapshots."""
    used: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        used[name] = used.get(name, 0.0) + seconds - before.get(pid, (name, 0.0))[1]
    return used


def describe_cpu(used: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in used.items() if seconds > 0.05)
    return f"{sum(used.values()):.1f} CPU s ({parts})"


# -- the cluster -----------------------------------------------------------------------
@contextlib.contextmanager
def cluster(memory_limit: str):
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=memory_limit,
            dashboard_address=":0",
        ) as local,
        Client(local) as client,
    ):
        yield client


def header(args: argparse.Namespace) -> None:
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    commit = subprocess.run([*git, "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--short", "smsframe"], capture_output=True, text=True)
    print(f"smsframe at {commit.stdout.strip()[:100]}")
    if dirty.stdout.strip():
        print(f"uncommitted changes in smsframe/: {' '.join(dirty.stdout.split())}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; machine: {os.cpu_count()} cores")
    print(f"load (uptime): {subprocess.run(['uptime'], capture_output=True, text=True).stdout}")
    print(
        f"python {platform.python_version()}, smsframe {getattr(smsframe, '__version__', '?')}, "
        f"pandas {pd.__version__}, dask {dask.__version__}, distributed "
        f"{distributed.__version__}, pyarrow {pyarrow.__version__}, psutil {psutil.__version__}"
    )
    print(
        f"cluster: LocalCluster(n_workers=2, threads_per_worker=1, "
        f"memory_limit={args.memory_limit!r}); memory: RSS of the process tree every 0.2 s"
    )
    environ = dask.config.get("distributed.nanny.pre-spawn-environ")
    malloc = {k: v for k, v in environ.items() if k.startswith("MALLOC")}
    profile = dask.config.get("distributed.worker.profile.enabled")
    print(
        f"--worker-config {args.worker_config}: the workers' malloc settings {malloc}, "
        f"profiler {'on' if profile else 'off'}"
    )


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# -- 1. plan -------------------------------------------------------------------------
def plan_part(args: argparse.Namespace) -> None:
    files = max(1, args.rows // FILE_ROWS)
    rows = files * FILE_ROWS
    started = time.perf_counter()
    paths = messy(args.data, files, log=print)
    print(
        f"\n1. plan {rows:,} messy numbers ({files} Parquet files of {FILE_ROWS:,} in "
        f"{args.data}; ready in {time.perf_counter() - started:.0f} s), chunk {CHUNK}, "
        f"message {MESSAGE!r}; {load()}",
        flush=True,
    )
    with cluster(args.memory_limit) as client:
        workers = set(client.scheduler_info()["workers"])
        idle = sum(TreePeak().sample()[0].values())
        with TreePeak() as peak:
            cpu0 = tree_cpu()
            started = time.perf_counter()
            ddf = dd.read_parquet([str(p) for p in paths])
            plan = ddf.sms.plan(MESSAGE, chunk_size=CHUNK)
            planned = time.perf_counter()
            cpu1 = tree_cpu()
            summary = plan.summary()
            done = time.perf_counter()
            cpu2 = tree_cpu()
            rejected = plan.rejected()
        restarted = len(set(client.scheduler_info()["workers"]) - workers)
    elapsed = done - started
    rate = rows / elapsed
    dask_cpu = cpu_used(cpu0, cpu2)
    print(
        f"   dask: {elapsed:.1f} s = plan() {planned - started:.1f} s (the pass over the "
        f"phone column for duplicates across partitions) + summary() {done - planned:.1f} s "
        f"(normalise, render, plan, figures, on the workers)"
    )
    print(
        f"   dask CPU: plan() {describe_cpu(cpu_used(cpu0, cpu1))}; summary() "
        f"{describe_cpu(cpu_used(cpu1, cpu2))}"
    )
    print(f"   dask: {rate:,.0f} rows/s, {rate / CORES:,.0f} rows/s per core ({CORES} cores)")
    print(f"   summary: {summary.to_dict()}")
    print(f"   rejected: {rejected.to_dict()}")
    print(
        f"   cross-partition duplicates found: {plan.cross_duplicates:,} rows "
        f"({plan.cross_duplicates / rows:.2%} of rows; every duplicate: "
        f"{int(rejected.get('duplicate', 0)):,})"
    )
    print(
        f"   peak memory of the process tree: {peak.describe()}; idle cluster {idle / MiB:,.0f} "
        f"MiB; goal <= 2 GiB: {'met' if peak.peak <= 2 * GiB else 'NOT met'}; "
        f"{peak.samples} samples (the sampler: {peak.cpu:.1f} CPU s of this process's); "
        f"workers replaced (restarted) {restarted}",
        flush=True,
    )

    frame = pd.read_parquet(paths[0])
    times, cpus = [], []
    for _ in range(args.pandas_rounds):
        cpu = psutil.Process().cpu_times()
        started = time.perf_counter()
        one = frame.sms.plan(MESSAGE, chunk_size=CHUNK).summary()
        times.append(time.perf_counter() - started)
        after = psutil.Process().cpu_times()
        cpus.append(after.user + after.system - cpu.user - cpu.system)
    best = min(range(len(times)), key=times.__getitem__)
    pandas_rate = len(frame) / times[best]
    print(
        f"   pandas df.sms.plan().summary() on one file ({len(frame):,} rows, phone dtype "
        f"{frame['phone'].dtype}): {times[best]:.2f} s (best of {len(times)}: "
        f"{', '.join(f'{t:.2f}' for t in times)}), {cpus[best]:.2f} CPU s (normalize scans "
        f"in up to 2 threads) = {pandas_rate:,.0f} rows/s in one process"
    )
    print(f"   pandas summary of that file: {one.to_dict()}")
    ratio = pandas_rate / (rate / CORES)
    print(
        f"   per core (wall): pandas rows/s / (dask rows/s / {CORES}) = {ratio:.2f}x "
        f"(goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})"
    )
    dask_per_cpu = rows / (sum(dask_cpu.values()) - peak.cpu)
    pandas_per_cpu = len(frame) / cpus[best]
    print(
        f"   per CPU second: pandas {pandas_per_cpu:,.0f} rows, dask {dask_per_cpu:,.0f} rows "
        f"(whole tree, the sampler's CPU apart) = {pandas_per_cpu / dask_per_cpu:.2f}x; {load()}",
        flush=True,
    )


# -- 2. send -------------------------------------------------------------------------
@contextlib.contextmanager
def simulator(directory: Path, name: str):
    """The simulator in its own process: its WSDL URL, its database, its pid."""
    db = directory / f"{name}.sqlite"
    before = {p.pid for p in psutil.Process().children()}
    with simulator_process(db, ACCOUNT, 10**10, latency_ms=0) as wsdl:
        pid = next(p.pid for p in psutil.Process().children() if p.pid not in before)
        yield wsdl, db, pid


def sim_query(db: Path, sql: str) -> int:
    """One figure from the simulator's database, read alongside it."""
    import sqlite3

    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(connection.execute(sql).fetchone()[0] or 0)
    finally:
        connection.close()


DELIVERED = "SELECT sum(json_array_length(phones)) FROM calls"
DISTINCT = "SELECT count(DISTINCT n.value) FROM calls AS c, json_each(c.phones) AS n"
TWICE = (
    "SELECT count(*) FROM (SELECT n.value FROM calls AS c, json_each(c.phones) AS n "
    "GROUP BY n.value HAVING count(*) > 1)"
)


def statuses(out: dd.DataFrame) -> dict[str, int]:
    """The rows of ``out`` per status, counted partition by partition (no shuffle)."""
    counts = out["sms_status"].astype(str).map_partitions(lambda s: s.value_counts())
    return counts.compute().groupby(level=0).sum().to_dict()


def journal_bytes(directory: Path, name: str) -> int:
    return sum(p.stat().st_size for p in directory.glob(f"{name}.sqlite*"))


def send_part(args: argparse.Namespace) -> None:
    paths = distinct(args.data, args.send_rows, args.send_part_rows)
    n = args.send_rows
    print(
        f"\n2. send {n:,} distinct mobiles ({len(paths)} Parquet files of up to "
        f"{args.send_part_rows:,}), chunk {CHUNK}, {WORKERS} workers, latency 0, durable "
        f"SQLite journal, a fresh simulator (in its own process) and journal for each send, "
        f"{args.send_rounds} round(s), the order alternating; {load()}",
        flush=True,
    )
    ratios = []
    for number in range(args.send_rounds):
        sends = (send_dask, send_pandas) if number % 2 == 0 else (send_pandas, send_dask)
        times = {}
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            for send in sends:
                times[send] = send(args, paths, Path(tmp))
        ratios.append(times[send_dask] / times[send_pandas])
        print(
            f"   round {number + 1}: per recipient, dask / pandas = {ratios[-1]:.2f}x (goal <= "
            f"1.3x: {'met' if ratios[-1] <= 1.3 else 'NOT met'}); {load()}",
            flush=True,
        )
    if len(ratios) > 1:
        print(
            f"   dask / pandas: median {statistics.median(ratios):.2f}x "
            f"[{min(ratios):.2f}-{max(ratios):.2f}] over {len(ratios)} rounds"
        )


def send_dask(args: argparse.Namespace, paths: list[Path], directory: Path) -> float:
    n = args.send_rows
    with simulator(directory, "sim-dask") as (wsdl, db, sim_pid), cluster(args.memory_limit):
        client = SmsClient(wsdl, *ACCOUNT, pool_size=WORKERS)
        client.login()
        with TreePeak(exclude=(sim_pid,)) as peak:
            cpu0 = tree_cpu()
            started = time.perf_counter()
            out = dd.read_parquet([str(p) for p in paths]).sms.send(
                client,
                "bench",
                campaign="dask",
                journal=f"sqlite:///{directory / 'journal-dask.sqlite'}",
                chunk_size=CHUNK,
                workers=WORKERS,
                progress=False,
                to=directory / "out-dask",
            )
            elapsed = time.perf_counter() - started
            cpu = describe_cpu(cpu_used(cpu0, tree_cpu()))
        status = statuses(out)
        delivered = sim_query(db, DELIVERED)
    size = journal_bytes(directory, "journal-dask")
    print(
        f"   dask: {elapsed:.1f} s = {n / elapsed:,.0f} recipients/s "
        f"({elapsed / n * 1e6:.1f} µs a recipient); statuses {status}; "
        f"simulator delivered {delivered:,}"
    )
    print(
        f"   dask: peak memory of the process tree (simulator apart): {peak.describe()}; "
        f"with the simulator {peak.peak_all / GiB:.2f} GiB"
    )
    print(f"   dask: {cpu}")
    print(f"   dask: journal {size / MiB:,.1f} MiB = {size / n:.1f} bytes a recipient", flush=True)
    return elapsed


def send_pandas(args: argparse.Namespace, paths: list[Path], directory: Path) -> float:
    n = args.send_rows
    frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    with simulator(directory, "sim-pandas") as (wsdl, db, sim_pid):
        client = SmsClient(wsdl, *ACCOUNT, pool_size=WORKERS)
        client.login()
        with TreePeak(exclude=(sim_pid,)) as peak:
            cpu0 = tree_cpu()
            started = time.perf_counter()
            result = frame.sms.send(
                client,
                "bench",
                campaign="pandas",
                journal=f"sqlite:///{directory / 'journal-pandas.sqlite'}",
                chunk_size=CHUNK,
                workers=WORKERS,
                progress=False,
            )
            elapsed = time.perf_counter() - started
            cpu = describe_cpu(cpu_used(cpu0, tree_cpu()))
        status = result["sms_status"].astype(str).value_counts().to_dict()
        del result, frame
        delivered = sim_query(db, DELIVERED)
    size = journal_bytes(directory, "journal-pandas")
    print(
        f"   pandas: {elapsed:.1f} s = {n / elapsed:,.0f} recipients/s "
        f"({elapsed / n * 1e6:.1f} µs a recipient); statuses {status}; "
        f"simulator delivered {delivered:,}"
    )
    print(
        f"   pandas: peak memory of this process (its input frame included; simulator "
        f"apart): {peak.describe()}"
    )
    print(f"   pandas: {cpu}")
    print(
        f"   pandas: journal {size / MiB:,.1f} MiB = {size / n:.1f} bytes a recipient", flush=True
    )
    return elapsed


# -- 3. crash ------------------------------------------------------------------------
def crash_part(args: argparse.Namespace) -> None:
    paths = distinct(args.data, args.send_rows, args.send_part_rows)
    n = args.send_rows
    print(
        f"\n3. crash: the dask send of {n:,} in a subprocess (its own LocalCluster), "
        f"SIGKILLed with its workers at about {n // 2:,} delivered, then run again; {load()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        directory = Path(tmp)
        journal = f"sqlite:///{directory / 'journal.sqlite'}"
        with simulator(directory, "sim-crash") as (wsdl, db, _):
            command = [sys.executable, "-c", CRASH_SEND, wsdl, journal]

            def run(k: int) -> subprocess.Popen:
                return subprocess.Popen(
                    [*command, str(directory / f"out-{k}"), args.memory_limit, *map(str, paths)],
                    stdout=subprocess.PIPE,
                    stderr=(directory / f"stderr-{k}.txt").open("w"),
                    text=True,
                    cwd=Path(__file__).parent,
                )

            first = run(1)
            assert first.stdout.readline().strip() == "ready", _tail(directory / "stderr-1.txt")
            started = time.perf_counter()
            while (delivered := sim_query(db, DELIVERED)) < n // 2:
                if first.poll() is not None:
                    raise AssertionError(_tail(directory / "stderr-1.txt"))
                time.sleep(0.2)
            tree = psutil.Process(first.pid).children(recursive=True)
            os.kill(first.pid, signal.SIGKILL)
            for process in tree:  # the campaign's workers and nannies die with it
                with contextlib.suppress(psutil.Error):
                    process.kill()
            first.wait()
            psutil.wait_procs(tree, timeout=10)
            killed_after = time.perf_counter() - started
            time.sleep(1)
            at_kill = sim_query(db, DELIVERED)
            print(
                f"   killed {killed_after:.1f} s after it began (plan included), at {delivered:,} "
                f"delivered (polled); {at_kill:,} once dead ({len(tree)} descendants killed too)"
            )

            second = run(2)
            output, _ = second.communicate()
            assert second.returncode == 0, _tail(directory / "stderr-2.txt")
            print(f"   re-run: {output.strip().splitlines()[-1]}")
            total = sim_query(db, DELIVERED)
            twice = sim_query(db, TWICE)
            once = sim_query(db, DISTINCT)
        print(
            f"   delivered in all {total:,}; distinct numbers delivered {once:,} of {n:,}; "
            f"numbers delivered twice: {twice} (must be 0: {'ok' if twice == 0 else 'FAILED'})"
        )
        print(
            f"   never delivered: {n - once:,} (the re-run's 'unknown' rows are the calls whose "
            f"intent the killed run journaled but whose outcome it never recorded: not resent "
            f"without resend_unknown=True; some of them reached the simulator)",
            flush=True,
        )


def _tail(path: Path) -> str:
    return path.read_text()[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["plan", "send", "crash", "all"], default="all")
    parser.add_argument("--rows", type=int, default=50_000_000, help="rows to plan")
    parser.add_argument("--send-rows", type=int, default=5_000_000, help="recipients to send")
    parser.add_argument("--send-part-rows", type=int, default=1_000_000, help="a partition")
    parser.add_argument("--data", type=Path, default=Path("/tmp/smsframe-bench-dask"))
    parser.add_argument("--tmp", default=None, help="folder of the journals and simulators")
    parser.add_argument("--memory-limit", default="1GiB", help="of each Dask worker")
    parser.add_argument("--pandas-rounds", type=int, default=3, help="of the 1M-row plan")
    parser.add_argument("--send-rounds", type=int, default=1, help="dask+pandas sends, ABBA")
    parser.add_argument(
        "--worker-config",
        choices=["dask", "readme"],
        default="readme",
        help="the workers' settings: Dask's defaults, or the README's "
        "(dask.config.set(smsframe.dask.WORKER_CONFIG))",
    )
    args = parser.parse_args()
    if args.worker_config == "readme":
        dask.config.set(smsframe.dask.WORKER_CONFIG)
    args.send_part_rows = min(args.send_part_rows, max(1, -(-args.send_rows // 4)))
    header(args)
    if args.part in ("plan", "all"):
        plan_part(args)
    if args.part in ("send", "all"):
        send_part(args)
    if args.part in ("crash", "all"):
        crash_part(args)
    print(f"\nend {time.strftime('%H:%M:%S')}; {load()}")


if __name__ == "__main__":
    main()
