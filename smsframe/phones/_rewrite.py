"""The documented steps (_steps) on the fast path: on the character codes of values of
one length, what a step removes is overwritten with spaces, in place.

Step 1 (whitespace kinds are spaces) is in the fast path's character flags; step 5
(letters are labels) in its reading of letters before and after the number. Here:
Excel's fixed-point text (step 2), a ``tel:`` URI's parameters (step 3), several
numbers (step 4, decided when unmistakable: two pieces or two runs of 8 or more
digits) and an extension at the end (step 4). Any case these do not recognise
exactly is left as it is, and the fast path declines it.
"""

from __future__ import annotations

import numpy as np

from smsframe.phones._chars import (
    _F_BAD,
    _F_DIGIT,
    _F_LETTER,
    _F_OTHER,
    _F_PLUS,
    _F_SEP,
    _F_WHITE,
    _FLAGS,
)
from smsframe.phones._steps import _BMP, _PIECE_SEPARATORS

_SPACE = 32
_NONE = np.zeros(0, dtype=np.intp)
_MARKS = [[ord(c) for c in mark] for mark in ("extension", "extn", "ext", "x", "#", "转", "分机")]


def _one_of(codes: list[int]) -> np.ndarray:
    """Per code point of the BMP, whether it is one of ``codes``; one more entry (False)
    stands for every code point beyond (read with ``take(..., mode="clip")``): one
    lookup per character instead of a comparison per code."""
    table = np.zeros(_BMP + 1, dtype=bool)
    table[codes] = True
    return table


_PIECE = _one_of([ord(c) for c in _PIECE_SEPARATORS])
_GAP = _one_of([ord(c) for c in ".:\uff1a="])  # and whitespace: between mark and digits
_MARK_END = _one_of([m[-1] for m in _MARKS] + [m[-1] - 32 for m in _MARKS if 97 <= m[-1] <= 122])


def _rewrite(
    chars: np.ndarray, any_flag: np.ndarray, count: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2-4 on ``chars`` (values, k) in place, given the union of each value's
    flags and its count of digits. Returns (values holding several numbers, values
    changed)."""
    if not len(chars):
        return _NONE, _NONE
    has = {bit: (any_flag & bit) != 0 for bit in (_F_BAD, _F_LETTER, _F_OTHER, _F_SEP)}
    simple = (any_flag & (_F_OTHER | _F_PLUS | _F_BAD)) == 0
    last = chars[:, -1]  # Excel's text ends with a zero, or whitespace
    excel = simple & has[_F_SEP] & ((last == ord("0")) | ((_FLAGS.take(last) & _F_WHITE) != 0))
    changed = [
        _excel(chars, np.flatnonzero(excel)),
        _tel(chars, np.flatnonzero(has[_F_BAD] & has[_F_LETTER])),
    ]
    several = _several(chars, np.flatnonzero(count >= 16))
    candidates = has[_F_OTHER] & (count >= 8)
    candidates[several] = False
    changed.append(_extension(chars, np.flatnonzero(candidates)))
    return several, np.unique(np.concatenate(changed))


def _excel(chars: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Step 2 on the values ``rows`` (digits and separators only): ``' 138...4.00 '``
    keeps its digits, the point and zeros become spaces. Returns the values changed."""
    if not rows.size:
        return rows
    c = chars[rows]
    dot = c == ord(".")
    rows, c, dot = rows[one := dot.sum(axis=1) == 1], c[one], dot[one]
    if not rows.size:
        return rows
    k = c.shape[1]
    white = (_FLAGS.take(c) & _F_WHITE) != 0
    first = np.argmax(~white, axis=1)
    last = k - 1 - np.argmax(~white[:, ::-1], axis=1)
    point = np.argmax(dot, axis=1)
    pos = np.arange(k)
    inside = (pos >= first[:, None]) & (pos <= last[:, None])
    ascii_digit = (c >= 48) & (c <= 57)
    before, after = pos < point[:, None], pos > point[:, None]
    fits = (ascii_digit & before) | dot | ((c == 48) & after)
    excel = (fits | ~inside).all(axis=1) & (first < point) & (point < last)
    rows, point = rows[excel], point[excel]
    chars[rows] = np.where(pos >= point[:, None], _SPACE, chars[rows])
    return rows


def _tel(chars: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Step 3 on the values ``rows``: from the first ';' of a ``tel:`` URI on, spaces."""
    if not rows.size:
        return rows
    c = chars[rows]
    k = c.shape[1]
    first = np.argmax((_FLAGS.take(c) & _F_WHITE) == 0, axis=1)
    tel = first + 4 <= k
    for j, letter in enumerate(b"tel:"):
        at = c[np.arange(len(rows)), np.minimum(first + j, k - 1)]
        tel &= (at | 0x20 if letter != ord(":") else at) == letter
    semicolon = c == ord(";")
    tel &= semicolon.any(axis=1)
    rows, cut = rows[tel], np.argmax(semicolon[tel], axis=1)
    chars[rows] = np.where(np.arange(k) >= cut[:, None], _SPACE, chars[rows])
    return rows


def _several(chars: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Step 4, where unmistakable: values with two pieces of 8 or more digits, or with
    no piece separator and two runs of 8 or more digits (an extension is at most 7)."""
    if not rows.size:
        return rows
    c = chars[rows]
    rows, c = rows[bmp := c.max(axis=1, initial=0) < _BMP], c[bmp]
    digit = (_FLAGS.take(c) & _F_DIGIT) != 0
    separator = _PIECE.take(c, mode="clip")
    run = np.zeros(len(rows), dtype=np.int64)
    piece = np.zeros(len(rows), dtype=np.int64)
    runs = np.zeros(len(rows), dtype=np.int64)
    pieces = np.zeros(len(rows), dtype=np.int64)
    for j in range(c.shape[1]):
        run = (run + 1) * digit[:, j]
        piece = (piece + digit[:, j]) * ~separator[:, j]
        runs += run == 8
        pieces += (piece == 8) & digit[:, j]
    return rows[(pieces >= 2) | ((runs >= 2) & ~separator.any(axis=1))]


def _extension(chars: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Step 4's extension at the end (``ext. 12``, ``x12``, ``#12``, ``转12``, ``分机12``,
    a mark not after a letter, then 1-7 digits, maybe '#'): spaces from the mark on."""
    if not rows.size:
        return rows
    c = chars[rows]
    # A piece separator (a line break, ';'...) may part two numbers: an extension is
    # looked for in each piece, which the careful path does (not across the separator).
    # Without a mark's last character (a label such as '(mobile)') there is nothing to do.
    alone = ~_PIECE.take(c, mode="clip").any(axis=1) & _MARK_END.take(c, mode="clip").any(axis=1)
    rows, c = rows[alone], c[alone]
    if not rows.size:
        return rows
    n, k = c.shape
    flag = _FLAGS.take(c)
    white, digit = (flag & _F_WHITE) != 0, (flag & _F_DIGIT) != 0
    i, position = np.arange(n), np.arange(k)
    end = k - 1 - np.argmax(~white[:, ::-1], axis=1)
    end -= c[i, end] == ord("#")
    size = end - _last(~digit, position <= end[:, None])  # the digits ending at end
    ok = (size >= 1) & (size <= 7)
    rows, c, flag, end, size = rows[ok], c[ok], flag[ok], end[ok], size[ok]
    n, i = len(rows), np.arange(len(rows))
    gap = ((flag & _F_WHITE) != 0) | _GAP.take(c, mode="clip")
    letter = (flag & _F_LETTER) != 0
    mark_end = end + 1 - size
    mark_end = _last(~gap, position < mark_end[:, None]) + 1  # before the gap's characters
    start = np.full(n, -1)
    lower = np.where((c >= 65) & (c <= 90), c | 0x20, c)
    for mark in _MARKS:
        at = mark_end - len(mark)
        match = (at >= 0) & (start < 0)
        for j, code in enumerate(mark):
            match &= lower[i, np.clip(at + j, 0, k - 1)] == code
        match &= (at == 0) | ~letter[i, np.clip(at - 1, 0, k - 1)]
        start[match] = at[match]
    rows, start = rows[start >= 0], start[start >= 0]
    chars[rows] = np.where(np.arange(k) >= start[:, None], _SPACE, chars[rows])
    return rows


def _last(mask: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Per value (row), the last position where ``mask`` and ``within`` hold, else -1."""
    return np.where(mask & within, np.arange(mask.shape[1]), -1).max(axis=1, initial=-1)
