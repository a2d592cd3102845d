"""The commonest spellings of all, read by Arrow's regular expressions: a mainland China
mobile's 11 digits alone or grouped 3-4-4 by spaces or dashes, after ``+86``, ``(+86)``,
``0086``, ``86`` or nothing, or as Excel's text of the number (``13800138000.0``);
spaces and tabs around it (tab-separated exports) are not part of it. CN is the
default region.

Arrow's kernels (RE2, in C++) release the GIL, so threads take a core each, which the
numpy scan, with Python between its steps, cannot. What phonenumbers does with such a
text is known from CN's metadata alone (the spaces and tabs around it and the
brackets of ``(+86)`` are dropped by parse as by any reader, Excel's ``.0`` by the
documented steps): no national prefix or carrier code to strip
from a mobile, the country code read from ``+86``/``0086`` or, without them, stripped
because the 13 digits are too long for CN; then the number is valid and its type
``MOBILE`` exactly when its 11 digits match the mobile pattern, the general one and none
of the types ``number_type`` tries first. Every pattern comes from phonenumbers' own
metadata, and a number a pattern here might not decide alike (a national or
international prefix at its start) is left to the scan.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import phonenumbers

from smsframe.phones._metadata import _DESCS, _TYPE_ORDER
from smsframe.phones._output import _pa, _pc

_AROUND = "[ \t]{0,8}"  # bounded: a text over phonenumbers' length limit is the scan's
_SPELLING = (
    f"^{_AROUND}(?:"
    r"(?:(?:\+86|\(\+86\)|0086|86)[ -]?)?1[0-9]{2}(?:[0-9]{8}| [0-9]{4} [0-9]{4}|-[0-9]{4}-[0-9]{4})"
    r"|1[0-9]{10}\.0{1,8}"  # Excel's text of the number: its digits (the documented steps)
    f"){_AROUND}$"
)
_DIGITS = 11
_SLICE = 1 << 16  # values worth a thread of their own
_KEY_OF_11 = _DIGITS * 10**17  # a key is the NSN's length * 10**17 + the NSN
# number_type's order: a number of these types is not a mobile
_TRIED_FIRST = [_DESCS[i] for i, _ in _TYPE_ORDER]


@functools.cache
def _patterns() -> tuple[list[str], str] | None:
    """(patterns the 11 digits must match, one they must not), as RE2 takes them, from
    CN's metadata; None when that metadata has no 11-digit mobiles."""
    cn = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    general, mobile = cn.general_desc, cn.mobile
    if _DIGITS not in general.possible_length or _DIGITS not in mobile.possible_length:
        return None
    must = [f"^(?:{general.national_number_pattern})$", f"^(?:{mobile.national_number_pattern})$"]
    tried = [getattr(cn, name) for name in _TRIED_FIRST]
    not_mobile = [
        f"(?:{d.national_number_pattern})$" for d in tried if d and d.national_number_pattern
    ]
    # a national or international prefix parse would strip: left to the scan
    stripped = [f"(?:{p})" for p in (cn.national_prefix_for_parsing, cn.international_prefix) if p]
    return must, f"^(?:{'|'.join(not_mobile + stripped)})"


def common_mobiles(array, threads: int = 1) -> np.ndarray:
    """Per value of an Arrow string array, the key of the mainland mobile it spells in
    one of the commonest ways, else -1 (any other value, missing, or not a mobile);
    the default region must be CN. ``threads``: slices read side by side."""
    if threads < 2 or len(array) < _SLICE:
        return _keys(array)
    bounds = np.linspace(0, len(array), threads + 1).astype(int)
    slices = [array.slice(a, b - a) for a, b in pairwise(bounds.tolist())]
    with ThreadPoolExecutor(threads) as pool:
        return np.concatenate(list(pool.map(_keys, slices)))


def _keys(array) -> np.ndarray:
    pa, pc = _pa(), _pc()
    keys = np.full(len(array), -1, dtype=np.int64)
    patterns = _patterns()
    if patterns is None:
        return keys
    spelled = pc.match_substring_regex(array, _SPELLING).fill_null(False)
    rows = np.flatnonzero(spelled.to_numpy(zero_copy_only=False))
    if rows.size == 0:
        return keys
    texts = pc.ascii_trim_whitespace(array.take(rows))
    grouped = pc.replace_substring(pc.replace_substring(texts, " ", ""), "-", "")
    digits = pc.if_else(
        pc.match_substring(texts, "."),
        pc.utf8_slice_codeunits(texts, 0, _DIGITS),  # before Excel's .0
        pc.utf8_slice_codeunits(grouped, -_DIGITS),  # after +86, (+86), 0086 or 86
    )
    must, must_not = patterns
    mobile = pc.invert(pc.match_substring_regex(digits, must_not))
    for pattern in must:
        mobile = pc.and_(mobile, pc.match_substring_regex(digits, pattern))
    chosen = np.flatnonzero(mobile.to_numpy(zero_copy_only=False))
    national = pc.cast(digits.take(chosen), pa.int64()).to_numpy(zero_copy_only=False)
    keys[rows[chosen]] = _KEY_OF_11 + national
    return keys
