r"""Phone numbers: messy values in, what the provider accepts out, a reason per row.

:func:`normalize` turns a column of phone numbers written any way analysts write
them (``'138 0013 8000'``, ``'+86 138-0013-8000'``, ``'0086 13800138000'``,
full-width digits, Excel floats such as ``1.3800138e10``, ``None``...) into three
columns, on the same index:

``sms_phone``
    the 11 national digits of a mainland China mobile (what is sent to the
    provider), else missing;
``sms_e164``
    the E.164 form whenever ``phonenumbers`` finds a valid number, foreign ones
    included;
``sms_reason``
    a categorical token (see :data:`REASON_TEXT`), missing when the row can be
    sent.

Decisions (ours, where phonenumbers alone misleads), in this order
    1. Every whitespace character but a line break is a space.
    2. Text that is exactly Excel's text of an integral number
       (``'13800138000.0'``, ``'1.3800138E+10'``) is that integer's digits, as
       the float value already is.
    3. A ``tel:`` URI's parameters (``;ext=``, ``;phone-context=``) are dropped.
    4. Several numbers in one cell, split by ``;`` ``,`` ``，`` ``；`` ``/`` ``、``
       or a line break (an extension at the end of a part, ``ext. 12``, ``x12``,
       ``#12``, ``转12``, ``分机12``, is dropped first and does not count), or
       written as two runs of 7 or more digits, give the reason
       ``several_numbers``: nothing is sent for that row, and
       :func:`several_numbers` (and a plan's ``sms_detail``) lists them.
    5. Letters are labels, never digits (for mainland China no letter stands for
       a digit): ``'13800138007 (mobile)'``, ``'手机：138...'`` and
       ``'mobile 181 1411 0562 (home)'`` are the numbers they label. A letter is
       a word character that is not a digit (``str.isalnum`` and not ``\d``).
    A text with no digit left is ``not_a_number``.

Exactness
    After these steps, validity, E.164 and mobile-ness are exactly what
    ``phonenumbers`` says (``parse(text, region)``, ``is_valid_number``,
    ``number_type``) for every value; ``tests/test_phones.py`` checks this
    against a per-row reference that implements the steps on its own.

Speed
    Most values never reach ``phonenumbers``. With CN the default region, a mobile's
    commonest spellings (11 digits alone or 3-4-4 with spaces, no-break spaces or
    dashes, after ``+86``, ``(+86)``, ``0086``, ``86`` or nothing, or Excel's
    ``'...0.0'``, with spaces or tabs around) are read first by one of Arrow's regular
    expressions, written from a digit automaton of phonenumbers' metadata, on threads
    that take a core each; so are those spellings after a label (``Tel:``,
    ``手机：``) or before a bracketed one (``(mobile)``) or an extension, in a ``tel:``
    URI, or as Excel's ``1.3800138005E+10``, and cells of two numbers of 7 digits or
    more. For the rest, a vectorised fast path replays
    ``phonenumbers.parse`` and its validation on numpy arrays, for values whose
    number is written with digits (any script), separators (any whitespace) and a
    leading ``+``, possibly between labels (``'手机：138... (home)'``); it takes the
    common cases of the steps above itself (Excel's ``'...0.0'``, ``tel:``
    parameters, an extension at the end, two numbers of 8 or more digits).
    Every regular expression this
    needs (national number patterns of each type, international and national
    prefixes, leading digits of regions sharing a country code) is compiled from
    ``phonenumbers``' own metadata into a digit automaton, the default region's
    at import and the others when first met, so an upgrade of ``phonenumbers``
    keeps it right. Other texts the steps above may change are prepared one
    distinct text at a time, then read by the fast path; what it still cannot decide goes
    to ``phonenumbers`` itself, once per distinct text.
    Columns with many repeated values are de-duplicated before any work;
    strings are built once per text and rows share them.

Arrow strings
    A column of Arrow-backed strings (pandas 3's ``str`` with pyarrow installed,
    ``string[pyarrow]``, ``ArrowDtype``) is read from its UTF-8 buffers and the
    results are built as Arrow strings of the same dtype, without a Python object
    per value. Other columns give text columns of pandas' default text dtype
    (``str`` on pandas 3, ``object`` on pandas 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers

from smsframe.errors import InvalidValue, MissingColumn
from smsframe.phones._arrow import _as_arrow, _decided_arrow
from smsframe.phones._output import _MISSING_TEXT, _assemble, _text_blocks, _texts_at
from smsframe.phones._parse import _engine
from smsframe.phones._reasons import (
    _OK,
    PROVIDER_COUNTRY_CODE,
    REASON_DTYPE,
    REASON_TEXT,
    REASONS,
)
from smsframe.phones._steps import several_numbers
from smsframe.phones._values import _storable

__all__ = [
    "PROVIDER_COUNTRY_CODE",
    "REASONS",
    "REASON_DTYPE",
    "REASON_TEXT",
    "check_region",
    "details",
    "normalize",
    "normalize_frame",
    "sendable_keys",
    "several_numbers",
]


def normalize(
    values: Iterable[Any] | pd.Series | pd.Index | np.ndarray,
    region: str = "CN",
    *,
    dedupe: bool = True,
) -> pd.DataFrame:
    """Normalise phone numbers: ``sms_phone``, ``sms_e164``, ``sms_reason`` per value.

    Parameters
    ----------
    values
        A Series (its index is kept), Index, array or list, in any shape:
        strings with spaces, dashes, brackets, ``+86``/``0086``/``86`` prefixes,
        full-width digits or text before the number, integers, floats from
        Excel, ``None``/``NaN``/``pd.NA``. No value raises.
    region
        Where numbers written without a country code are from (ISO code, as
        for ``phonenumbers.parse``). Only mainland China mobiles are sendable
        whatever the region.
    dedupe
        Mark a number already seen in an earlier row as ``duplicate``
        (comparing normalised numbers, so ``'13800138000'`` and
        ``'+86 138 0013 8000'`` are the same).

    Returns
    -------
    DataFrame
        On the same index: ``sms_phone`` (11 national digits of a mainland
        China mobile, else missing), ``sms_e164`` (E.164 of any valid number),
        ``sms_reason`` (categorical, one of :data:`REASONS`; missing when the
        row can be sent). A duplicate keeps its ``sms_phone`` and ``sms_e164``.

    Notes
    -----
    A value's text: a string as is; an integer or an integral float its digits
    (``13800138000.0`` and ``1.3800138e10`` give ``'13800138000'``); another float
    its ``repr``; bytes decoded as UTF-8; anything else ``str(value)``. Missing
    values and blank strings are ``empty``. Then, exactly as ``phonenumbers``
    answers for ``parse(text, region)``: ``NOT_A_NUMBER`` is ``not_a_number``,
    ``TOO_SHORT_NSN``/``TOO_SHORT_AFTER_IDD`` ``too_short``, ``TOO_LONG``
    ``too_long``, ``INVALID_COUNTRY_CODE`` ``invalid``; a parsed number that
    ``is_valid_number`` rejects is ``too_short``/``too_long`` as
    ``is_possible_number_with_reason`` says, else ``invalid``; a valid one is
    ``foreign`` outside country code 86, ``not_mobile`` unless ``number_type``
    is ``MOBILE`` (or ``FIXED_LINE_OR_MOBILE``).

    Examples
    --------
    >>> import pandas as pd
    >>> from smsframe.phones import normalize
    >>> normalize(["138 0013 8000", "+86 139-0013-8000", "010-12345678",
    ...            "+1 212 555 0123", "hello", None, 13800138000.0])
         sms_phone        sms_e164    sms_reason
    0  13800138000  +8613800138000           NaN
    1  13900138000  +8613900138000           NaN
    2          NaN   +861012345678    not_mobile
    3          NaN    +12125550123       foreign
    4          NaN             NaN  not_a_number
    5          NaN             NaN         empty
    6  13800138000  +8613800138000     duplicate
    """
    region = check_region(region)
    array, dtype, codes = _as_arrow(values)
    if isinstance(values, pd.Series):
        index = values.index
    else:
        index = pd.RangeIndex(len(array) if codes is None else len(codes))
    return _assemble(_decided_arrow(array, region).take(codes), index, dedupe, dtype)


def sendable_keys(
    values: Iterable[Any] | pd.Series | pd.Index | np.ndarray, region: str = "CN"
) -> np.ndarray:
    """The numbers :func:`normalize` would send to, each once, sorted, as the integer
    keys :func:`smsframe.outcomes.number_keys` gives their ``sms_phone``: what finding
    duplicates across many frames needs, without building a string per row.

    >>> sendable_keys(["138 0013 8000", "+86 13800138000", "010-12345678", "13900139000"])
    array([113800138000, 113900139000])
    """
    region = check_region(region)
    scan = _decided_arrow(_as_arrow(values)[0], region)
    nsn = np.unique(scan.key[scan.reason == _OK])  # a national number: length, digits
    return np.sort(10 ** (nsn // 10**17) + nsn % 10**17)  # 10**length marks the length


def check_region(region: str) -> str:
    """``region`` in capitals, or a ValueError saying what a region is."""
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidValue(
            f"region must be an ISO 3166 code phonenumbers knows (such as 'CN'), got {region!r}"
        )
    return region.upper()


def details(values: pd.Series, normalized: pd.DataFrame) -> pd.Series:
    """What to fix, in words, for the rows whose reason needs more than its text: the
    numbers of a cell holding several, the row whose number a duplicate repeats (by
    its index label); missing elsewhere.

    ``values`` are the phone values :func:`normalize` was given, ``normalized`` what
    it returned (or any frame with its ``sms_phone`` and ``sms_reason``).

    >>> import pandas as pd
    >>> phone = pd.Series(["13800138000", "13800138000；13900139000", "+86 138 0013 8000"],
    ...                   index=["a", "b", "c"])
    >>> for words in details(phone, normalize(phone)):
    ...     print(words)
    nan
    2 numbers in one cell (13800138000, 13900139000): give each a row of its own
    the same number as row 'a'
    """
    reasons = normalized["sms_reason"]
    if not isinstance(reasons.dtype, pd.CategoricalDtype):
        reasons = reasons.astype("category")
    reason_codes, categories = reasons.cat.codes.to_numpy(), reasons.cat.categories  # no copy
    rows, words = [], []  # the few rows that have words, and their words

    def rows_of(reason: str) -> np.ndarray:
        if reason not in categories:
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero(reason_codes == categories.get_loc(reason))

    several = rows_of("several_numbers")
    if several.size:
        picked = _texts_at(values, several) if isinstance(values, pd.Series) else values[several]
        found = several_numbers(np.asarray(picked, dtype=object))
        rows.append(several)
        cell = "{} numbers in one cell ({}): give each a row of its own"
        words.append(
            [
                _MISSING_TEXT if n is None else cell.format(len(n), _storable(", ".join(n)))
                for n in found
            ]
        )
    duplicate = rows_of("duplicate")
    if duplicate.size:
        codes = pd.factorize(_digits_as_integers(normalized["sms_phone"]))[0]
        present = codes >= 0
        _, first = np.unique(codes[present], return_index=True)  # codes: 0, 1... as met
        first = np.flatnonzero(present)[first]
        labels = normalized.index[first[codes[duplicate]]]
        rows.append(duplicate)
        words.append([f"the same number as row {label!r}" for label in labels])
    at = np.concatenate([np.zeros(0, dtype=np.intp), *rows])
    said = np.array([w for some in words for w in some], dtype=object)
    return _text_blocks(len(normalized), said, normalized.index, at)


def _digits_as_integers(phone: pd.Series) -> np.ndarray:
    """``sms_phone``'s national digits as integers (equal where the texts are: a
    mainland mobile's 11 digits start with 1), NaN where missing: hashed far faster
    than strings. Other texts as they are."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        digits = pc.cast(pa.array(phone, from_pandas=True, type=pa.large_string()), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not normalize's: compared as text
        return phone.to_numpy(dtype=object)
    return digits.to_numpy(zero_copy_only=False)


def normalize_frame(
    frame: pd.DataFrame,
    phone: str = "phone",
    region: str = "CN",
    *,
    dedupe: bool = True,
) -> pd.DataFrame:
    """A new frame: ``frame`` plus ``sms_phone``, ``sms_e164``, ``sms_reason``
    computed from its ``phone`` column (see :func:`normalize`). ``frame`` is not
    modified; existing ``sms_*`` columns of those names are replaced.

    Examples
    --------
    >>> import pandas as pd
    >>> from smsframe.phones import normalize_frame
    >>> contacts = pd.DataFrame(
    ...     {"name": ["王伟", "李娜"], "phone": ["138 0013 8000", "021-6234 5678"]}
    ... )
    >>> normalize_frame(contacts)[["name", "sms_phone", "sms_reason"]]
      name    sms_phone  sms_reason
    0   王伟  13800138000         NaN
    1   李娜          NaN  not_mobile
    """
    if phone not in frame.columns:
        raise MissingColumn(
            f"no column {phone!r} in the frame; pass phone=<the column holding the numbers> "
            f"(columns: {list(frame.columns)})"
        )
    column = frame[phone]
    if isinstance(column, pd.DataFrame):
        raise InvalidValue(f"several columns are named {phone!r}; rename them first")
    result = normalize(column, region, dedupe=dedupe)
    return frame.assign(**{name: result[name] for name in result.columns})


_engine("CN")  # derive the default region's automata from the metadata at import
