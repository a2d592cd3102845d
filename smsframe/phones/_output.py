"""Results per text to the columns :func:`~smsframe.phones.normalize` returns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smsframe.phones._digits import _groups
from smsframe.phones._reasons import (
    _DUPLICATE,
    _EMPTY,
    _OK,
    PROVIDER_COUNTRY_CODE,
    REASON_DTYPE,
)
from smsframe.phones._scan import _Scan


def _text_dtype():
    """The dtype of text columns smsframe adds: pandas' default for text (``str`` on
    pandas 3, object before), stored as the Python strings they are built from (no
    copy into Arrow buffers: a constant message stays one object)."""
    default = pd.Series(["x"]).dtype
    if isinstance(default, pd.StringDtype):
        try:
            return pd.StringDtype("python", na_value=default.na_value)
        except TypeError:  # pragma: no cover - pandas 2.2 with future.infer_string
            return default
    return np.dtype(object)


_TEXT_DTYPE = _text_dtype()
_MISSING_TEXT = _TEXT_DTYPE.na_value if isinstance(_TEXT_DTYPE, pd.StringDtype) else None


def _text_column(values: np.ndarray, index: pd.Index) -> pd.Series:
    """An object array of str and missing markers (``_MISSING_TEXT``) as a text
    column. The array is used as is (not copied)."""
    dtype = _TEXT_DTYPE
    if pd.api.types.is_object_dtype(dtype):
        return pd.Series(values, index=index, dtype=object, copy=False)
    if dtype.storage == "python":
        try:  # no per-value conversion: values are str or the missing marker already
            array = pd.arrays.StringArray(values, dtype=dtype)
        except TypeError:  # pragma: no cover - pandas 2.x signature
            array = pd.array(values, dtype=dtype)
        return pd.Series(array, index=index, copy=False)
    return pd.Series(values, index=index, dtype=dtype)  # pragma: no cover


def _national_strings(keys: np.ndarray) -> np.ndarray:
    """The national significant numbers (str) of NSN keys."""
    out = np.empty(len(keys), dtype=object)
    for k, at in _groups(keys // 10**17):
        value = keys[at] % 10**17
        digits = np.empty((len(at), k), dtype=np.uint8)
        for j in range(k - 1, -1, -1):
            quotient = value // 10
            digits[:, j] = value - quotient * 10 + 48
            value = quotient
        out[at] = digits.view(f"S{k}").ravel().astype(f"U{k}")
    return out


def _assemble(codes, texts, scan: _Scan, index: pd.Index, dedupe: bool) -> pd.DataFrame:
    """Row-level columns from per-text results."""
    phone = np.empty(len(texts) + 1, dtype=object)  # +1: the slot of missing rows
    phone.fill(_MISSING_TEXT)
    e164 = phone.copy()
    valid = np.flatnonzero(scan.key >= 0)
    for code, at in _groups(scan.cc[valid].astype(np.intp)):
        group = valid[at]
        canonical = scan.canonical[group]
        for t, national in (
            (group[canonical], texts[group[canonical]]),  # the input's own str
            (group[~canonical], _national_strings(scan.key[group[~canonical]])),
        ):
            e164[t] = f"+{code}" + national
            if code == PROVIDER_COUNTRY_CODE:
                sendable = scan.reason[t] == _OK
                phone[t[sendable]] = national[sendable]
    reason = np.append(scan.reason, np.int8(_EMPTY))[codes]  # codes == -1: missing
    if dedupe:
        _mark_duplicates(reason, scan.key, codes)
    if len(codes) == len(texts) and ((codes < 0) | (codes == np.arange(len(codes)))).all():
        phone, e164 = phone[:-1], e164[:-1]  # one text per row already (missing: -1, no number)
    else:
        phone, e164 = phone.take(codes), e164.take(codes)
    return pd.DataFrame(
        {
            "sms_phone": _text_column(phone, index),
            "sms_e164": _text_column(e164, index),
            "sms_reason": pd.Categorical.from_codes(reason, dtype=REASON_DTYPE),
        },
        index=index,
        copy=False,
    )


def _mark_duplicates(reason: np.ndarray, key: np.ndarray, codes: np.ndarray | None = None):
    """Sendable rows whose number an earlier row has: ``duplicate`` (in place)."""
    sendable = np.flatnonzero(reason == _OK)
    keys = key[sendable] if codes is None else key[codes[sendable]]
    repeated = pd.Series(keys).duplicated(keep="first").to_numpy()
    reason[sendable[repeated]] = _DUPLICATE
