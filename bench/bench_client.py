"""Calls per second of ``SmsClient.send`` next to a bare zeep loop, same simulator, same run.

Both loops call SendMessage with the same arguments on the same simulator. Rounds
alternate, in ABBA order (client, zeep, zeep, client, ...), so that drift of the
machine or of the simulator's growing delivery log hits both alike. The figure that
matters is the median, over rounds, of the extra time per call the client takes
over bare zeep; the target is under 10 %.

The simulator runs twice: in a thread of this process (as the tests run it; its
work shares the interpreter with the client's, which dilutes the ratio) and in a
separate process (the client's own cost stands out; CPU per call is the client's
alone).

Run::

    python bench/bench_client.py                    # 12 rounds of 200 calls, both places
    python bench/bench_client.py --rounds 20 --calls 300 --where process
    python bench/bench_client.py --profile          # and cProfile the client loop
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import zeep

from smsframe.client import SmsClient
from smsframe.simulator import Simulator

ACCOUNT = (101, "bench", "bench-password")
MESSAGE = "您好，这是一条基准测试短信。"
PHONE = "13800138000"
TIMESTAMP = 1_764_000_000
BALANCE = 10_000_000

SERVE = f"""
import sys
from smsframe.simulator import Simulator
with Simulator() as sim:
    sim.add_account(*{ACCOUNT!r}, balance={BALANCE})
    print(sim.wsdl_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""


@contextmanager
def simulator(where: str) -> Iterator[str]:
    """The WSDL URL of a simulator running in a thread here or in another process."""
    if where == "thread":
        with Simulator() as sim:
            sim.add_account(*ACCOUNT, balance=BALANCE)
            yield sim.wsdl_url
        return
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield child.stdout.readline().strip()
    finally:
        child.stdin.close()
        child.wait(10)


def client_loop(client: SmsClient, calls: int) -> None:
    for _ in range(calls):
        result = client.send(MESSAGE, [PHONE], timestamp=TIMESTAMP)
        assert result.state == 1, result


def zeep_loop(service, calls: int) -> None:
    id_, name, password = ACCOUNT
    for _ in range(calls):
        answer = service.SendMessage(id_, name, password, MESSAGE, PHONE, TIMESTAMP)
        assert answer.State == 1, answer


def timed(loop: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one loop."""
    wall, cpu = time.perf_counter(), time.process_time()
    loop()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(where: str, rounds: int, calls: int, profile: bool) -> float:
    with simulator(where) as url:
        client = SmsClient(url, *ACCOUNT)
        service = zeep.Client(url).service
        ours = lambda: client_loop(client, calls)  # noqa: E731
        bare = lambda: zeep_loop(service, calls)  # noqa: E731
        client_loop(client, 100)  # warm up: WSDL parsed, connections open, caches filled
        zeep_loop(service, 100)

        rows = []
        for i in range(rounds):
            if i % 2 == 0:
                a, b = timed(ours), timed(bare)
            else:
                b, a = timed(bare), timed(ours)
            rows.append((a, b))

        print(f"\nSendMessage, simulator in a {where}: {rounds} rounds x {calls} calls each")
        print(f"{'round':>6} {'SmsClient.send':>15} {'bare zeep':>11} {'overhead':>9}")
        for i, ((a, _), (b, _)) in enumerate(rows, 1):
            print(f"{i:>6} {calls / a:>11.0f} c/s {calls / b:>7.0f} c/s {a / b - 1:>+9.1%}")
        ours_rate = statistics.median(calls / a for (a, _), _ in rows)
        bare_rate = statistics.median(calls / b for _, (b, _) in rows)
        overhead = statistics.median(a / b - 1 for (a, _), (b, _) in rows)
        print(f"{'median':>6} {ours_rate:>11.0f} c/s {bare_rate:>7.0f} c/s {overhead:>+9.1%}")
        if where == "process":  # this process's CPU is the client's alone
            cpu_ours = statistics.median(ca for (_, ca), _ in rows) / calls * 1e6
            cpu_bare = statistics.median(cb for _, (_, cb) in rows) / calls * 1e6
            print(
                f"client-side CPU per call: SmsClient {cpu_ours:.0f} us, bare zeep "
                f"{cpu_bare:.0f} us ({cpu_ours / cpu_bare - 1:+.1%})"
            )
        verdict = "OK" if overhead < 0.10 else "OVER TARGET"
        print(f"the client adds {overhead:+.1%} per call over bare zeep (target < 10 %): {verdict}")

        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(ours)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())
    return overhead


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="rounds of each loop")
    parser.add_argument("--calls", type=int, default=200, help="calls per round")
    parser.add_argument("--where", choices=["thread", "process", "both"], default="both")
    parser.add_argument("--profile", action="store_true", help="cProfile the client loop")
    args = parser.parse_args(argv)
    places = ["thread", "process"] if args.where == "both" else [args.where]
    for where in places:
        run(where, args.rounds, args.calls, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
