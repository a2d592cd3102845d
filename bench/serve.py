"""The provider simulator in a process of its own, as a provider would be, for the
benchmarks: ``smsframe simulator serve`` with one account."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def simulator_process(
    db: Path, account: tuple[int, str, str], balance: int, latency_ms: int = 0
) -> Iterator[str]:
    """Yield the WSDL URL of a simulator keeping its state in ``db``; stop it on exit."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smsframe.cli",
            "simulator",
            "serve",
            "--db",
            str(db),
            "--latency-ms",
            str(latency_ms),
            "--account",
            ":".join(map(str, (*account, balance))),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()
