"""The digits of many numbers as one array, read column by column."""

from __future__ import annotations

import numpy as np

_PAD = 10
_NSYM = 11


class _Digits:
    """The digits of many numbers: ``table[j, i]`` is digit j of number i, or _PAD."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table  # (width + 1, n) uint8, last row all _PAD
        self.width = table.shape[0] - 1

    def column(self, rows: np.ndarray, pos: np.ndarray | int) -> np.ndarray:
        """Digit ``pos`` (or _PAD) of the numbers ``rows``."""
        if np.ndim(pos) == 0:
            return self.table[min(int(pos), self.width)].take(rows)
        return self.table[np.minimum(pos, self.width), rows]

    def windows(self, rows: np.ndarray, off: np.ndarray):
        """``(at, window)`` per distinct offset: ``window[j]`` is digit ``off + j`` of
        the numbers ``rows[at]``."""
        for start, at in _groups(off):
            start = min(start, self.width)
            if len(at) == self.table.shape[1] and (rows[at] == np.arange(len(at))).all():
                yield at, self.table[start:]
            else:
                yield at, self.table[start:, rows[at]]

    def values(self, rows: np.ndarray, off: np.ndarray, length: np.ndarray) -> np.ndarray:
        """The digits from ``off`` (``length`` of them, at most 17) as an integer."""
        value = np.zeros(len(rows), dtype=np.int64)
        for size, at in _groups(length):
            for sub, window in self.windows(rows[at], off[at]):
                v = np.zeros(len(sub), dtype=np.int64)
                for j in range(size):
                    v = v * 10 + window[j]
                value[at[sub]] = v
        return value


def _groups(keys: np.ndarray):
    """``(key, positions)`` for each distinct small non-negative integer in ``keys``."""
    if len(keys) == 0:
        return
    counts = np.bincount(keys)
    present = np.flatnonzero(counts)
    if len(present) == 1:
        yield int(present[0]), np.arange(len(keys))
        return
    if len(present) <= 4:
        for key in present:
            yield int(key), np.flatnonzero(keys == key)
        return
    top = int(np.argmax(counts))  # usually most values: no need to sort them
    yield top, np.flatnonzero(keys == top)
    rest = np.flatnonzero(keys != top)
    small = keys[rest].astype(np.uint16) if len(counts) <= 2**16 else keys[rest]
    order = rest[np.argsort(small, kind="stable")]  # a radix sort for 16-bit keys
    ends = np.cumsum(np.where(np.arange(len(counts)) == top, 0, counts))
    for key in present:
        if key != top:
            yield int(key), order[ends[key] - counts[key] : ends[key]]
