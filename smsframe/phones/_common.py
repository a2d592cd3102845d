"""The commonest spellings of all, read by Arrow's regular expressions: a mainland China
mobile's 11 digits alone or grouped 3-4-4 by spaces (no-break and ideographic ones too)
or dashes, after ``+86``, ``(+86)``, ``0086``, ``86`` or nothing, or as Excel's text of
the number (``13800138000.0``); spaces and tabs around it (tab-separated exports) are
not part of it. CN is the default region.

Arrow's kernels (RE2, in C++) release the GIL, so threads take a core each, which the
numpy scan, with Python between its steps, cannot. What phonenumbers does with such a
text is known from CN's metadata alone (the spaces and tabs around it and the
brackets of ``(+86)`` are dropped by parse as by any reader, Excel's ``.0`` by the
documented steps): no national prefix or carrier code to strip
from a mobile, the country code read from ``+86``/``0086`` or, without them, stripped
because the 13 digits are too long for CN; then the number is valid and its type
``MOBILE`` exactly when its 11 digits match the mobile pattern, the general one and none
of the types ``number_type`` tries first. These patterns, and the national and
international prefixes parse would strip (such a number is left to the scan), make one
digit automaton (``_automata``), from which one regular expression of exactly the
wanted 11 digits is written, digit by digit; so RE2 reads each value once, and the
digits of the values it takes are read by numpy from Arrow's buffers.

Texts the documented steps turn into such a spelling are read here too: a label before
the number (``Tel:``, ``手机：``) or in brackets after it (``(mobile)``, ``（本人）``), an
extension after it (``ext. 12``, ``x12``, ``转8001``), an RFC 3966 ``tel:`` URI (its
``;ext=`` parameters dropped), Excel's scientific text of the number
(``1.3800138005E+10``). RE2 checks their form; numpy then finds the number's bytes
among them and reads its digits as above. So are cells of two numbers of 7 digits or
more (``several_numbers``): what the steps find in them is RE2's ``_TWO_RUNS`` (_steps).
"""

from __future__ import annotations

import functools
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import phonenumbers
from numpy.lib.stride_tricks import sliding_window_view

from smsframe.phones._automata import _Dfa, _Unsupported
from smsframe.phones._metadata import _DESCS, _TYPE_ORDER
from smsframe.phones._output import _pc
from smsframe.phones._steps import _TWO_RUNS
from smsframe.phones._values import _Utf8

# common_mobiles' marks of a value it leaves, and of a cell holding two numbers
NOT_COMMON, SEVERAL_NUMBERS = -1, -2

_DIGITS = 11
_GROUPS_AT = (3, 7)  # 3-4-4: a separator before these digits
# The documented steps read every whitespace as a space: a no-break or ideographic space
# (U+00A0, U+3000) is one here too.
_WIDE_SPACES = ("\u00a0", "\u3000")
_AROUND = "[ \t\u00a0\u3000]{0,8}"  # bounded: a text over phonenumbers' length limit is the scan's
_COUNTRY = "(?:(?:\\+86|\\(\\+86\\)|0086|86)[ \u00a0\u3000-]?)?"
# What the documented steps take away around a number: letters (a label; here ASCII
# letters and the CJK ideographs of Unicode 1.1, which every Python reads as letters)
# before it or in brackets after it, an extension after it (as _steps._EXTENSION).
_LABEL = "[A-Za-z\u4e00-\u9fa5]+"
_EXTENSION = "(?i:ext(?:ension|n)?|x|#|\u8f6c|\u5206\u673a)[ \t.:\uff1a=]*[0-9]{1,7}#?"
_SLICE = 1 << 16  # values worth a thread of their own
_KEY_OF_11 = _DIGITS * 10**17  # a key is the NSN's length * 10**17 + the NSN
# number_type's order: a number of these types is not a mobile
_TRIED_FIRST = [_DESCS[i] for i, _ in _TYPE_ORDER]
# Where the 11 digits are in the 13 bytes that end with them: grouped 3-4-4 or not.
_WINDOW = 13
_BLOCK = 1 << 15  # texts weighed at once
_PLAIN = np.arange(_DIGITS)
_AT = [_PLAIN + _WINDOW - _DIGITS, _PLAIN + np.searchsorted(_GROUPS_AT, _PLAIN, side="right")]
_LOW = 6  # a number's digits weighed in two halves, 5 and 6 digits: each exact in float32


def _weights() -> np.ndarray:
    """(13, 4): columns weigh the high and the low digits of an ungrouped window, then
    of a grouped one."""
    high = _DIGITS - _LOW
    power = np.concatenate([10.0 ** np.arange(high)[::-1], 10.0 ** np.arange(_LOW)[::-1]])
    weights = np.zeros((_WINDOW, 2 * len(_AT)), dtype=np.float32)
    for kind, at in enumerate(_AT):
        weights[at[:high], 2 * kind] = power[:high]
        weights[at[high:], 2 * kind + 1] = power[high:]
    return weights


_WEIGHTS = _weights()
_ZERO_HIGH, _ZERO_LOW = (int(ord("0") * _WEIGHTS[:, i].sum()) for i in (0, 1))
_ANY_DIGITS = re.compile(r"(?:\[0-9\]){2,}")


@functools.cache
def _spelled() -> dict[str, str] | None:
    """Per separator of the groups 3-4-4 ('' none), the regular expression of a mobile's
    11 digits so spelled. None when CN's metadata is beyond the automata."""
    try:
        mobiles = {sep: _mobiles(sep) for sep in ("", " ", "-", *_WIDE_SPACES)}
    except _Unsupported:
        return None
    return None if None in mobiles.values() else mobiles  # type: ignore[return-value]


@functools.cache
def _spelling() -> str | None:
    """The regular expression (RE2) of the texts taken here: a mobile's 11 digits in a
    common spelling. None when CN's metadata is beyond the automata."""
    mobiles = _spelled()
    if mobiles is None:
        return None
    excel = f"{mobiles['']}\\.0{{1,8}}"  # Excel's text of the number: its digits (the steps)
    return f"^{_AROUND}(?:{_number()}|{excel}){_AROUND}$"


def _number() -> str:
    """A mobile in a common spelling, after the country code or not."""
    mobiles = _spelled()
    assert mobiles is not None
    return f"{_COUNTRY}(?:{'|'.join(mobiles.values())})"


@functools.cache
def _decorated() -> str | None:
    """The regular expression (RE2) of the texts the documented steps turn into a common
    spelling (:func:`_decorated_keys` reads them). None as :func:`_spelling`."""
    mobiles = _spelled()
    if mobiles is None:
        return None
    a, number, extension = _AROUND, _number(), _EXTENSION
    after = f"(?:{a}(?:{extension}|[(\uff08]{_LABEL}[)\uff09]))?"
    labelled = f"(?:{_LABEL}[:\uff1a]?{a})?{number}{after}"
    tel = f"(?i:tel:){a}{number}(?:{a}{extension})?{a}(?s:;.*)?"  # RFC 3966: ';...' not read
    branches = [labelled, tel]
    if mobiles[""].startswith("1"):  # Excel's 1.3800138005E+10: its digits (the steps)
        branches.append(f"1\\.{mobiles[''][1:]}0*[eE]\\+?10")
    return f"^{a}(?:{'|'.join(branches)}){a}$"


_SCIENTIFIC = f"^{_AROUND}(1)\\.([0-9]{{10}})0*[eE]\\+?10{_AROUND}$"  # its digits: \\1\\2


def _mobiles(sep: str) -> str | None:
    """A regular expression of exactly the 11 digits (``sep`` between the groups of
    3-4-4) that parse, with CN the default region, reads as a valid mainland mobile,
    written digit by digit from :func:`_automaton`, so that RE2 needs one pass."""
    dfa, wanted = _automaton()

    @functools.cache
    def rest(state: int, left: int) -> str | None:
        """The digits from ``state`` on that end in a wanted state (None: none do)."""
        if left == 0:
            return "" if wanted[state] else None
        if not dfa.live[state]:
            return None
        by_rest: dict[str, list[int]] = {}
        for digit in range(10):
            tail = rest(int(dfa.table[state, digit]), left - 1)
            if tail is not None:
                by_rest.setdefault(tail, []).append(digit)
        if not by_rest:
            return None
        lead = sep if _DIGITS - left in _GROUPS_AT else ""
        branches = [f"{_digit_class(digits)}{tail}" for tail, digits in by_rest.items()]
        return lead + (branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})")

    found = rest(0, _DIGITS)
    return None if found is None else _ANY_DIGITS.sub(lambda m: f"[0-9]{{{len(m[0]) // 5}}}", found)


@functools.cache
def _automaton() -> tuple[_Dfa, np.ndarray]:
    """One digit automaton of CN's general and mobile patterns, the patterns of the
    types ``number_type`` tries first, and the national and international prefixes
    parse would strip (then the scan decides); and its states where the digits read
    match the first two and none of the others."""
    cn = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    tried = [getattr(cn, name) for name in _TRIED_FIRST]
    stripped = [cn.national_prefix_for_parsing, cn.international_prefix]
    dfa = _Dfa(
        [
            cn.general_desc.national_number_pattern,
            cn.mobile.national_number_pattern,
            *(d.national_number_pattern for d in tried if d and d.national_number_pattern),
            *(f"(?:{p})[0-9]*" for p in stripped if p),
        ]
    )
    return dfa, (dfa.accept & 0b11 == 0b11) & (dfa.accept >> 2 == 0)


def _digit_class(digits: list[int]) -> str:
    if len(digits) == 10:
        return "[0-9]"
    return str(digits[0]) if len(digits) == 1 else f"[{''.join(map(str, digits))}]"


def common_mobiles(array, threads: int = 1, *, ascii_: np.ndarray | None = None) -> np.ndarray:
    """Per value of an Arrow string array, the key of the mainland mobile it spells in
    one of the commonest ways, :data:`SEVERAL_NUMBERS` for a cell of two numbers the
    steps find, else :data:`NOT_COMMON` (any other value, missing, or not a mobile); the
    default region must be CN. ``threads``: slices read side by side; ``ascii_``: which
    values are ASCII, where the caller knows: then those alone are read (the others,
    read apart, are left)."""
    keys = np.full(len(array), NOT_COMMON, dtype=np.int64)
    if _spelling() is None:
        return keys
    if threads < 2 or len(array) < _SLICE:
        _fill_keys(array, keys, ascii_)
        return keys
    bounds = np.linspace(0, len(array), threads + 1).astype(int).tolist()

    def fill(a: int, b: int) -> None:
        _fill_keys(array.slice(a, b - a), keys[a:b], None if ascii_ is None else ascii_[a:b])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fill, bounds, bounds[1:]))  # re-raises a worker's exception
    return keys


def _fill_keys(array, keys: np.ndarray, ascii_: np.ndarray | None) -> None:
    """Write the keys of ``array``'s values the spelling takes into ``keys``; then those
    of the texts the steps turn into a common spelling, and mark the cells of two
    numbers. ``ascii_``: which values are ASCII, those alone to read (None: read all)."""
    pc = _pc()
    spelled = pc.match_substring_regex(array, _spelling()).fill_null(False)
    spelled = spelled.to_numpy(zero_copy_only=False)
    ascii_only = ascii_ is not None
    if ascii_ is None:
        ascii_ = pc.string_is_ascii(array).fill_null(False).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(spelled & ascii_)
    keys[rows] = _KEY_OF_11 + _national_numbers(_Utf8(array), rows)
    readable = ascii_
    if not ascii_only:
        wide = np.flatnonzero(spelled & ~ascii_)
        if wide.size:
            keys[wide] = _keys_of(array.take(wide))
        readable = array.is_valid().to_numpy(zero_copy_only=False)
    unread = np.flatnonzero(~spelled & readable)
    if unread.size:
        _fill_decorated(array.take(unread), keys, unread)


def _fill_decorated(texts, keys: np.ndarray, rows: np.ndarray) -> None:
    """Write the keys of ``texts`` (the values at ``rows``) the steps turn into a common
    spelling into ``keys``, and mark the cells of two numbers there."""
    pc = _pc()
    decorated = pc.match_substring_regex(texts, _decorated()).fill_null(False)
    at = np.flatnonzero(decorated.to_numpy(zero_copy_only=False))
    if at.size:
        keys[rows[at]] = _decorated_keys(texts.take(at))
    several = pc.match_substring_regex(texts, _TWO_RUNS).fill_null(False)
    keys[rows[several.to_numpy(zero_copy_only=False)]] = SEVERAL_NUMBERS


def _decorated_keys(texts) -> np.ndarray:
    """The keys of the mobiles in texts :func:`_decorated` matched. With its wide spaces
    made spaces, the number starts at a text's first digit, '+' or '(' (a label has
    none) and ends at its last digit before a byte none of its spellings has (an
    extension's mark, a bracketed label's letter, a URI's ';')."""
    utf8 = _Utf8(_spaced(texts))
    data, offsets = utf8.data, utf8.offsets.astype(np.int64)
    digit = (data - np.uint8(ord("0"))) < 10
    first = _next(digit | _any_of(data, "+("), offsets[:-1])
    beyond = np.minimum(_next(~(digit | _any_of(data, "+() \t-")), first), offsets[1:])
    digits = np.flatnonzero(digit)
    end = digits[np.searchsorted(digits, beyond) - 1] + 1
    scientific = data[first + 1] == ord(".")  # 1.3800138005E+10: the digits as text
    keys = np.empty(len(texts), dtype=np.int64)
    plain = np.flatnonzero(~scientific)
    keys[plain] = _KEY_OF_11 + _weighed(data, first[plain], end[plain])
    if scientific.any():
        written = texts.take(np.flatnonzero(scientific))
        keys[scientific] = _keys_of(_pc().replace_substring_regex(written, _SCIENTIFIC, "\\1\\2"))
    return keys


def _any_of(data: np.ndarray, characters: str) -> np.ndarray:
    """Which bytes are one of these ASCII characters."""
    found = np.zeros(len(data), dtype=bool)
    for byte in characters.encode("ascii"):
        found |= data == byte
    return found


def _next(found: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Per position of ``at``, the first position from it on where ``found`` (one flag
    per byte) is set; ``len(found)`` where none is."""
    where = np.append(np.flatnonzero(found), len(found))
    return where[np.searchsorted(where, at)]


def _spaced(texts):
    """Texts with their no-break and ideographic spaces read as the steps read them, as
    spaces, for numpy's fixed windows."""
    pc = _pc()
    if pc.all(pc.string_is_ascii(texts)).as_py() is not False:
        return texts
    for space in _WIDE_SPACES:
        texts = pc.replace_substring(texts, space, " ")
    return texts


def _keys_of(texts) -> np.ndarray:
    """The keys of a few texts in a common spelling, whatever their spaces."""
    return _KEY_OF_11 + _national_numbers(_Utf8(_spaced(texts)))


def _national_numbers(utf8: _Utf8, rows: np.ndarray | None = None) -> np.ndarray:
    """The 11 digits of each ASCII text (all, or those at ``rows``) the spelling took,
    as integers, read from the array's own buffers in blocks (small temporaries)."""
    count = len(utf8.offsets) - 1 if rows is None else len(rows)
    numbers = np.empty(count, dtype=np.int64)
    for at in range(0, count, _BLOCK):
        block = np.arange(at, min(at + _BLOCK, count)) if rows is None else rows[at : at + _BLOCK]
        start, end = utf8.offsets[block].astype(np.int64), utf8.offsets[block + 1].astype(np.int64)
        numbers[at : at + len(block)] = _weighed(utf8.data, *_trimmed(utf8.data, start, end))
    return numbers


def _trimmed(data: np.ndarray, start: np.ndarray, end: np.ndarray):
    """The texts ``data[start:end]`` without the spaces and tabs around them (at most
    8 each side, as the spelling allows; their 11 digits stay)."""
    for _ in range(8):
        inside = (data[start] == ord(" ")) | (data[start] == ord("\t"))
        if not inside.any():
            break
        start = start + inside
    for _ in range(8):
        inside = (data[end - 1] == ord(" ")) | (data[end - 1] == ord("\t"))
        if not inside.any():
            break
        end = end - inside
    return start, end


def _weighed(data: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The 11 digits of the texts ``data[start:end]``: a window of 13 bytes ends with
    them (after Excel's '...0.0', at the text's end, grouped 3-4-4 or not), weighed by
    one product of small matrices."""
    excel = (end - start > _DIGITS) & (data[np.minimum(start + _DIGITS, len(data) - 1)] == ord("."))
    gap = data[end - (_DIGITS - _GROUPS_AT[-1]) - 1]  # ...DDD DDDD
    grouped = ~excel & ((gap == ord(" ")) | (gap == ord("-")))
    first = np.where(excel, start + _DIGITS, end) - _WINDOW
    halves = _windows(data, first).astype(np.float32) @ _WEIGHTS
    # exact: every sum is below 2**24
    high = np.where(grouped, halves[:, 2], halves[:, 0]).astype(np.int64) - _ZERO_HIGH
    low = np.where(grouped, halves[:, 3], halves[:, 1]).astype(np.int64) - _ZERO_LOW
    return high * 10**_LOW + low


def _windows(data: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The 13 bytes from each of ``first`` on; a byte before the data (the window of an
    ungrouped number at its very start, where it weighs nothing) is 0."""
    if len(data) < _WINDOW:
        data = np.concatenate([data, np.zeros(_WINDOW - len(data), dtype=np.uint8)])
    windows = sliding_window_view(data, _WINDOW)[np.maximum(first, 0)]
    for row in np.flatnonzero(first < 0):  # one text at most: the data's first
        windows[row] = np.concatenate(
            [np.zeros(-first[row], np.uint8), data[: _WINDOW + first[row]]]
        )
    return windows
