"""SendMessage calls per second the provider simulator serves, at chunk 100.

The simulator runs in a process of its own on a file database, as a provider would
(``bench/serve.py``). The load generator costs it nothing extra: a few processes,
each driving its share of keep-alive connections with pre-serialised SOAP bodies
(the XML zeep sends, 100 distinct numbers a call) and reading the answers with
no parser but a search for ``<State>1</State>``. Each round runs ``--seconds``;
the figure is the median over rounds. Afterwards the delivery log must hold
exactly 100 rows per call answered. A zeep-driven figure (``zeep.Client``,
``ThreadPoolExecutor``) is given for reference.

Several sources (``--source NAME=DIR``, e.g. a worktree of an older commit) are
measured side by side in one run, rounds in ABBA order, each with its own simulator.

Run::

    python bench/bench_simulator.py                              # this checkout
    python bench/bench_simulator.py --source old=/tmp/simold --source new=.
    python bench/bench_simulator.py --profile 16                 # cProfile the server
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import selectors
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

ACCOUNT = (101, "bench", "bench-password")
MESSAGE = "您好，这是一条基准测试短信。"
TIMESTAMP = 1_764_000_000
BALANCE = 2_000_000_000
CHUNK = 100
BODIES = 50  # distinct calls each load process cycles through
ACCEPTED = b"<State>1</State>"

PROFILE = """
import cProfile, pstats, signal, sys, threading
from smsframe.simulator import Simulator
sim = Simulator(sys.argv[1])
sim.add_account(*{account!r}, balance={balance})
profiler = cProfile.Profile()
run = threading.Thread.run
def profiled(self):
    if self.name == "smsframe-simulator":
        profiler.runcall(run, self)
    else:
        run(self)
threading.Thread.run = profiled
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with sim:
    print(sim.wsdl_url, flush=True)
    stop.wait()
pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
"""


def phones(seed: int) -> str:
    """CHUNK distinct mainland mobile numbers."""
    return ";".join(f"138{seed * CHUNK + i:08d}" for i in range(CHUNK))


def request(client, url: str, seed: int) -> bytes:
    """A whole HTTP request of SendMessage, as ``client`` (zeep) serialises it."""
    from lxml import etree

    envelope = client.create_message(
        client.service, "SendMessage", *ACCOUNT, MESSAGE, phones(seed), TIMESTAMP
    )
    body = etree.tostring(envelope, encoding="utf-8", xml_declaration=True)
    parts = urlsplit(url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        'Content-Type: text/xml; charset=utf-8\r\nSOAPAction: "http://tempuri.org/SendMessage"\r\n'
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def load(url: str, bodies: list[bytes], connections: int, seconds: float, out) -> None:
    """Keep ``connections`` calls in flight until ``seconds`` pass; send back the count."""
    host, port = urlsplit(url).netloc.split(":")
    selector = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytearray] = {}
    sent = 0
    for _ in range(connections):
        conn = socket.create_connection((host, int(port)))
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(bodies[sent % len(bodies)])
        sent += 1
        buffers[conn] = bytearray()
        selector.register(conn, selectors.EVENT_READ)
    done, failed, deadline = 0, 0, time.perf_counter() + seconds
    while buffers:
        for key, _ in selector.select():
            conn = key.fileobj
            data = conn.recv(65536)
            if not data:
                raise ConnectionError("the simulator closed a connection")
            buffer = buffers[conn]
            buffer += data
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                continue
            length = int(buffer[:end].lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(buffer) < end + 4 + length:
                continue
            done += 1
            failed += ACCEPTED not in buffer
            buffer.clear()
            if time.perf_counter() < deadline:
                conn.sendall(bodies[sent % len(bodies)])
                sent += 1
            else:
                selector.unregister(conn)
                conn.close()
                del buffers[conn]
    out.send((done, failed))


def raw_round(
    url: str, bodies: list[list[bytes]], connections: int, seconds: float
) -> tuple[int, float]:
    """Calls answered and seconds taken by one round of the load processes."""
    processes = min(connections, len(bodies))
    pipes, workers = [], []
    for i in range(processes):
        share = connections // processes + (i < connections % processes)
        receive, send = multiprocessing.Pipe(duplex=False)
        worker = multiprocessing.Process(
            target=load, args=(url, bodies[i], share, seconds, send), daemon=True
        )
        pipes.append(receive)
        workers.append(worker)
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [pipe.recv() for pipe in pipes]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    failed = sum(f for _, f in results)
    if failed:
        raise RuntimeError(f"{failed} calls were not accepted")
    return sum(d for d, _ in results), elapsed


def zeep_round(
    service, pool: ThreadPoolExecutor, connections: int, seconds: float
) -> tuple[int, float]:
    numbers = [phones(1000 + i) for i in range(connections)]
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> int:
        calls = 0
        while time.perf_counter() < deadline:
            answer = service.SendMessage(*ACCOUNT, MESSAGE, numbers[i], TIMESTAMP)
            assert answer.State == 1, answer
            calls += 1
        return calls

    started = time.perf_counter()
    calls = sum(pool.map(worker, range(connections)))
    return calls, time.perf_counter() - started


class served:
    """A simulator on ``db`` running, in a process of its own, the code under ``source``
    (``smsframe simulator serve``, as ``bench/serve.py`` runs it; under cProfile with
    ``profile``)."""

    def __init__(self, db: Path, source: Path, profile: bool) -> None:
        if profile:
            command = ["-c", PROFILE.format(account=ACCOUNT, balance=BALANCE), str(db)]
        else:
            account = ":".join(map(str, (*ACCOUNT, BALANCE)))
            command = ["-m", "smsframe.cli", "simulator", "serve", "--db", str(db)]
            command += ["--account", account]
        self.source = source
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=source,  # first on sys.path
            env={**os.environ, "PYTHONPATH": str(source.resolve())},
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> str:
        url = self.process.stdout.readline().strip()
        if not url:
            self.process.kill()
            raise RuntimeError(f"the simulator under {self.source} did not start")
        return url

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait()


def deliveries(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", metavar="NAME=DIR", help="code to serve")
    parser.add_argument("--connections", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a round")
    parser.add_argument("--loaders", type=int, default=2, help="load generator processes")
    parser.add_argument("--no-zeep", action="store_true", help="skip the zeep-driven figure")
    parser.add_argument("--profile", type=int, metavar="CONNECTIONS", help="cProfile the server")
    args = parser.parse_args(argv)
    here = Path(__file__).parent.parent
    sources = dict(s.split("=", 1) for s in args.source or [f"this={here}"])
    if args.profile:
        args.connections, args.rounds, args.no_zeep = [args.profile], 1, True
        sources = dict([next(iter(sources.items()))])

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls, dbs = {}, {}
        for name, source in sources.items():
            dbs[name] = Path(tmp) / f"{name}.sqlite"
            wsdl = stack.enter_context(served(dbs[name], Path(source), bool(args.profile)))
            urls[name] = wsdl.removesuffix("?wsdl")
        import zeep

        clients = {name: zeep.Client(url + "?wsdl") for name, url in urls.items()}
        bodies = {
            name: [
                [request(clients[name], url, i * BODIES + j) for j in range(BODIES)]
                for i in range(args.loaders)
            ]
            for name, url in urls.items()
        }
        calls = dict.fromkeys(sources, 0)
        rates: dict[tuple[str, str, int], list[float]] = {}
        names = list(sources)
        for connections in args.connections:
            for r in range(args.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    done, elapsed = raw_round(urls[name], bodies[name], connections, args.seconds)
                    calls[name] += done
                    rate = done / elapsed
                    rates.setdefault((name, "raw", connections), []).append(rate)
                    print(f"  {name:>8} raw  {connections:>2} conn round {r + 1}: {rate:7.0f} c/s")
        if not args.no_zeep:
            for connections in args.connections:
                with ThreadPoolExecutor(connections) as pool:
                    for r in range(args.rounds):
                        for name in names if r % 2 == 0 else names[::-1]:
                            done, elapsed = zeep_round(
                                clients[name].service, pool, connections, args.seconds
                            )
                            calls[name] += done
                            rate = done / elapsed
                            rates.setdefault((name, "zeep", connections), []).append(rate)
                            print(
                                f"  {name:>8} zeep {connections:>2} conn round {r + 1}: "
                                f"{rate:7.0f} c/s"
                            )
        stack.close()  # the simulators stop: their databases are final

        print(
            f"\nSendMessage at chunk {CHUNK}, {args.rounds} rounds of {args.seconds:g} s, "
            "medians (min-max)"
        )
        print(
            f"{'source':>8} {'driver':>6} {'conn':>4} {'calls/s':>8} {'deliveries/s':>13} "
            f"{'spread':>13}"
        )
        for (name, driver, connections), values in rates.items():
            median = statistics.median(values)
            print(
                f"{name:>8} {driver:>6} {connections:>4} {median:8.0f} {median * CHUNK:13.0f} "
                f"{min(values):6.0f}-{max(values):.0f}"
            )
        for name, db in dbs.items():
            rows, expected = deliveries(db), calls[name] * CHUNK
            verdict = "OK" if rows == expected else f"EXPECTED {expected}"
            print(f"{name}: {rows} deliveries in the store for {calls[name]} calls: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
