"""Arrow-backed strings: read from their UTF-8 buffers, results built as Arrow strings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from smsframe.phones._decide import _classify, _decide_declined
from smsframe.phones._digits import _groups
from smsframe.phones._output import _mark_duplicates
from smsframe.phones._parse import _engine
from smsframe.phones._reasons import _DUPLICATE, _EMPTY, _MAX_NSN, _OK, REASON_DTYPE
from smsframe.phones._scan import _BATCH, _scan


def _pa():
    import pyarrow

    return pyarrow


class _Utf8:
    """Values in an Arrow string array, read from its buffers (no Python objects).
    Only its ASCII values go through here: then a byte is a character."""

    def __init__(self, array) -> None:
        offsets, data = array.buffers()[1:3]
        kind = np.int64 if array.type.equals(_pa().large_string()) else np.int32
        end = array.offset + len(array) + 1
        self.offsets = np.frombuffer(offsets, dtype=kind, count=end)[array.offset :]
        self.data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
        self.windows: dict[int, np.ndarray] = {}

    def lengths(self, rows: np.ndarray) -> np.ndarray:
        return (self.offsets[rows + 1] - self.offsets[rows]).astype(np.int64)

    def chars(self, rows: np.ndarray, k: int) -> np.ndarray:
        if k not in self.windows:  # every run of k bytes, as a view (a value of k bytes
            self.windows[k] = np.lib.stride_tricks.sliding_window_view(self.data, k)  # fits)
        return self.windows[k][self.offsets[rows]]


def _arrow_input(values: Any):
    """(the pyarrow string array, its pandas dtype) behind Arrow-backed string values."""
    array = values.array if isinstance(values, pd.Series | pd.Index) else values
    dtype = getattr(array, "dtype", None)
    if isinstance(dtype, pd.StringDtype):
        arrow = dtype.storage != "python"
    elif isinstance(dtype, pd.ArrowDtype):
        kind = dtype.pyarrow_dtype
        arrow = _pa().types.is_string(kind) or _pa().types.is_large_string(kind)
    else:
        arrow = False
    if not arrow:
        return None
    data = _pa().array(array)  # the same buffers (__arrow_array__)
    if isinstance(data, _pa().ChunkedArray):
        data = data.combine_chunks()
    return data, dtype


def _normalize_arrow(array, dtype, index: pd.Index, region: str, dedupe: bool) -> pd.DataFrame:
    """:func:`normalize` for Arrow strings: digits are read from the UTF-8 buffers and
    the results built as Arrow strings, without a Python object per value."""
    codes, scan = _decided_arrow(array, region)
    reason, cc, key, canonical = scan.reason, scan.cc, scan.key, scan.canonical
    del scan  # before the outputs are built
    if codes is not None:
        reason = np.append(reason, np.int8(_EMPTY))[codes]
        cc, key = np.append(cc, np.int16(0))[codes], np.append(key, -1)[codes]
        canonical = np.append(canonical, False)[codes]
    if dedupe:
        _mark_duplicates(reason, key)
    phone = (reason == _OK) | (reason == _DUPLICATE)
    phone = _arrow_column(array, key, cc, canonical, phone, False)
    e164 = _arrow_column(array, key, cc, canonical, key >= 0, True)
    return pd.DataFrame(
        {
            "sms_phone": pd.Series(pd.array(phone, dtype=dtype), index=index, copy=False),
            "sms_e164": pd.Series(pd.array(e164, dtype=dtype), index=index, copy=False),
            "sms_reason": pd.Categorical.from_codes(reason, dtype=REASON_DTYPE),
        },
        index=index,
        copy=False,
    )


def _decided_arrow(array, region: str):
    """``(codes, scan)``: the results per distinct value (``scan``) and each row's value
    (``codes``, -1 where missing), or per row (codes None) when values rarely repeat."""
    import pyarrow.compute as pc

    codes = None
    if len(array) >= 2 * 4096:
        sample = array.take(np.arange(0, len(array), len(array) // 4096))
        if pc.count_distinct(sample).as_py() < len(sample) // 2:  # repetitive: dedupe first
            encoded = array.dictionary_encode()
            codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            array = encoded.dictionary
    present = array.is_valid().to_numpy(zero_copy_only=False)
    ascii_ = pc.string_is_ascii(array).fill_null(False).to_numpy(zero_copy_only=False)
    # smaller batches: the working memory must stay small next to a compact input
    scan = _scan(_engine(region), _Utf8(array), present & ascii_, _BATCH // 4)
    others = np.flatnonzero(present & ~ascii_)  # full-width digits, CJK text...: str
    if others.size:
        texts = np.empty(len(others), dtype=object)
        texts[:] = array.take(others).to_pylist()
        some = _classify(texts, np.ones(len(others), dtype=bool), region)
        scan.reason[others], scan.cc[others], scan.key[others] = some.reason, some.cc, some.key

    def python_strings(rows: np.ndarray) -> np.ndarray:
        strings = np.empty(len(rows), dtype=object)
        strings[:] = array.take(rows).to_pylist()
        return strings

    _decide_declined(scan, python_strings, region)
    return codes, scan


def _arrow_column(
    array,
    key: np.ndarray,
    cc: np.ndarray,
    canonical: np.ndarray,
    mask: np.ndarray,
    international: bool,
):
    """:func:`_arrow_numbers` of every row, where a value is exactly its NSN's digits
    (``canonical``: a tidy column's usual case) taken from ``array`` itself, in C++."""
    pa, pc = _pa(), _pa().compute
    reuse = mask & canonical
    if not reuse.any():
        return _arrow_numbers(key, cc, mask, international)
    code = int(cc[np.argmax(reuse)])
    reuse &= cc == code  # a value that is its NSN was read as a national number: one code
    kind = array.type
    column = pc.if_else(pa.array(reuse), array, pa.scalar(None, kind))
    if international:
        head, nothing = pa.scalar(f"+{code}", kind), pa.scalar("", kind)
        column = pc.binary_join_element_wise(head, column, nothing)
    built = mask & ~reuse
    if built.any():
        numbers = _arrow_numbers(
            key[built], cc[built], np.ones(int(built.sum()), bool), international
        )
        column = pc.replace_with_mask(column, pa.array(built), numbers.cast(kind))
    return column


def _arrow_numbers(key: np.ndarray, cc: np.ndarray, mask: np.ndarray, international: bool):
    """An Arrow string array: the NSN of ``key`` (with ``'+'`` and the country code if
    ``international``) where ``mask``, else null. Built from bytes, block by block."""
    pa = _pa()
    n = len(key)
    blocks = [slice(first, first + (1 << 15)) for first in range(0, n, 1 << 15)]
    size = np.zeros(n, dtype=np.uint8)  # characters of each string
    for block in blocks:
        c = cc[block]
        head = 2 + (c >= 10) + (c >= 100) if international else 0
        size[block] = np.where(mask[block], key[block] // 10**17 + head, 0)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(size, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for block in blocks:
        rows = np.flatnonzero(mask[block]) + block.start
        if rows.size == 0:
            continue
        length, value, code = key[rows] // 10**17, key[rows] % 10**17, cc[rows].astype(np.int64)
        digits = np.empty((len(rows), _MAX_NSN), dtype=np.uint8)  # right-aligned
        for j in range(_MAX_NSN - 1, -1, -1):
            quotient = value // 10
            digits[:, j] = value - quotient * 10 + 48
            value = quotient
        width = int(size[rows].max())
        text = np.zeros((len(rows), width), dtype=np.uint8)
        head = (2 + (code >= 10) + (code >= 100)) if international else np.zeros_like(code)
        for shape, at in _groups(length * 8 + head):
            k, h = divmod(shape, 8)
            if international:
                text[at, 0] = ord("+")
                for d in range(h - 1):
                    text[at, 1 + d] = code[at] // 10 ** (h - 2 - d) % 10 + 48
            text[at, h : h + k] = digits[at, _MAX_NSN - k :]
        data[offsets[rows[0]] : offsets[rows[-1] + 1]] = text[np.arange(width) < size[rows, None]]
    bitmap = np.packbits(mask, bitorder="little")
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), pa.py_buffer(bitmap), n - int(mask.sum())
    )
