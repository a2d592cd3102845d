"""A campaign killed with SIGKILL at a random moment, then run again: no number is
delivered twice, and every row is either delivered exactly once or ``unknown``."""

from __future__ import annotations

import pytest
from crash import crash_and_rerun

ROWS, WORKERS, CHUNK = 5000, 4, 100


@pytest.mark.parametrize(
    ("mode", "seed"), [("send", seed) for seed in range(5)] + [("schedule", 5), ("schedule", 6)]
)
def test_sigkill_then_rerun_never_delivers_twice(tmp_path, mode, seed):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    crash_and_rerun(url, mode, seed, rows=ROWS, workers=WORKERS, chunk=CHUNK, latency_ms=10)
