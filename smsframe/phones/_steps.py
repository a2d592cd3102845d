"""The documented steps before phonenumbers reads a text (the package's docstring
says which and why), one text at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from smsframe.phones._values import _large_strings, _text_of

# What smsframe decides before phonenumbers reads a text (the module's docstring says
# why). The fast path takes the common cases itself (_chars, _rewrite) and leaves
# every other text these steps would change to _prepare_one, then reads what it returns.
_BMP = 0x10000
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_PIECE_SEPARATORS = ";,\uff0c\uff1b/\uff0f\u3001" + _LINE_BREAKS  # ; , ， ； / ／ 、
_SPLIT_PIECES = re.compile(f"[{re.escape(_PIECE_SEPARATORS)}]")
_WHITESPACE = np.char.isspace(np.arange(_BMP, dtype=np.uint32).view("U1"))
_SPACES = {c: " " for c in np.flatnonzero(_WHITESPACE).tolist() if chr(c) not in _LINE_BREAKS}
_EXCEL_FIXED = re.compile(r"\s*([0-9]+)\.0+\s*")
_EXCEL_SCIENTIFIC = re.compile(r"\s*([0-9])(?:\.([0-9]+))?[eE]\+?([0-9]{1,2})\s*")
_TEL_URI = re.compile(r"\s*tel:", re.IGNORECASE)
_EXTENSION = re.compile(
    r"(?<![^\W\d_])(?:ext(?:ension|n)?|x|#|\u8f6c|\u5206\u673a)[\s.:\uff1a=]*\d{1,7}#?\s*$",
    re.IGNORECASE,
)  # ext. 12, x12, #12, 转12, 分机12 (and ;ext=12 once ';' has split the text)
_DIGIT = re.compile(r"\d")
_LONG_RUN = re.compile(r"\d{7,}")
_LETTERS = re.compile(r"[^\W\d_]+")  # word characters other than digits: letters, CJK...


def _excel_integer(text: str) -> str | None:
    """The digits of Excel's text of an integral number (``'13800138000.0'``,
    ``'1.3800138E+10'``), else None."""
    fixed = _EXCEL_FIXED.fullmatch(text)
    if fixed:
        return fixed[1]
    scientific = _EXCEL_SCIENTIFIC.fullmatch(text)
    if scientific is None:
        return None
    head, tail, exponent = scientific[1], scientific[2] or "", int(scientific[3])
    if tail[exponent:].strip("0"):
        return None  # not integral
    return (head + tail[:exponent].ljust(exponent, "0")).lstrip("0") or "0"  # 0.5E+1: 5


def _prepare_one(text: str) -> str | tuple[str, ...] | None:
    """A non-blank text after the documented steps: the text phonenumbers reads, the
    numbers of a cell holding several (a tuple), or None when no number is left."""
    text = text.translate(_SPACES)
    excel = _excel_integer(text)
    if excel is not None:
        return excel
    tel = _TEL_URI.match(text)
    if tel:  # RFC 3966: parameters (;ext=, ;phone-context=...) are not the number
        text = text[tel.end() :].split(";", 1)[0]
    pieces = [_EXTENSION.sub("", piece) for piece in _SPLIT_PIECES.split(text)]
    numbers = [piece.strip() for piece in pieces if _DIGIT.search(piece)]
    if len(numbers) > 1:
        return tuple(numbers)
    if not numbers:
        return None
    runs = _LONG_RUN.findall(numbers[0])
    if len(runs) > 1:
        return tuple(runs)
    return _LETTERS.sub("", numbers[0])


# Two runs of 7 or more ASCII digits parted by spaces or tabs, or by one piece
# separator: the runs are the numbers _prepare_one finds in such a text (read at once
# by RE2, in pyarrow, with no Python per value). Other texts take _prepare_one.
_TWO_RUNS = (
    "^[ \t]*(?P<first>[0-9]{7,})(?:[ \t]*[;,\uff0c\uff1b/\uff0f\u3001\n][ \t]*|[ \t]+)"
    "(?P<second>[0-9]{7,})[ \t]*$"
)


def several_numbers(values: Iterable[Any]) -> list[tuple[str, ...] | None]:
    """Per value, the numbers of a cell holding several (as :func:`normalize` finds
    them, reason ``several_numbers``), else None.

    >>> several_numbers(["13800138000; 13900139000", "13800138000"])
    [('13800138000', '13900139000'), None]
    """
    import pyarrow.compute as pc

    values = list(values)
    texts = _large_strings([v if isinstance(v, str) else None for v in values])
    runs = pc.extract_regex(texts, _TWO_RUNS)
    matched = runs.is_valid().to_numpy(zero_copy_only=False)
    pairs = zip(runs.field("first").to_pylist(), runs.field("second").to_pylist(), strict=True)
    found: list[tuple[str, ...] | None] = []
    for value, simple, pair in zip(values, matched, pairs, strict=True):
        if simple:
            found.append(pair)
            continue
        text = _text_of(value)
        prepared = _prepare_one(text) if text is not None and text.strip() else None
        found.append(prepared if isinstance(prepared, tuple) else None)
    return found
