"""Peak memory of a call: Python's allocations (tracemalloc, numpy's buffers included)
plus Arrow's (its own memory pool, which tracemalloc does not see)."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any, NamedTuple

import pyarrow as pa

# Every pool a measurement counted with: buffers it allocated (the result's) call back into
# it when they are freed, after the measurement, so it must outlive them (else a segfault).
_COUNTING_POOLS: list[pa.MemoryPool] = []


class Peak(NamedTuple):
    """Bytes held at once beyond what was held before the call."""

    python: int  # tracemalloc's peak
    arrow: int  # the Arrow pool's peak
    sampled: int  # the most Python + Arrow held together, sampled every 0.2 ms
    held: int  # Python + Arrow held when the call returned: its result

    @property
    def bound(self) -> int:
        """Python's peak plus Arrow's: the true peak is between ``sampled`` and this."""
        return self.python + self.arrow


def peak_bytes(function: Callable[[], Any]) -> tuple[Any, Peak]:
    """``(function(), its Peak)``."""
    gc.collect()
    previous = pa.default_memory_pool()
    counted = pa.proxy_memory_pool(previous)  # the same memory, its own statistics
    _COUNTING_POOLS.append(counted)
    pa.set_memory_pool(counted)
    done, most = threading.Event(), [0]

    def sample() -> None:
        while not done.wait(0.0002):
            most[0] = max(most[0], tracemalloc.get_traced_memory()[0] + counted.bytes_allocated())

    tracemalloc.start()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = function()
        held, python = tracemalloc.get_traced_memory()
        held += counted.bytes_allocated()
    finally:
        done.set()
        sampler.join()
        tracemalloc.stop()
        pa.set_memory_pool(previous)
    return result, Peak(python, counted.max_memory(), most[0], held)
