"""Cells to text: what phonenumbers is given for a value of any type."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

_UNREADABLE = "\ufffd"  # stands for a value whose str() raised: not_a_number
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_of(value: Any) -> str | None:
    """The text phonenumbers is given for one cell; ``None`` for a missing value.

    Integers and integral floats become their digits (``1.3800138e10`` ->
    ``'13800138000'``), other floats their ``repr``, bytes are decoded as UTF-8,
    anything else goes through ``str``.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if f != f:
            return None
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        if pd.isna(value) is True:
            return None
    except Exception:  # e.g. Decimal('sNaN') refuses to be compared
        pass
    try:
        return str(value)
    except Exception:
        return _UNREADABLE


def _factorized_texts(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, texts)``: row i's text is ``texts[codes[i]]``, missing where codes == -1
    (then ``texts`` may hold anything there).

    Typed columns (numbers, categoricals...) are factorized, and so are string
    columns whose values repeat a lot. Hashing a column of mostly distinct strings
    would cost more than the fast path it saves: those keep one text per row (and
    what the fast path leaves to phonenumbers is de-duplicated before it goes).
    """
    array = _array_of(values)
    dtype = array.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes, texts = _factorized_texts(array.categories)
        cat_codes = np.asarray(array.codes, dtype=np.intp)
        codes = np.where(cat_codes >= 0, codes[np.maximum(cat_codes, 0)], -1)
        return codes, texts
    if pd.api.types.is_string_dtype(dtype) and not isinstance(array, np.ndarray):
        array = array.to_numpy(dtype=object, na_value=None)
    elif not (isinstance(array, np.ndarray) and array.dtype == object):
        # numbers, booleans, datetimes...: few distinct values, cheap to factorize
        codes, uniques = pd.factorize(array, use_na_sentinel=True)
        codes, texts = np.asarray(codes, dtype=np.intp), _texts_of_array(uniques)
        missing = np.equal(texts, None)  # NA-like values factorize does not know
        if missing.any():
            codes = np.where(missing[np.maximum(codes, 0)], -1, codes)
        return codes, texts
    n = len(array)
    codes = np.arange(n, dtype=np.intp)
    if pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty"):
        if _repetitive(array):
            codes, uniques = pd.factorize(array, use_na_sentinel=True)
            return np.asarray(codes, dtype=np.intp), np.asarray(uniques, dtype=object)
        codes[pd.isna(array)] = -1
        return codes, array
    # mixed column (say strings and Excel numbers): convert the non-strings only
    kinds = np.fromiter(map(type, array), dtype=object, count=n)
    others = np.flatnonzero(np.not_equal(kinds, str))
    array = array.copy()
    array[others] = converted = _texts(array[others], kinds[others])
    codes[others[np.equal(converted, None)]] = -1
    return codes, array


def _array_of(values: Any):
    """The values' array: a numpy array as is, an extension array (categorical, Arrow,
    nullable...) as is, anything else as an object array."""
    if isinstance(values, pd.Series | pd.Index):
        array = values.array
    elif isinstance(values, np.ndarray | pd.api.extensions.ExtensionArray):
        array = values
    else:
        array = np.asarray(list(values), dtype=object)
    if isinstance(array, pd.arrays.NumpyExtensionArray):
        array = np.asarray(array)  # its numpy array, as is
    if isinstance(array, np.ndarray) and array.ndim != 1:
        raise ValueError(f"phone values must be one-dimensional, got shape {array.shape}")
    return array


def _distinct_texts(values: Any):
    """An object column of text (or missing values), mostly distinct, as Arrow strings
    straight away (what pandas 2 reads, or a list): None for any other values, which
    :func:`_factorized_texts` turns into text first."""
    import pyarrow as pa

    array = _array_of(values)
    if not (isinstance(array, np.ndarray) and array.dtype == object):
        return None
    if pd.api.types.infer_dtype(array, skipna=True) not in ("string", "empty"):
        return None
    if _repetitive(array):
        return None
    try:  # missing values (None, NaN, pd.NA, NaT) are nulls, as pandas reads them
        return _large_strings(array)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a missing value Arrow does not know
        return None


def _repetitive(array: np.ndarray, sample: int = 4096) -> bool:
    """Whether a sample of the values shows fewer than half distinct ones."""
    if len(array) < 2 * sample:
        return False
    picked = array[:: len(array) // sample].tolist()
    return len(set(picked)) < len(picked) // 2


def _texts(values: np.ndarray, kinds: np.ndarray | None = None) -> np.ndarray:
    """Texts of an object array of any values (``None`` where missing); ``kinds``:
    their types, if known."""
    if kinds is None:
        kinds = np.fromiter(map(type, values), dtype=object, count=len(values))
    out = np.empty(len(values), dtype=object)
    todo = np.not_equal(kinds, type(None))
    ints = np.equal(kinds, int)
    if ints.any():  # Python ints, whatever their size
        out[ints] = list(map(str, values[ints]))
        todo &= ~ints
    floats = np.equal(kinds, float)
    if floats.any():
        out[floats] = _texts_of_array(values[floats].astype(np.float64))
        todo &= ~floats
    for i in np.flatnonzero(todo):
        out[i] = _text_of(values[i])
    return out


def _texts_of_array(uniques: Any) -> np.ndarray:
    """Texts of an array (numbers vectorised, other values one by one)."""
    if isinstance(uniques, pd.api.extensions.ExtensionArray):
        if pd.api.types.is_integer_dtype(uniques.dtype) or pd.api.types.is_float_dtype(
            uniques.dtype
        ):
            uniques = uniques.to_numpy(dtype=uniques.dtype.numpy_dtype)
        else:
            uniques = uniques.to_numpy(dtype=object)
    uniques = np.asarray(uniques)
    out = np.empty(len(uniques), dtype=object)
    todo = np.ones(len(uniques), dtype=bool)
    if uniques.dtype.kind in "iu":
        out[:] = uniques.astype(str).astype(object)
        todo[:] = False
    elif uniques.dtype.kind == "f":
        todo = ~np.isnan(uniques)  # NaN is missing (None)
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(uniques) & (np.abs(uniques) < 2.0**62)
            integral &= uniques == np.round(uniques)
        out[integral] = uniques[integral].astype(np.int64).astype(str).astype(object)
        todo &= ~integral
    elif uniques.dtype == object:
        todo = np.fromiter((type(v) is not str for v in uniques), bool, len(uniques))
        out[~todo] = uniques[~todo]
    for i in np.flatnonzero(todo):
        out[i] = _text_of(uniques[i])
    return out


def _large_strings(texts: Any, missing: np.ndarray | None = None):
    """``texts`` (str, or missing as pandas spells it) as an Arrow ``large_string`` array,
    null where ``missing``. UTF-8 cannot hold a lone surrogate: there (rarely) it reads
    U+FFFD, which phonenumbers takes for junk just as it takes the surrogate.

    >>> _large_strings(["138", None, "\\ud800"]).to_pylist()
    ['138', None, '\\ufffd']
    """
    import pyarrow as pa

    try:
        return pa.array(texts, type=pa.large_string(), mask=missing, from_pandas=True)
    except UnicodeEncodeError:
        texts = np.array(
            [_LONE_SURROGATE.sub(_UNREADABLE, t) if isinstance(t, str) else t for t in texts],
            dtype=object,
        )
        return pa.array(texts, type=pa.large_string(), mask=missing, from_pandas=True)


def _storable(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (``\\ud800``): a text
    column (UTF-8 in Arrow) cannot hold one."""
    return _LONE_SURROGATE.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


class _Utf8:
    """Values in an Arrow string array, read from its buffers (no Python objects).
    Only its ASCII values go through here: then a byte is a character."""

    def __init__(self, array) -> None:
        import pyarrow as pa

        offsets, data = array.buffers()[1:3]
        kind = np.int64 if array.type.equals(pa.large_string()) else np.int32
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
