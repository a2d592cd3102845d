"""The fast path: texts to digits, one length at a time, batch by batch."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import numpy as np
import pandas as pd

from smsframe.phones._chars import (
    _F_BAD,
    _F_DIGIT,
    _F_LETTER,
    _F_OTHER,
    _F_PLUS,
    _F_WHITE,
    _FLAGS,
    _VALUE,
)
from smsframe.phones._digits import _PAD, _Digits, _groups
from smsframe.phones._parse import _Engine
from smsframe.phones._reasons import (
    _EMPTY,
    _FOREIGN,
    _NOT_A_NUMBER,
    _NOT_MOBILE,
    _OK,
    _SEVERAL,
    _UNDECIDED,
)
from smsframe.phones._rewrite import _rewrite

T = TypeVar("T")
_NONE = np.zeros(0, dtype=np.intp)
_MAX_CHARS = 32  # longer values go to phonenumbers
_STRICT = False  # tests set it: a fast-path exception then propagates


_BATCH = 1 << 17  # values per vectorised batch (bounds the working memory)
_THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
_SCAN_THREADS: ContextVar[int] = ContextVar("smsframe_scan_threads", default=_THREADS)


@contextmanager
def one_thread() -> Iterator[None]:
    """Scan on the calling thread alone, where the caller already keeps every core busy
    (a Dask worker): more threads than cores only cost switching."""
    token = _SCAN_THREADS.set(1)
    try:
        yield
    finally:
        _SCAN_THREADS.reset(token)


def scan_threads() -> int:
    """How many threads may work side by side here (1 under :func:`one_thread`)."""
    return _SCAN_THREADS.get()


@contextmanager
def beside(function: Callable[..., T], *args) -> Iterator[Callable[[], T]]:
    """Run ``function(*args)`` on a thread of its own while the block runs; yields what
    waits for its result (under :func:`one_thread`, what computes it then, on the
    calling thread). Gains where either side releases the GIL (numpy's and Arrow's
    kernels)."""
    if scan_threads() < 2:
        yield lambda: function(*args)
        return
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(function, *args).result


class _Scan:
    """Results per text: reason, country code and NSN key."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, _UNDECIDED, dtype=np.int8)
        self.cc = np.zeros(n, dtype=np.int16)
        self.key = np.full(n, -1, dtype=np.int64)  # NSN length * 10**17 + NSN

    def take(self, codes: np.ndarray | None) -> _Scan:
        """The results of each row, whose text is ``codes`` (-1: missing, so ``empty``);
        ``None``: one text per row already."""
        if codes is None:
            return self
        rows = _Scan(0)
        rows.reason = np.append(self.reason, np.int8(_EMPTY))[codes]
        rows.cc = np.append(self.cc, np.int16(0))[codes]
        rows.key = np.append(self.key, -1)[codes]
        return rows


class _Texts:
    """Values as Python strings: the character codes of those of one length."""

    def __init__(self, texts: np.ndarray) -> None:
        self.texts = texts

    def lengths(self, rows: np.ndarray) -> np.ndarray:
        return np.fromiter(map(len, self.texts[rows]), dtype=np.int64, count=len(rows))

    def chars(self, rows: np.ndarray, k: int) -> np.ndarray:
        """(values, k) code points of the values ``rows``, all ``k`` characters long."""
        return self.texts[rows].astype(f"U{k}").view(np.uint32).reshape(len(rows), k)


def _scan(
    engine: _Engine, source, present: np.ndarray, batch_size: int = _BATCH, steps: bool = True
) -> _Scan:
    """Decide what can be decided without phonenumbers, batch by batch; ``steps``:
    whether the documented steps are still to be taken (not: texts _prepare_one gave).

    Batches are independent and their work is mostly numpy, which releases the GIL:
    a few threads run them side by side.
    """
    scan = _Scan(len(present))
    scan.reason[~present] = _EMPTY
    rows = np.flatnonzero(present)

    def work(first: int) -> None:
        batch = rows[first : first + batch_size]
        try:
            _scan_batch(engine, source, batch, scan, steps)
        except Exception:
            if _STRICT:
                raise
            # a fast-path bug must not cost a result: phonenumbers decides these
            scan.reason[batch], scan.key[batch] = _UNDECIDED, -1

    starts = range(0, len(rows), batch_size)
    threads = scan_threads()
    if len(starts) < 2 or threads < 2:
        for first in starts:
            work(first)
    else:
        with ThreadPoolExecutor(min(threads, len(starts))) as pool:
            list(pool.map(work, starts))  # re-raises a worker's exception
    return scan


def _scan_batch(engine: _Engine, source, rows: np.ndarray, scan: _Scan, steps: bool) -> None:
    length = source.lengths(rows)
    scan.reason[rows[length == 0]] = _EMPTY
    # values of one length at a time: no padding, and whole-value reductions are cheap
    blocks, chosen, counts, pluses = [], [], [], []
    for k, group in _groups(np.minimum(length, _MAX_CHARS + 1)):
        if not 1 <= k <= _MAX_CHARS:
            continue
        why, block, pick, count, plus = _scan_length(source.chars(rows[group], k), k, steps)
        scan.reason[rows[group]] = why
        if pick.size:
            blocks.append(block)
            chosen.append(rows[group[pick]])
            counts.append(count)
            pluses.append(plus)
    if not blocks:
        return
    width = max(b.shape[0] for b in blocks)
    table = np.full((width + 1, sum(b.shape[1] for b in blocks)), _PAD, dtype=np.uint8)
    at = 0
    for b in blocks:
        table[: b.shape[0], at : at + b.shape[1]] = b
        at += b.shape[1]
    cand = np.concatenate(chosen)
    nd, plus = np.concatenate(counts), np.concatenate(pluses)
    digits = _Digits(table)
    why, code, off = engine.decide(digits, nd, plus)
    scan.reason[cand] = why
    valid = np.flatnonzero((why == _OK) | (why == _NOT_MOBILE) | (why == _FOREIGN))
    nsn = nd[valid] - off[valid]
    target = cand[valid]
    scan.cc[target] = code[valid]
    scan.key[target] = nsn * 10**17 + digits.values(valid, off[valid], nsn)


def _prepared_otherwise(isdigit, any_flag, count, simple) -> np.ndarray:
    """Which of the values the fast path would take the documented steps may change
    (after _rewrite): a possible extension (text and at most 7 digits), or two runs
    of at least 7 digits. A superset."""
    declined = simple & ((any_flag & _F_OTHER) != 0) & (count <= 7)
    long = np.flatnonzero(simple & (count >= 14))
    if long.size:
        run = np.zeros(len(long), dtype=np.int64)
        runs = np.zeros(len(long), dtype=np.int64)
        for row in isdigit[:, long]:
            run = (run + 1) * row
            runs += run == 7
        declined[long[runs >= 2]] = True
    return declined


def _scan_length(chars: np.ndarray, k: int, steps: bool = True):
    """Classify values of ``k`` characters, given as their codes (values, k).

    Returns (reason per value, digit block (k, picked) of the values to decide,
    their positions, digit counts, leading '+').
    """
    m = len(chars)
    flags = np.ascontiguousarray(_FLAGS.take(chars).T)  # (position, value)
    any_flag = np.bitwise_or.reduce(flags, axis=0)
    isdigit = (flags & _F_DIGIT) != 0
    count = isdigit.view(np.uint8).sum(axis=0, dtype=np.uint8).astype(np.int64)
    several, changed = _rewrite(chars, any_flag, count) if steps else (_NONE, _NONE)
    if changed.size:
        flags[:, changed] = _FLAGS.take(chars[changed]).T
        any_flag[changed] = np.bitwise_or.reduce(flags[:, changed], axis=0)
        isdigit[:, changed] = (flags[:, changed] & _F_DIGIT) != 0
        count[changed] = np.count_nonzero(isdigit[:, changed], axis=0)
    white = (np.bitwise_and.reduce(flags, axis=0) & _F_WHITE) != 0
    usable = (any_flag & _F_BAD) == 0
    why = np.full(m, _UNDECIDED, dtype=np.int8)
    why[usable & white] = _EMPTY
    why[usable & ~white & (count == 0)] = _NOT_A_NUMBER
    simple = (any_flag & (_F_OTHER | _F_PLUS | _F_BAD)) == 0  # digits and separators
    has_plus = np.zeros(m, dtype=bool)
    fancy = np.flatnonzero(~simple & usable & ~white & (count > 0))
    if fancy.size:
        f = flags[:, fancy]
        digit = (f & _F_DIGIT) != 0
        isplus = (f & _F_PLUS) != 0
        first_digit = np.argmax(digit, axis=0)
        start = np.argmax(digit | isplus, axis=0)
        other = (f & (_F_OTHER | _F_LETTER)) == _F_OTHER  # not a letter
        last_other = np.where(other.any(axis=0), k - 1 - np.argmax(other[::-1], axis=0), -1)
        nplus = np.count_nonzero(isplus, axis=0)
        last_plus = k - 1 - np.argmax(isplus[::-1], axis=0)
        ok = last_other < start  # other text before the number only
        # letters (labels, step 5) before the number or after it, not inside
        lettered = np.flatnonzero(any_flag[fancy] & _F_LETTER)
        if lettered.size:
            last_digit = k - 1 - np.argmax(digit[::-1, lettered], axis=0)
            position = np.arange(k)[:, None]
            inside = (position > start[lettered]) & (position < last_digit)
            letter = (f[:, lettered] & _F_LETTER) != 0
            ok[lettered] &= ~(letter & inside).any(axis=0)
        # '+' only as one run at the start (then the country code follows)
        ok &= (nplus == 0) | ((start + nplus - 1 == last_plus) & (last_plus < first_digit))
        simple[fancy] = ok
        has_plus[fancy] = nplus > 0
    simple &= usable & (count > 0)
    why[simple & (count == 1)] = _NOT_A_NUMBER
    pair = np.flatnonzero(simple & (count == 2))
    if pair.size:  # two digits make a number only when written together, without '+'
        digit = isdigit[:, pair]
        together = k - 1 - np.argmax(digit[::-1], axis=0) == np.argmax(digit, axis=0) + 1
        together &= ~has_plus[pair]
        why[pair[~together]] = _NOT_A_NUMBER
        simple[pair[~together]] = False
    why[several], simple[several] = _SEVERAL, False
    # what the documented steps may change and _rewrite did not: left to _prepare_one
    declined = _prepared_otherwise(isdigit, any_flag, count, simple)
    why[declined], simple[declined] = _UNDECIDED, False
    pick = np.flatnonzero(simple & (count >= 2))
    count = count[pick]
    block = np.full((int(count.max(initial=0)), len(pick)), _PAD, dtype=np.uint8)
    # values sharing a shape (where the digits are, e.g. 'ddd dddd dddd') share the
    # positions of their digits: gather them shape by shape
    everything = len(pick) == m
    sub = np.ascontiguousarray(_VALUE.take(chars if everything else chars[pick]).T)
    if len(pick) and (count == k).all():  # nothing but digits: already in place
        block[:] = sub
        return why, block, pick, count, has_plus[pick]
    digit = isdigit if everything else isdigit[:, pick]
    packed = np.packbits(digit, axis=0, bitorder="little").astype(np.uint64)
    shape = packed[0].copy()
    for b in range(1, len(packed)):
        shape |= packed[b] << np.uint64(8 * b)
    inverse, shapes = pd.factorize(shape)
    if len(shapes) <= 64:
        for s, bits in enumerate(np.asarray(shapes).tolist()):
            where = [j for j in range(k) if bits >> j & 1]
            if len(shapes) == 1:
                block[: len(where)] = sub[where]
            else:
                at = np.flatnonzero(inverse == s)
                block[: len(where), at] = sub[where][:, at]
    else:  # many shapes: rank the digits within each value
        rank = np.cumsum(digit, axis=0, dtype=np.int8) - 1
        j, i = np.nonzero(digit)
        block[rank[j, i], i] = sub[j, i]
    return why, block, pick, count, has_plus[pick]
