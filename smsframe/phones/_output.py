"""Results per text to the columns :func:`~smsframe.phones.normalize` returns, and how
smsframe writes its text columns: mostly distinct texts (messages) as the Python strings
they are, texts that repeat (details) in Arrow blocks that share their memory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smsframe.phones._digits import _groups
from smsframe.phones._reasons import (
    _DUPLICATE,
    _OK,
    REASON_DTYPE,
)
from smsframe.phones._scan import _Scan, beside
from smsframe.phones._values import _storable

_DEFAULT_TEXT = pd.Series(["x"]).dtype  # pandas' default dtype of text: str, or object


def _text_dtype():
    """The dtype of text columns of mostly distinct texts smsframe adds (messages):
    pandas' default for text (``str`` on pandas 3, object before), stored as the Python
    strings they are built from (no copy into Arrow buffers: a constant message stays
    one object). Texts that repeat are :func:`_text_blocks`."""
    default = _DEFAULT_TEXT
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


_TEXT_BLOCK = 1 << 14  # rows of a text column's Arrow chunk
_MANY = object()  # a block of several texts


def _text_blocks(
    n: int, texts: np.ndarray, index: pd.Index, rows: np.ndarray | None = None
) -> pd.Series:
    """A column of texts that repeat (details, a reason's words) in pandas' default text
    dtype: ``texts`` (str or missing) at ``rows`` (None: every row of ``n``), missing
    elsewhere.

    In Arrow, a block of rows holding no text, or one text repeated, is one chunk
    shared with every such block: a column missing in most rows costs next to nothing,
    and a sparse one is never spelled out row by row.
    """
    texts = np.asarray(texts, dtype=object)
    if rows is not None:
        order = np.argsort(rows, kind="stable")
        rows, texts = rows[order], texts[order]
    if not (isinstance(_DEFAULT_TEXT, pd.StringDtype) and _DEFAULT_TEXT.storage == "pyarrow"):
        values = texts if rows is None else _scattered(n, texts, rows)
        codes, distinct = pd.factorize(values)
        distinct = pd.Series(np.asarray(distinct, dtype=object), dtype=_DEFAULT_TEXT).array
        return pd.Series(distinct.take(codes, allow_fill=True), index=index, dtype=_DEFAULT_TEXT)
    pa = _pa()
    starts = (
        None if rows is None else np.searchsorted(rows, np.arange(0, n + _TEXT_BLOCK, _TEXT_BLOCK))
    )
    shared: dict[str | None, object] = {}  # per text (None: missing), a block of it
    chunks = []
    for k, at in enumerate(range(0, n, _TEXT_BLOCK)):
        end = min(at + _TEXT_BLOCK, n)
        if starts is None:
            block = texts[at:end]
        elif starts[k] == starts[k + 1]:
            block = None
        else:
            block = _scattered(
                end - at, texts[starts[k] : starts[k + 1]], rows[starts[k] : starts[k + 1]] - at
            )
        one = _only_text(block)
        if one is _MANY:
            chunks.append(_block_of_texts(block))
            continue
        if one not in shared:
            shared[one] = _block_of_texts(np.array([one] * _TEXT_BLOCK, dtype=object))
        chunks.append(shared[one].slice(0, end - at))
    array = pa.chunked_array(chunks, type=pa.large_string())
    return pd.Series(pd.array(array, dtype=_DEFAULT_TEXT), index=index, copy=False)


def _no_text(index: pd.Index) -> pd.Series:
    """A text column missing in every row (in Arrow, next to no memory)."""
    return _text_blocks(len(index), np.zeros(0, dtype=object), index, np.zeros(0, dtype=np.intp))


def _arrow_chunks(column: pd.Series) -> list | None:
    """The Arrow chunks of an Arrow-backed column (its own buffers), else None."""
    dtype = column.dtype
    if not isinstance(dtype, pd.StringDtype | pd.ArrowDtype) or dtype.storage != "pyarrow":
        return None
    return _pa().chunked_array(_pa().array(column.array)).chunks


def _present(column: pd.Series) -> np.ndarray:
    """The rows where a column has a value, ascending: in Arrow, its chunks of none are
    skipped (no flag per row)."""
    chunks = _arrow_chunks(column)
    if chunks is None:
        return np.flatnonzero(column.notna().to_numpy())
    rows, at = [np.zeros(0, dtype=np.intp)], 0
    for chunk in chunks:
        if chunk.null_count < len(chunk):
            rows.append(at + np.flatnonzero(chunk.is_valid().to_numpy(zero_copy_only=False)))
        at += len(chunk)
    return np.concatenate(rows)


def _texts_at(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """The values at ``rows`` (ascending) of a column, as Python objects (None where
    missing in Arrow). Arrow's chunks are read one by one: a take on a chunked array
    first joins its chunks, a copy of the whole column."""
    chunks = _arrow_chunks(column)
    if chunks is None:
        return column.to_numpy(dtype=object)[rows]  # Python objects already: no copy
    out = np.empty(len(rows), dtype=object)
    at = 0
    for chunk in chunks:
        first, last = np.searchsorted(rows, [at, at + len(chunk)])
        if last > first:
            out[first:last] = chunk.take(rows[first:last] - at).to_pylist()
        at += len(chunk)
    return out


def _scattered(n: int, texts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``n`` missing values but ``texts`` at ``rows``."""
    out = np.full(n, None, dtype=object)
    out[rows] = texts
    return out


def _only_text(block: np.ndarray | None):
    """The one text of a block (None: it has none), else :data:`_MANY`."""
    if block is None:
        return None
    missing = pd.isna(block)
    if missing.all():
        return None
    first = block[0]
    if missing.any() or not isinstance(first, str):
        return _MANY
    return first if (block == first).all() else _MANY


def _block_of_texts(block: np.ndarray):
    """A block's texts as Arrow strings: a lone surrogate (which UTF-8 cannot hold) as
    its escape, values that are not text as pandas writes them."""
    pa = _pa()
    try:
        return pa.array(block, type=pa.large_string(), from_pandas=True)
    except UnicodeEncodeError:
        return _block_of_texts(
            np.array([_storable(t) if isinstance(t, str) else t for t in block], dtype=object)
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        written = pd.array(block, dtype=_DEFAULT_TEXT).to_numpy(dtype=object, na_value=None)
        return pa.array(written, type=pa.large_string())


def _number_column(numbers, dtype, index: pd.Index) -> pd.Series:
    """Arrow strings (an array or a chunked one) as a column of ``dtype`` (Arrow-backed:
    no copy)."""
    if (
        isinstance(dtype, pd.ArrowDtype | pd.StringDtype)
        and getattr(dtype, "storage", "") != "python"
    ):
        return pd.Series(pd.array(numbers, dtype=dtype), index=index, copy=False)
    values = numbers.to_numpy(zero_copy_only=False)  # str, None where missing
    if isinstance(dtype, pd.StringDtype):
        values[np.equal(values, None)] = dtype.na_value
    return pd.Series(values, index=index, dtype=dtype, copy=False)


def _assemble(rows: _Scan, index: pd.Index, dedupe: bool, dtype=None) -> pd.DataFrame:
    """The columns :func:`~smsframe.phones.normalize` returns, from each row's results
    (whose reasons ``dedupe`` changes in place); text columns of ``dtype`` (the Arrow
    text dtype the values came in), else of pandas' default for text (``str`` in Arrow
    on pandas 3, ``object`` before)."""
    reason = rows.reason
    if dedupe:
        _mark_duplicates(reason, rows.key)
    sendable = (reason == _OK) | (reason == _DUPLICATE)
    with beside(_in_blocks, _e164_texts, rows.key, rows.cc) as e164:
        national = _in_blocks(_national_texts, rows.key, sendable)
    if dtype is None:
        dtype = pd.Series(["x"]).dtype
    return pd.DataFrame(
        {
            "sms_phone": _number_column(national, dtype, index),
            "sms_e164": _number_column(e164(), dtype, index),
            "sms_reason": pd.Categorical.from_codes(reason, dtype=REASON_DTYPE),
        },
        index=index,
        copy=False,
    )


# Output texts are written by Arrow's kernels from integers (a cast), without a Python
# object per value. A key is an NSN's length * 10**17 + the NSN: they come split in two.
_POWERS = 10 ** np.arange(18, dtype=np.int64)
_NO_BYTES = np.zeros(0, dtype=np.uint8)


_BLOCK = 1 << 17  # rows written at once: small temporaries


def _in_blocks(write, key: np.ndarray, *columns: np.ndarray):
    """``write(length, value, *columns)`` of each block of rows (a key split in two),
    as one chunked Arrow array of strings."""
    pa = _pa()
    chunks = []
    for at in range(0, len(key), _BLOCK):
        length, value = np.divmod(np.maximum(key[at : at + _BLOCK], 0), 10**17)  # -1: 0, 0
        chunks.append(write(length, value, *(c[at : at + _BLOCK] for c in columns)))
    return pa.chunked_array(chunks, type=pa.large_string())


def _national_texts(length: np.ndarray, value: np.ndarray, mask: np.ndarray):
    """Arrow strings: each NSN (its length, its value) where ``mask``, else null."""
    pa, pc = _pa(), _pc()
    national = pc.cast(pa.array(value, mask=~mask), pa.large_string())
    # a leading zero (Italy's 06...) is not in the integer: pad to the NSN's length
    zeros = np.flatnonzero(mask & (value < _POWERS[np.maximum(length - 1, 0)]))
    if zeros.size:
        groups = list(_groups(length[zeros]))
        padded = [pc.utf8_lpad(national.take(zeros[at]), k, "0") for k, at in groups]
        order = np.concatenate([zeros[at] for _, at in groups])
        national = _replaced(national, order, pa.chunked_array(padded).combine_chunks())
    return national


def _e164_texts(length: np.ndarray, value: np.ndarray, cc: np.ndarray):
    """Arrow strings: the E.164 form of each NSN (its length, its value) with its
    country code, null where there is none (length 0)."""
    pa, pc = _pa(), _pc()
    valid = length > 0
    # the country code and NSN as one integer (the code has no leading zero, so the
    # NSN keeps its own), negative: cast, its '-' is where the '+' goes
    fits = valid & (length <= 15)
    whole = np.where(fits, -(cc.astype(np.int64) * _POWERS[length] + value), 0)
    minus = pc.cast(pa.array(whole, mask=~fits), pa.large_string())
    del whole
    validity, offsets, data = minus.buffers()
    starts = np.frombuffer(offsets, dtype=np.int64, count=len(length))
    signed = np.frombuffer(data, dtype=np.uint8).copy() if data is not None else _NO_BYTES
    signed[starts[fits]] = ord("+")
    e164 = pa.LargeStringArray.from_buffers(
        len(length), offsets, pa.py_buffer(signed), validity, minus.null_count
    )
    long = np.flatnonzero(valid & ~fits)  # more digits than an int64 holds: as text
    if long.size:
        text = pa.large_string()
        national = _national_texts(length[long], value[long], np.ones(len(long), dtype=bool))
        codes = pc.cast(pa.array(cc[long].astype(np.int64)), text)
        joined = pc.binary_join_element_wise(
            pa.scalar("+", text), codes, national, pa.scalar("", text)
        )
        e164 = _replaced(e164, long, joined)
    return e164


def _replaced(array, rows: np.ndarray, values):
    """``array`` with the values at ``rows`` (ascending or not) replaced by ``values``."""
    pa, pc = _pa(), _pc()
    order = np.argsort(rows, kind="stable")
    mask = np.zeros(len(array), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(array, pa.array(mask), values.take(pa.array(order)))


def _pa():
    import pyarrow

    return pyarrow


def _pc():
    import pyarrow.compute

    return pyarrow.compute


def _mark_duplicates(reason: np.ndarray, key: np.ndarray) -> None:
    """Sendable rows whose number an earlier row has: ``duplicate`` (in place)."""
    sendable = reason == _OK
    every = sendable.all()  # then no copy of the keys
    repeated = pd.Series(key if every else key[sendable], copy=False).duplicated().to_numpy()
    reason[repeated if every else np.flatnonzero(sendable)[repeated]] = _DUPLICATE
