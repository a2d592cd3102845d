"""Texts as Arrow strings: digits read from their UTF-8 buffers."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from smsframe.phones._common import NOT_COMMON, SEVERAL_NUMBERS, common_mobiles
from smsframe.phones._decide import _classify, _decide_declined
from smsframe.phones._output import _pa
from smsframe.phones._parse import _engine
from smsframe.phones._reasons import _OK, _SEVERAL, PROVIDER_COUNTRY_CODE
from smsframe.phones._scan import _Scan, _scan, beside, scan_threads
from smsframe.phones._values import (
    _array_of,
    _distinct_texts,
    _factorized_texts,
    _large_strings,
    _Utf8,
)

_NO_KEYS = np.zeros(0, dtype=np.int64)


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


def _as_arrow(values: Any):
    """``(array, dtype, codes)``: the values' texts as Arrow strings, the dtype of Arrow
    strings they came in (else None) and each value's position in ``array`` (-1 where
    missing; None when they are ``array``'s values one for one)."""
    arrow = _arrow_input(values)
    if arrow is not None:
        return *arrow, None
    values = _array_of(values)  # once: an iterator is read once
    texts = _distinct_texts(values)
    if texts is not None:
        return texts, None, None
    codes, texts = _factorized_texts(values)
    missing = codes < 0
    if len(codes) == len(texts) and (missing | (codes == np.arange(len(codes)))).all():
        return _large_strings(texts, missing), None, None  # one text per row
    return _large_strings(texts), None, codes


def _strings_at(array, rows: np.ndarray) -> np.ndarray:
    """The values at ``rows`` of an Arrow string array, as Python strings."""
    strings = np.empty(len(rows), dtype=object)
    strings[:] = array.take(rows).to_pylist()
    return strings


def _decided_non_ascii(array, rows: np.ndarray, region: str) -> _Scan:
    """The results of the values at ``rows`` of an Arrow string array, which are not
    ASCII (full-width digits, CJK text...): the commonest spellings by Arrow's kernels,
    the others read as Python strings."""
    scan, left = _Scan(len(rows)), np.arange(len(rows))
    if region == "CN":
        common = common_mobiles(array.take(rows))
        _write_common(scan, common)
        left = np.flatnonzero(common == NOT_COMMON)
    some = _classify(_strings_at(array, rows[left]), np.ones(len(left), dtype=bool), region)
    scan.reason[left], scan.cc[left], scan.key[left] = some.reason, some.cc, some.key
    return scan


def _write_common(scan: _Scan, common: np.ndarray) -> None:
    """Write what :func:`common_mobiles` found (keys, cells of several numbers)."""
    taken = np.flatnonzero(common >= 0)
    scan.reason[taken], scan.cc[taken], scan.key[taken] = _OK, PROVIDER_COUNTRY_CODE, common[taken]
    scan.reason[common == SEVERAL_NUMBERS] = _SEVERAL


def _decided_arrow(array, region: str) -> _Scan:
    """The results of each value of an Arrow string array (values that repeat a lot are
    decided once each)."""
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
    others = np.flatnonzero(present & ~ascii_)
    with beside(_decided_non_ascii, array, others, region) as decided_others:
        # the commonest spellings by Arrow's kernels (threads without the GIL), the
        # rest by the scan
        rest, common = present & ascii_, _NO_KEYS
        if region == "CN":
            common = common_mobiles(array, scan_threads(), ascii_=ascii_)
            rest &= common == NOT_COMMON
        scan = _scan(_engine(region), _Utf8(array), rest)
    if region == "CN":
        _write_common(scan, common)
    some = decided_others()
    scan.reason[others], scan.cc[others], scan.key[others] = some.reason, some.cc, some.key
    _decide_declined(scan, partial(_strings_at, array), region)
    return scan.take(codes)
