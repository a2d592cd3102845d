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
    Most values never reach ``phonenumbers``. A vectorised fast path replays
    ``phonenumbers.parse`` and its validation on numpy arrays, for values whose
    number is written with digits (any script), separators and a leading ``+``,
    possibly after some text (``'手机：138...'``). Every regular expression this
    needs (national number patterns of each type, international and national
    prefixes, leading digits of regions sharing a country code) is compiled from
    ``phonenumbers``' own metadata into a digit automaton, the default region's
    at import and the others when first met, so an upgrade of ``phonenumbers``
    keeps it right. Texts the steps above may change are prepared one distinct
    text at a time, then read by the fast path; what it still cannot decide goes
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

import functools
import itertools
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberType,
    ValidationResult,
)

from smsframe.errors import InvalidValue, MissingColumn

__all__ = [
    "PROVIDER_COUNTRY_CODE",
    "REASONS",
    "REASON_TEXT",
    "details",
    "normalize",
    "normalize_frame",
    "several_numbers",
]

#: The provider delivers to mainland China mobiles only (docs/provider/contract.md).
PROVIDER_COUNTRY_CODE = 86

#: Why a row's number will not be sent: token -> text. Order = category order.
REASON_TEXT: dict[str, str] = {
    "empty": "no phone number in this row",
    "not_a_number": "the value does not look like a phone number",
    "too_short": "too few digits for a phone number",
    "too_long": "too many digits for a phone number",
    "invalid": "not a valid phone number (unknown prefix or wrong length)",
    "not_mobile": "a valid mainland China number, but not a mobile (landline, toll-free...)",
    "foreign": "a valid number outside mainland China; the provider delivers to China only",
    "duplicate": "the same number appears in an earlier row",
    "several_numbers": "several numbers in one cell; give each number a row of its own",
}
REASONS: tuple[str, ...] = tuple(REASON_TEXT)
REASON_DTYPE = pd.CategoricalDtype(list(REASONS))

(_EMPTY, _NOT_A_NUMBER, _TOO_SHORT, _TOO_LONG, _INVALID, _NOT_MOBILE, _FOREIGN, _DUPLICATE,
 _SEVERAL) = range(9)  # fmt: skip
_OK = -1  # sendable
_UNDECIDED = -2  # left to phonenumbers

_MIN_NSN, _MAX_NSN = 2, 17  # phonenumbers' bounds on a national significant number
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


# --------------------------------------------------------------------------- values -> text
_UNREADABLE = "\ufffd"  # stands for a value whose str() raised: not_a_number


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


# --------------------------------------------------------------------------- documented steps
# What smsframe decides before phonenumbers reads a text (the module's docstring says
# why). The fast path (_scan_length) leaves every text these steps would change to
# _prepare_one, and reads what it returns.
_BMP = 0x10000
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_PIECE_SEPARATORS = ";,\uff0c\uff1b/\uff0f\u3001" + _LINE_BREAKS  # ; , ， ； / ／ 、
_SPLIT_PIECES = re.compile(f"[{re.escape(_PIECE_SEPARATORS)}]")
_SPACES = {c: " " for c in range(_BMP) if chr(c).isspace() and chr(c) not in _LINE_BREAKS}
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
    return head + tail[:exponent].ljust(exponent, "0")


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
    reason = normalized["sms_reason"].to_numpy(dtype=object)
    words = np.full(len(reason), _MISSING_TEXT, dtype=object)
    several = np.flatnonzero(reason == "several_numbers")
    if several.size:
        found = several_numbers(np.asarray(values, dtype=object)[several])
        words[several] = [
            f"{len(n)} numbers in one cell ({', '.join(n)}): give each a row of its own"
            for n in found
            if n is not None
        ]
    duplicate = np.flatnonzero(reason == "duplicate")
    if duplicate.size:
        codes = pd.factorize(normalized["sms_phone"].to_numpy(dtype=object))[0]
        present = codes >= 0
        _, first = np.unique(codes[present], return_index=True)  # codes: 0, 1... as met
        first = np.flatnonzero(present)[first]
        labels = normalized.index[first[codes[duplicate]]]
        words[duplicate] = [f"the same number as row {label!r}" for label in labels]
    return _text_column(words, normalized.index)


def several_numbers(values: Iterable[Any]) -> list[tuple[str, ...] | None]:
    """Per value, the numbers of a cell holding several (as :func:`normalize` finds
    them, reason ``several_numbers``), else None.

    >>> several_numbers(["13800138000; 13900139000", "13800138000"])
    [('13800138000', '13900139000'), None]
    """
    found: list[tuple[str, ...] | None] = []
    for value in values:
        text = _text_of(value)
        prepared = _prepare_one(text) if text is not None and text.strip() else None
        found.append(prepared if isinstance(prepared, tuple) else None)
    return found


# --------------------------------------------------------------------------- digit automata
# phonenumbers' patterns are regular expressions over digits. Each one used by
# parse/validation is compiled here into a deterministic automaton over the
# symbols 0-9 plus _PAD ("past the end of the number", which keeps the state),
# run column by column over a whole array of numbers at once.
_PAD = 10
_NSYM = 11


class _Unsupported(Exception):
    """A metadata pattern uses syntax the automata do not model (fast path declines)."""


def _sre():
    try:
        import re._constants as constants
        import re._parser as parser
    except ImportError:  # pragma: no cover - Python without the re package internals
        raise _Unsupported("re internals unavailable") from None
    return parser, constants


def _digit_mask(items, c) -> int:
    mask, negate = 0, False
    digits_in = {
        c.CATEGORY_DIGIT: True,
        c.CATEGORY_WORD: True,
        c.CATEGORY_NOT_SPACE: True,
        c.CATEGORY_NOT_LINEBREAK: True,
        c.CATEGORY_NOT_DIGIT: False,
        c.CATEGORY_NOT_WORD: False,
        c.CATEGORY_SPACE: False,
        c.CATEGORY_LINEBREAK: False,
    }
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            if 48 <= av <= 57:
                mask |= 1 << (av - 48)
        elif op is c.RANGE:
            for code in range(max(av[0], 48), min(av[1], 57) + 1):
                mask |= 1 << (code - 48)
        elif op is c.CATEGORY and av in digits_in:
            mask |= 0x3FF if digits_in[av] else 0
        else:
            raise _Unsupported(f"character set item {op}")
    return (0x3FF & ~mask) if negate else mask


class _Nfa:
    """Thompson construction over digit masks (10-bit sets). With ``loose``, anchors
    (``^``, ``$``) are ignored: the language can only grow (used as a pre-filter)."""

    def __init__(self, loose: bool = False) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[int, int]]] = []
        self.loose = loose
        self.anchored = False

    def state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def edge(self, src: int, mask: int) -> int:
        dst = self.state()
        self.edges[src].append((mask, dst))
        return dst

    def seq(self, src: int, items, c) -> int:
        for op, av in items:
            src = self.item(src, op, av, c)
        return src

    def item(self, src: int, op, av, c) -> int:
        if op is c.LITERAL:
            return self.edge(src, (1 << (av - 48)) if 48 <= av <= 57 else 0)
        if op is c.NOT_LITERAL:
            return self.edge(src, 0x3FF & ~((1 << (av - 48)) if 48 <= av <= 57 else 0))
        if op is c.IN:
            return self.edge(src, _digit_mask(av, c))
        if op is c.ANY:
            return self.edge(src, 0x3FF)
        if op is c.SUBPATTERN:
            return self.seq(src, av[3], c)
        if op is c.BRANCH:
            end = self.state()
            for alternative in av[1]:
                self.eps[self.seq(src, alternative, c)].append(end)
            return end
        if op is c.MAX_REPEAT or op is c.MIN_REPEAT:
            low, high, body = av
            for _ in range(low):
                src = self.seq(src, body, c)
            if high is c.MAXREPEAT:
                loop = self.state()
                self.eps[src].append(loop)
                self.eps[self.seq(loop, body, c)].append(loop)
                return loop
            ends = [src]
            for _ in range(high - low):
                src = self.seq(src, body, c)
                ends.append(src)
            end = self.state()
            for e in ends:
                self.eps[e].append(end)
            return end
        if op is c.AT and self.loose and av in (c.AT_BEGINNING, c.AT_END):
            self.anchored = True
            return src
        raise _Unsupported(f"regex construct {op}")


class _Dfa:
    """A digit automaton. ``accept[s]`` is a bit mask: bit i set when pattern i matches
    the digits read so far in full."""

    def __init__(self, patterns: Sequence[str | None], loose: bool = False) -> None:
        parser, c = _sre()
        nfa = _Nfa(loose)
        starts, finals = [], {}
        for i, pattern in enumerate(patterns):
            if not pattern:
                continue
            start = nfa.state()
            end = nfa.seq(start, parser.parse(pattern), c)
            starts.append(start)
            finals[end] = finals.get(end, 0) | (1 << i)

        def closure(states):
            seen, stack = set(states), list(states)
            while stack:
                for nxt in nfa.eps[stack.pop()]:
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            return frozenset(seen)

        first = closure(starts)
        ids, order, rows = {first: 0}, [first], []
        while len(rows) < len(order):
            current = order[len(rows)]
            row = []
            for digit in range(10):
                bit = 1 << digit
                moved = [dst for s in current for mask, dst in nfa.edges[s] if mask & bit]
                nxt = closure(moved)
                if nxt not in ids:
                    ids[nxt] = len(order)
                    order.append(nxt)
                row.append(ids[nxt])
            rows.append(row)
            if len(order) > 200_000:
                raise _Unsupported("automaton too large")
        self.anchored = nfa.anchored
        accept = [0] * len(order)
        for i, states in enumerate(order):
            for s in states:
                accept[i] |= finals.get(s, 0)
        table = np.empty((len(order), _NSYM), dtype=np.int32)
        table[:, :10] = rows
        table[:, _PAD] = np.arange(len(order))
        self.table = table
        self.flat = table.ravel()
        self.accept = np.array(accept, dtype=np.int64)
        # live[s]: some accepting state is reachable from s
        live = self.accept != 0
        while True:
            grown = live | live[table[:, :10]].any(axis=1)
            if (grown == live).all():
                break
            live = grown
        self.live = live

    def run(self, digits: _Digits, rows: np.ndarray, off: np.ndarray, width: int) -> np.ndarray:
        """Final states after reading each row's digits from ``off`` to its end."""
        state = np.zeros(len(rows), dtype=np.int32)
        for at, window in digits.windows(rows, off):
            s = np.zeros(len(at), dtype=np.int32)
            for j in range(min(width, len(window))):
                s = self.flat.take(s * _NSYM + window[j])
            state[at] = s
        return state

    @functools.cached_property
    def _three(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first three symbols at once: for each triple, the end of a match within
        it (-1: none), whether reading must go on, and the state then."""
        end = np.full(_NSYM**3, -1, dtype=np.int64)
        more = np.zeros(_NSYM**3, dtype=bool)
        state = np.zeros(_NSYM**3, dtype=np.int32)
        for code, symbols in enumerate(itertools.product(range(_NSYM), repeat=3)):
            s = 0
            for i, symbol in enumerate(symbols):
                if symbol == _PAD or not self.live[s]:
                    break
                s = self.table[s, symbol]
                if self.accept[s]:
                    end[code] = i + 1
                    break
            else:
                more[code], state[code] = bool(self.live[s]), s
        return end, more, state

    def _first_end(self, digits: _Digits, rows: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Length of the shortest non-empty match at ``off`` (-1: none)."""
        end3, more3, state3 = self._three
        code = digits.column(rows, off).astype(np.int32)
        for j in (1, 2):
            code = code * _NSYM + digits.column(rows, off + j)
        end = end3[code]
        todo = np.flatnonzero(more3[code])
        state = state3[code[todo]]
        off = np.broadcast_to(off, rows.shape)
        j = 3
        while todo.size and j <= digits.width:
            sym = digits.column(rows[todo], off[todo] + j)
            state = self.flat.take(state * _NSYM + sym)
            hit = (self.accept[state] != 0) & (sym != _PAD)
            end[todo[hit]] = j + 1
            keep = self.live[state] & ~hit & (sym != _PAD)
            todo, state = todo[keep], state[keep]
            j += 1
        return end

    def first_match(self, digits: _Digits, rows: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Length of the (unique, the language being prefix-free) match at ``off``, or -1:
        what ``re.match(pattern, number[off:])`` consumes."""
        return self._first_end(digits, rows, off)

    def prefix_free(self) -> bool:
        """No match is a proper prefix of another (and the empty string is no match)."""
        if self.accept[0]:
            return False
        accepting = np.flatnonzero(self.accept)
        return not self.live[self.table[accepting, :10]].any()

    def has_prefix(self, digits: _Digits, rows: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Whether ``re.match(pattern, number[off:])`` finds anything."""
        if self.accept[0]:
            return np.ones(len(rows), dtype=bool)
        return self._first_end(digits, rows, off) >= 0


class _Prefix:
    """``re.match(pattern, number[off:])`` replayed on arrays of numbers.

    When the pattern's matches are prefix-free and it has no anchor or transform rule,
    its automaton gives the match directly. Otherwise the automaton (anchors ignored)
    only tells which numbers may match, and ``re`` itself is run once per distinct
    run of leading digits (the pattern cannot look further than its longest match).
    """

    def __init__(self, pattern: str, transform: str | None = None) -> None:
        parser, _ = _sre()
        width = parser.parse(pattern).getwidth()[1]
        if width > 15:
            raise _Unsupported("pattern may match too many digits")
        self.regex = re.compile(pattern)
        self.transform = transform or None
        self.width = width
        self.dfa = _Dfa([pattern], loose=True)
        self.exact = not self.dfa.anchored and not self.transform and self.dfa.prefix_free()

    def match(self, digits: _Digits, rows, off, length):
        """Per number: the length of the match (-1: none), how many leading digits the
        national prefix rules remove (differs from the match with a transform rule),
        and whether the fast path must leave the number to phonenumbers."""
        end = np.full(len(rows), -1, dtype=np.int64)
        drop = np.zeros(len(rows), dtype=bool)
        if self.exact:
            end = self.dfa.first_match(digits, rows, off)
            return end, end.copy(), drop
        strip = end.copy()
        cand = np.flatnonzero(self.dfa.has_prefix(digits, rows, off))
        if cand.size == 0:
            return end, strip, drop
        size = np.minimum(length[cand], self.width + 1)
        start = off[cand] if np.ndim(off) else np.full(len(cand), off)
        keys = size * 10**17 + digits.values(rows[cand], start, size)
        which, uniques = pd.factorize(keys)
        found = np.array([self._one(int(k)) for k in uniques], dtype=np.int64).reshape(-1, 3)
        end[cand], strip[cand], drop[cand] = found[which, 0], found[which, 1], found[which, 2]
        return end, strip, drop

    def _one(self, key: int) -> tuple[int, int, int]:
        size, value = divmod(key, 10**17)
        text = str(value).zfill(size) if size else ""
        found = self.regex.match(text)
        if found is None:
            return -1, -1, 0
        if self.transform is None:
            return found.end(), found.end(), 0
        groups = found.groups()
        if not groups:
            return -1, -1, 1
        if groups[-1] is None:
            return found.end(), found.end(), 0
        changed = self.regex.sub(self.transform, text, count=1)
        cut = len(text) - len(changed)
        if cut < 0 or text[cut:] != changed:  # not just removing digits: phonenumbers
            return -1, -1, 1
        return found.end(), cut, 0

    def exists(self, digits: _Digits, rows, off, length):
        """Whether ``re.match`` finds anything (a match may be empty)."""
        if not self.dfa.anchored:
            return self.dfa.has_prefix(digits, rows, off)
        end, _, _ = self.match(digits, rows, off, length)
        return end >= 0


def _prefix(pattern: str | None, transform: str | None = None) -> _Prefix | bool | None:
    """A :class:`_Prefix`; None when there is no pattern, False when unsupported."""
    if not pattern:
        return None
    try:
        return _Prefix(pattern, transform)
    except Exception:  # _Unsupported, or anything unexpected: leave it to phonenumbers
        return False


class _Digits:
    """The digits of many numbers: ``table[j, i]`` is digit j of number i, or _PAD."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table  # (width + 1, n) uint8, last row all _PAD
        self.width = table.shape[0] - 1

    def column(self, rows: np.ndarray, pos: np.ndarray | int) -> np.ndarray:
        """Digit ``pos`` (or _PAD) of the numbers ``rows``."""
        if np.ndim(pos) == 0:
            return self.table[min(int(pos), self.width)].take(rows)
        return self.table[np.minimum(pos, self.width), rows]

    def windows(self, rows: np.ndarray, off: np.ndarray):
        """``(at, window)`` per distinct offset: ``window[j]`` is digit ``off + j`` of
        the numbers ``rows[at]``."""
        for start, at in _groups(off):
            start = min(start, self.width)
            if len(at) == self.table.shape[1] and (rows[at] == np.arange(len(at))).all():
                yield at, self.table[start:]
            else:
                yield at, self.table[start:, rows[at]]

    def values(self, rows: np.ndarray, off: np.ndarray, length: np.ndarray) -> np.ndarray:
        """The digits from ``off`` (``length`` of them, at most 17) as an integer."""
        value = np.zeros(len(rows), dtype=np.int64)
        for size, at in _groups(length):
            for sub, window in self.windows(rows[at], off[at]):
                v = np.zeros(len(sub), dtype=np.int64)
                for j in range(size):
                    v = v * 10 + window[j]
                value[at[sub]] = v
        return value


def _groups(keys: np.ndarray):
    """``(key, positions)`` for each distinct small non-negative integer in ``keys``."""
    if len(keys) == 0:
        return
    counts = np.bincount(keys)
    present = np.flatnonzero(counts)
    if len(present) == 1:
        yield int(present[0]), np.arange(len(keys))
        return
    if len(present) <= 4:
        for key in present:
            yield int(key), np.flatnonzero(keys == key)
        return
    top = int(np.argmax(counts))  # usually most values: no need to sort them
    yield top, np.flatnonzero(keys == top)
    rest = np.flatnonzero(keys != top)
    small = keys[rest].astype(np.uint16) if len(counts) <= 2**16 else keys[rest]
    order = rest[np.argsort(small, kind="stable")]  # a radix sort for 16-bit keys
    ends = np.cumsum(np.where(np.arange(len(counts)) == top, 0, counts))
    for key in present:
        if key != top:
            yield int(key), order[ends[key] - counts[key] : ends[key]]


# --------------------------------------------------------------------------- region tables
_DESCS = (
    "general_desc",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_TYPE_ORDER = (  # _number_type_helper's order after the general description
    (1, PhoneNumberType.PREMIUM_RATE),
    (2, PhoneNumberType.TOLL_FREE),
    (3, PhoneNumberType.SHARED_COST),
    (4, PhoneNumberType.VOIP),
    (5, PhoneNumberType.PERSONAL_NUMBER),
    (6, PhoneNumberType.PAGER),
    (7, PhoneNumberType.UAN),
    (8, PhoneNumberType.VOICEMAIL),
)
_GENERAL, _FIXED, _MOBILE = 0, 9, 10
_LENGTHS = 64  # length tables cover 0..63 digits


def _length_result(length: int, metadata) -> int:
    """phonenumbers' ``_test_number_length`` for an unknown type, from the metadata."""
    possible = metadata.general_desc.possible_length
    if length in (metadata.general_desc.possible_length_local_only or ()):
        return ValidationResult.IS_POSSIBLE_LOCAL_ONLY
    if possible[0] == length:
        return ValidationResult.IS_POSSIBLE
    if possible[0] > length:
        return ValidationResult.TOO_SHORT
    if possible[-1] < length:
        return ValidationResult.TOO_LONG
    return (
        ValidationResult.IS_POSSIBLE if length in possible[1:] else ValidationResult.INVALID_LENGTH
    )


class _Region:
    """Everything the fast path needs about one region's metadata, or ``ok=False``."""

    def __init__(self, metadata) -> None:
        self.metadata = metadata
        self.country_code = metadata.country_code
        self.ok, self.types, self.national_prefix, self.leading = False, None, False, False
        try:
            self._build(metadata)
        except Exception:  # _Unsupported, or anything unexpected: leave it to phonenumbers
            self.ok = False

    def _build(self, metadata) -> None:
        self.length_result = np.array(
            [_length_result(k, metadata) for k in range(_LENGTHS)], dtype=np.int8
        )
        descs = [getattr(metadata, name, None) for name in _DESCS]
        self.length_ok = np.zeros((len(_DESCS), _LENGTHS), dtype=bool)
        for i, desc in enumerate(descs):
            if desc is None:
                continue
            possible = desc.possible_length or ()
            for k in range(_LENGTHS):
                self.length_ok[i, k] = not possible or k in possible
        self.same_mobile_and_fixed = bool(metadata.same_mobile_and_fixed_line_pattern)
        self.types = _Dfa([d.national_number_pattern if d else None for d in descs])
        self.general_match = (self.types.accept & 1) != 0
        self.type_table = self._type_table()
        self.national_prefix = _prefix(
            metadata.national_prefix_for_parsing, metadata.national_prefix_transform_rule
        )
        self.leading = None
        if metadata.leading_digits is not None:
            self.leading = _prefix(metadata.leading_digits) or False
        self.ok = True

    def general(self, digits: _Digits, rows, off, length) -> np.ndarray:
        """``_match_national_number(number, general_desc)``: the pattern alone."""
        width = int(length.max(initial=0))
        return self.general_match[self.types.run(digits, rows, off, width)]

    def number_types(self, digits: _Digits, rows, off, length) -> np.ndarray:
        """``_number_type_helper`` for each number."""
        width = int(length.max(initial=0))
        state = self.types.run(digits, rows, off, width)
        return self.type_table[state, np.minimum(length, _LENGTHS - 1)]

    def _type_table(self) -> np.ndarray:
        """``_number_type_helper`` as a table: (automaton state, length) -> type."""
        bits = self.types.accept[:, None]
        length = np.arange(_LENGTHS)[None, :]

        def has(i):
            return (((bits >> i) & 1) != 0) & self.length_ok[i][length]

        fixed, mobile = has(_FIXED), has(_MOBILE)
        conditions = [~has(_GENERAL)] + [has(i) for i, _ in _TYPE_ORDER]
        choices = [PhoneNumberType.UNKNOWN] + [t for _, t in _TYPE_ORDER]
        conditions += [fixed & (self.same_mobile_and_fixed | mobile), fixed]
        choices += [PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.FIXED_LINE]
        conditions.append(mobile & (not self.same_mobile_and_fixed))
        choices.append(PhoneNumberType.MOBILE)
        return np.select(conditions, choices, default=PhoneNumberType.UNKNOWN).astype(np.int8)


@functools.cache
def _region(region_code: str) -> _Region | None:
    metadata = PhoneMetadata.metadata_for_region(region_code, None)
    return None if metadata is None else _Region(metadata)


@functools.cache
def _country(country_code: int) -> tuple[_Region, list[_Region]] | None:
    """(main region, regions in phonenumbers' order) of a country calling code."""
    codes = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not codes:
        return None
    regions = []
    for code in codes:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, code)
        if metadata is None:
            return None
        regions.append(_Region(metadata) if code == "001" else _region(code))
    return regions[0], regions


# parse keeps a stripped national prefix unless the rest is too short for the region
_STRIP_KEEPS = np.ones(8, dtype=bool)
_STRIP_KEEPS[
    [
        ValidationResult.TOO_SHORT,
        ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        ValidationResult.INVALID_LENGTH,
    ]
] = False
_IS_MOBILE = np.zeros(128, dtype=bool)
_IS_MOBILE[list(_MOBILE_TYPES)] = True
_CC_TABLES = [np.zeros(10**k, dtype=bool) for k in (1, 2, 3)]
for _cc in COUNTRY_CODE_TO_REGION_CODE:
    if 0 < _cc < 1000:
        _CC_TABLES[len(str(_cc)) - 1][_cc] = True


class _Engine:
    """The fast path for one default region: parse + validate replayed on arrays."""

    def __init__(self, region_code: str) -> None:
        self.region_code = region_code
        self.home = _region(region_code)
        metadata = self.home.metadata
        self.idd = _prefix(metadata.international_prefix)
        self.cc_digits = [int(ch) for ch in str(metadata.country_code)]
        self.ok = self.home.ok and self.idd is not False and len(self.cc_digits) <= 3

    # ---- country calling code (phonenumbers' _extract_country_code)
    @staticmethod
    def _country_code(digits: _Digits, rows, off) -> tuple[np.ndarray, np.ndarray]:
        d0, d1, d2 = (digits.column(rows, off + j).astype(np.int64) for j in range(3))
        v1, v2, v3 = d0, d0 * 10 + d1, d0 * 100 + d1 * 10 + d2
        one, two = _CC_TABLES[0][v1], _CC_TABLES[1][np.minimum(v2, 99)]
        three = _CC_TABLES[2][np.minimum(v3, 999)]
        code = np.where(one, v1, np.where(two, v2, np.where(three, v3, 0)))
        code[d0 == 0] = 0
        size = np.where(one, 1, np.where(two, 2, 3))
        return code, size

    # ---- _maybe_strip_national_prefix_carrier_code
    @staticmethod
    def _strip_national_prefix(region: _Region, digits, rows, off, length):
        """(new offsets, rows the fast path must leave to phonenumbers)."""
        new_off, drop = off.copy(), np.zeros(len(rows), dtype=bool)
        prefix = region.national_prefix
        if prefix is None:
            return new_off, drop
        if prefix is False:
            return new_off, np.ones(len(rows), dtype=bool)
        nonempty = np.flatnonzero(length > 0)
        r, o, n = rows[nonempty], off[nonempty], length[nonempty]
        end, cut, refused = prefix.match(digits, r, o, n)
        drop[nonempty[refused]] = True
        matched = np.flatnonzero((end >= 0) & ~refused)
        if matched.size == 0:
            return new_off, drop
        r, o, n, cut = r[matched], o[matched], n[matched], cut[matched]
        before = region.general(digits, r, o, n)
        after = region.general(digits, r, o + cut, n - cut)
        strip = ~(before & ~after)
        new_off[nonempty[matched[strip]]] = (o + cut)[strip]
        return new_off, drop

    def decide(self, digits: _Digits, length: np.ndarray, plus: np.ndarray):
        """Per number: (reason or _OK/_UNDECIDED, country code, NSN offset, NSN length)."""
        n = len(length)
        reason = np.full(n, _UNDECIDED, dtype=np.int8)
        cc = np.zeros(n, dtype=np.int64)
        off = np.zeros(n, dtype=np.int64)
        home_meta = np.zeros(n, dtype=bool)  # national prefix rules of the default region
        if not self.ok:
            return reason, cc, off
        # numbers written with '+': the country code follows
        rows = np.flatnonzero(plus)
        code, size = self._country_code(digits, rows, 0)
        good = code > 0
        cc[rows[good]], off[rows[good]] = code[good], size[good]
        active = [rows[good]]
        # '+0...' or an unknown code: phonenumbers tries again without the '+', and
        # then wants a country code (an international prefix or the region's code)
        retry = np.zeros(n, dtype=bool)
        retry[rows[~good]] = True
        # the others: an international prefix (00...) or the default region
        rows = np.flatnonzero(~plus | retry)
        end = np.full(len(rows), -1, dtype=np.int64)
        if self.idd is not None:
            end, _, refused = self.idd.match(digits, rows, 0, length[rows])
            end[refused] = -1
            rows, end = rows[~refused], end[~refused]  # refused: left undecided
        after = digits.column(rows, np.maximum(end, 0))
        stripped = (end >= 0) & (after != 0)
        srows, send = rows[stripped], end[stripped]
        short = length[srows] - send <= _MIN_NSN
        reason[srows[short]] = _TOO_SHORT
        srows, send = srows[~short], send[~short]
        code, size = self._country_code(digits, srows, send)
        reason[srows[code == 0]] = _INVALID
        good = code > 0
        cc[srows[good]], off[srows[good]] = code[good], (send + size)[good]
        active.append(srows[good])
        home = rows[~stripped]
        cc[home] = self.home.country_code
        home_meta[home] = True
        starts = np.ones(len(home), dtype=bool)
        for j, d in enumerate(self.cc_digits):
            starts &= digits.column(home, j) == d
        cand = home[starts]
        if cand.size:
            k = len(self.cc_digits)
            zero = np.zeros(len(cand), dtype=np.int64)
            full_match = self.home.general(digits, cand, zero, length[cand])
            pot, drop = self._strip_national_prefix(
                self.home, digits, cand, zero + k, length[cand] - k
            )
            pot_match = self.home.general(digits, cand, pot, length[cand] - pot)
            too_long = self.home.length_result[np.minimum(length[cand], _LENGTHS - 1)]
            take = (~full_match & pot_match) | (too_long == ValidationResult.TOO_LONG)
            take &= ~drop
            off[cand[take]] = pot[take]
            home_meta[cand[take]] = False
            reason[cand[drop]] = _UNDECIDED
            home = np.concatenate([home[~starts], cand[~drop]])
        lost = retry[home] & home_meta[home]
        reason[home[lost]] = _INVALID
        active.append(home[~lost])
        rows = np.concatenate(active)
        # group by (country code, whose national prefix rules apply)
        for key, at in _groups(cc[rows] * 2 + home_meta[rows]):
            self._finish(key // 2, bool(key % 2), digits, rows[at], length, off, reason)
        return reason, cc, off

    def _finish(self, country_code, home_meta, digits, rows, length, off, reason) -> None:
        country = _country(country_code)
        if country is None:
            return
        main, regions = country
        region = self.home if home_meta else main
        if not (region.ok and main.ok):
            return
        o = off[rows]
        nsn = length[rows] - o
        short = nsn < _MIN_NSN
        reason[rows[short]] = _TOO_SHORT
        rows, o, nsn = rows[~short], o[~short], nsn[~short]
        pot, drop = self._strip_national_prefix(region, digits, rows, o, nsn)
        rows, o, pot, nsn = rows[~drop], o[~drop], pot[~drop], nsn[~drop]
        result = region.length_result[np.minimum(length[rows] - pot, _LENGTHS - 1)]
        keep = _STRIP_KEEPS[result]
        o = np.where(keep, pot, o)
        nsn = length[rows] - o
        off[rows] = o
        reason[rows[nsn < _MIN_NSN]] = _TOO_SHORT
        reason[rows[nsn > _MAX_NSN]] = _TOO_LONG
        fine = (nsn >= _MIN_NSN) & (nsn <= _MAX_NSN)
        rows, o, nsn = rows[fine], o[fine], nsn[fine]
        # region_code_for_number, then _number_type_helper for that region
        types = np.full(len(rows), PhoneNumberType.UNKNOWN, dtype=np.int8)
        decided = np.ones(len(rows), dtype=bool)
        if len(regions) == 1:
            if not regions[0].ok:
                return
            types = regions[0].number_types(digits, rows, o, nsn)
        else:
            chosen = np.full(len(rows), -1)
            for i, candidate in enumerate(regions):
                pending = np.flatnonzero(chosen < 0)
                if pending.size == 0:
                    break
                if candidate.leading is False or (candidate.leading is None and not candidate.ok):
                    decided[pending] = False
                    break
                if candidate.leading is None:
                    t = candidate.number_types(digits, rows[pending], o[pending], nsn[pending])
                    claims = t != PhoneNumberType.UNKNOWN
                else:
                    claims = candidate.leading.exists(
                        digits, rows[pending], o[pending], nsn[pending]
                    )
                chosen[pending[claims]] = i
            for i, sel in _groups(np.where(decided & (chosen >= 0), chosen, len(regions))):
                if i == len(regions):
                    continue
                if not regions[i].ok:
                    decided[sel] = False
                    continue
                types[sel] = regions[i].number_types(digits, rows[sel], o[sel], nsn[sel])
        valid = types != PhoneNumberType.UNKNOWN
        if country_code == PROVIDER_COUNTRY_CODE:
            mobile = _IS_MOBILE[types]
            outcome = np.where(mobile, _OK, _NOT_MOBILE)
        else:
            outcome = np.full(len(rows), _FOREIGN)
        # invalid: why, per is_possible_number_with_reason (main region's lengths)
        result = main.length_result[np.minimum(nsn, _LENGTHS - 1)]
        why = np.where(
            result == ValidationResult.TOO_SHORT,
            _TOO_SHORT,
            np.where(result == ValidationResult.TOO_LONG, _TOO_LONG, _INVALID),
        )
        final = np.where(valid, outcome, why).astype(np.int8)
        reason[rows[decided]] = final[decided]


@functools.cache
def _engine(region_code: str) -> _Engine:
    return _Engine(region_code)


# --------------------------------------------------------------------------- text -> digits
# Character flags of the fast path. phonenumbers extracts a number from its first
# digit or '+' (the "start"), drops trailing punctuation, and accepts digits, '+' at
# the start and the separators of its _VALID_PUNCTUATION in between. The fast path
# takes the values whose number part uses only those (text before it, such as
# 'Tel: ', is fine); the rest (letters or '#' after the start, tildes and 'x' which
# may mark an extension, ';' which may start RFC 3966 parameters, characters beyond
# the Basic Multilingual Plane) is left to phonenumbers.
_F_DIGIT, _F_PLUS, _F_OTHER, _F_BAD = 1, 2, 4, 8
_F_WHITE, _F_SEP, _F_WIDE, _F_LETTER = 16, 32, 64, 128
_FLAGS = np.full(0x110000, _F_BAD, dtype=np.uint8)
_FLAGS[:_BMP] = _F_OTHER
_VALUE = np.full(0x110000, _PAD, dtype=np.uint8)
for _c in range(_BMP):
    _ch = chr(_c)
    if unicodedata.category(_ch) == "Nd":  # what re's \d and phonenumbers' digits are
        _FLAGS[_c] = _F_DIGIT if _c < 128 else _F_DIGIT | _F_WIDE
        _VALUE[_c] = unicodedata.digit(_ch)
for _ch in (
    " -./()[]\u3000\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
    "\uff0d\uff0e\uff0f\u00ad\u200b\u2060\uff08\uff09\uff3b\uff3d"
):
    _FLAGS[ord(_ch)] = _F_SEP
for _c in range(_BMP):
    if chr(_c).isalnum() and not chr(_c).isdecimal():  # a letter: removed (so is 'ー')
        _FLAGS[_c] = _F_OTHER | _F_LETTER
_FLAGS[ord("+")] = _FLAGS[0xFF0B] = _F_PLUS  # '+' and full-width '＋'
for _ch in _PIECE_SEPARATORS:  # several numbers, maybe: _prepare_one decides
    _FLAGS[ord(_ch)] = _F_BAD
for _c in range(_BMP):
    if chr(_c).isspace():
        _FLAGS[_c] |= _F_WHITE
_MAX_CHARS = 32  # longer values go to phonenumbers
_STRICT = False  # tests set it: a fast-path exception then propagates


def _pa():
    import pyarrow

    return pyarrow


_BATCH = 1 << 17  # values per vectorised batch (bounds the working memory)
_THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class _Scan:
    """Results per text: reason, country code, NSN key, and whether the text is
    exactly the NSN's ASCII digits (then it is reused as the output string)."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, _UNDECIDED, dtype=np.int8)
        self.cc = np.zeros(n, dtype=np.int16)
        self.key = np.full(n, -1, dtype=np.int64)  # NSN length * 10**17 + NSN
        self.canonical = np.zeros(n, dtype=bool)


class _Texts:
    """Values as Python strings: the character codes of those of one length."""

    def __init__(self, texts: np.ndarray) -> None:
        self.texts = texts

    def lengths(self, rows: np.ndarray) -> np.ndarray:
        return np.fromiter(map(len, self.texts[rows]), dtype=np.int64, count=len(rows))

    def chars(self, rows: np.ndarray, k: int) -> np.ndarray:
        """(values, k) code points of the values ``rows``, all ``k`` characters long."""
        return self.texts[rows].astype(f"U{k}").view(np.uint32).reshape(len(rows), k)


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


def _scan(engine: _Engine, source, present: np.ndarray, batch_size: int = _BATCH) -> _Scan:
    """Decide what can be decided without phonenumbers, batch by batch.

    Batches are independent and their work is mostly numpy, which releases the GIL:
    a few threads run them side by side.
    """
    scan = _Scan(len(present))
    scan.reason[~present] = _EMPTY
    rows = np.flatnonzero(present)

    def work(first: int) -> None:
        batch = rows[first : first + batch_size]
        try:
            _scan_batch(engine, source, batch, scan)
        except Exception:
            if _STRICT:
                raise
            # a fast-path bug must not cost a result: phonenumbers decides these
            scan.reason[batch], scan.key[batch], scan.canonical[batch] = _UNDECIDED, -1, False

    starts = range(0, len(rows), batch_size)
    if len(starts) < 2 or _THREADS < 2:
        for first in starts:
            work(first)
    else:
        with ThreadPoolExecutor(min(_THREADS, len(starts))) as pool:
            list(pool.map(work, starts))  # re-raises a worker's exception
    return scan


def _scan_batch(engine: _Engine, source, rows: np.ndarray, scan: _Scan) -> None:
    length = source.lengths(rows)
    scan.reason[rows[length == 0]] = _EMPTY
    # values of one length at a time: no padding, and whole-value reductions are cheap
    blocks, chosen, counts, pluses, plain = [], [], [], [], []
    for k, group in _groups(np.minimum(length, _MAX_CHARS + 1)):
        if not 1 <= k <= _MAX_CHARS:
            continue
        why, block, pick, count, plus, ascii_digits = _scan_length(source.chars(rows[group], k), k)
        scan.reason[rows[group]] = why
        if pick.size:
            blocks.append(block)
            chosen.append(rows[group[pick]])
            counts.append(count)
            pluses.append(plus)
            plain.append(ascii_digits)
    if not blocks:
        return
    width = max(b.shape[0] for b in blocks)
    table = np.full((width + 1, sum(b.shape[1] for b in blocks)), _PAD, dtype=np.uint8)
    at = 0
    for b in blocks:
        table[: b.shape[0], at : at + b.shape[1]] = b
        at += b.shape[1]
    cand = np.concatenate(chosen)
    nd, plus, ascii_digits = (np.concatenate(x) for x in (counts, pluses, plain))
    digits = _Digits(table)
    why, code, off = engine.decide(digits, nd, plus)
    scan.reason[cand] = why
    valid = np.flatnonzero((why == _OK) | (why == _NOT_MOBILE) | (why == _FOREIGN))
    nsn = nd[valid] - off[valid]
    target = cand[valid]
    scan.cc[target] = code[valid]
    scan.key[target] = nsn * 10**17 + digits.values(valid, off[valid], nsn)
    scan.canonical[target] = ascii_digits[valid] & (off[valid] == 0) & ~plus[valid]


def _prepared_otherwise(chars, isdigit, any_flag, count, simple) -> np.ndarray:
    """Which of the values the fast path would take the documented steps may change:
    a possible extension (text and at most 7 digits), Excel's text of a float
    (digits, a point, a zero...), or two runs of at least 7 digits. A superset."""
    declined = simple & ((any_flag & _F_OTHER) != 0) & (count <= 7)
    dotted = np.flatnonzero(simple & ((any_flag & _F_SEP) != 0))
    if dotted.size:
        dot = chars[dotted] == 46
        first = np.argmax(dot, axis=1)
        after = chars[dotted, np.minimum(first + 1, chars.shape[1] - 1)]
        declined[dotted[(dot.sum(axis=1) == 1) & (after == 48)]] = True
    long = np.flatnonzero(simple & (count >= 14))
    if long.size:
        run = np.zeros(len(long), dtype=np.int64)
        runs = np.zeros(len(long), dtype=np.int64)
        for row in isdigit[:, long]:
            run = (run + 1) * row
            runs += run == 7
        declined[long[runs >= 2]] = True
    return declined


def _scan_length(chars: np.ndarray, k: int):
    """Classify values of ``k`` characters, given as their codes (values, k).

    Returns (reason per value, digit block (k, picked) of the values to decide,
    their positions, digit counts, leading '+', whether they are ASCII digits only).
    """
    m = len(chars)
    flags = np.ascontiguousarray(_FLAGS.take(chars).T)  # (position, value)
    any_flag = np.bitwise_or.reduce(flags, axis=0)
    white = (np.bitwise_and.reduce(flags, axis=0) & _F_WHITE) != 0
    isdigit = (flags & _F_DIGIT) != 0
    count = isdigit.view(np.uint8).sum(axis=0, dtype=np.uint8).astype(np.int64)
    usable = (any_flag & _F_BAD) == 0
    why = np.full(m, _UNDECIDED, dtype=np.int8)
    why[usable & white] = _EMPTY
    why[usable & ~white & (count == 0)] = _NOT_A_NUMBER
    simple = (any_flag & (_F_OTHER | _F_PLUS | _F_BAD)) == 0  # digits and separators
    has_plus = np.zeros(m, dtype=bool)
    fancy = np.flatnonzero(~simple & usable & ~white & (count > 0))
    if fancy.size:
        f = flags[:, fancy]
        digit = (f & _F_DIGIT) != 0
        isplus = (f & _F_PLUS) != 0
        first_digit = np.argmax(digit, axis=0)
        start = np.argmax(digit | isplus, axis=0)
        other = (f & _F_OTHER) != 0
        last_other = np.where(other.any(axis=0), k - 1 - np.argmax(other[::-1], axis=0), -1)
        nplus = np.count_nonzero(isplus, axis=0)
        last_plus = k - 1 - np.argmax(isplus[::-1], axis=0)
        ok = last_other < start  # text before the number only
        # '+' only as one run at the start (then the country code follows)
        ok &= (nplus == 0) | ((start + nplus - 1 == last_plus) & (last_plus < first_digit))
        simple[fancy] = ok
        has_plus[fancy] = nplus > 0
    simple &= usable & (count > 0)
    why[simple & (count == 1)] = _NOT_A_NUMBER
    pair = np.flatnonzero(simple & (count == 2))
    if pair.size:  # two digits make a number only when written together, without '+'
        digit = isdigit[:, pair]
        together = k - 1 - np.argmax(digit[::-1], axis=0) == np.argmax(digit, axis=0) + 1
        together &= ~has_plus[pair]
        why[pair[~together]] = _NOT_A_NUMBER
        simple[pair[~together]] = False
    # what the documented steps would change: left to _prepare_one
    declined = _prepared_otherwise(chars, isdigit, any_flag, count, simple)
    why[declined], simple[declined] = _UNDECIDED, False
    pick = np.flatnonzero(simple & (count >= 2))
    count = count[pick]
    block = np.full((int(count.max(initial=0)), len(pick)), _PAD, dtype=np.uint8)
    # values sharing a shape (where the digits are, e.g. 'ddd dddd dddd') share the
    # positions of their digits: gather them shape by shape
    everything = len(pick) == m
    sub = np.ascontiguousarray(_VALUE.take(chars if everything else chars[pick]).T)
    if len(pick) and (count == k).all():  # nothing but digits: already in place
        block[:] = sub
        return why, block, pick, count, has_plus[pick], any_flag[pick] == _F_DIGIT
    digit = isdigit if everything else isdigit[:, pick]
    packed = np.packbits(digit, axis=0, bitorder="little").astype(np.uint64)
    shape = packed[0].copy()
    for b in range(1, len(packed)):
        shape |= packed[b] << np.uint64(8 * b)
    inverse, shapes = pd.factorize(shape)
    if len(shapes) <= 64:
        for s, bits in enumerate(np.asarray(shapes).tolist()):
            where = [j for j in range(k) if bits >> j & 1]
            if len(shapes) == 1:
                block[: len(where)] = sub[where]
            else:
                at = np.flatnonzero(inverse == s)
                block[: len(where), at] = sub[where][:, at]
    else:  # many shapes: rank the digits within each value
        rank = np.cumsum(digit, axis=0, dtype=np.int8) - 1
        j, i = np.nonzero(digit)
        block[rank[j, i], i] = sub[j, i]
    ascii_digits = any_flag[pick] == _F_DIGIT
    return why, block, pick, count, has_plus[pick], ascii_digits


# --------------------------------------------------------------------------- phonenumbers
def _slow_one(text: str, region: str) -> tuple[int, int, int]:
    """(reason, country code, NSN key) for one text, by phonenumbers itself."""
    if not text.strip():
        return _EMPTY, 0, -1
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        return _PARSE_ERRORS.get(error.error_type, _INVALID), 0, -1
    except Exception:  # phonenumbers failing on odd input: it could not read a number
        return _NOT_A_NUMBER, 0, -1
    if not phonenumbers.is_valid_number(number):
        possible = phonenumbers.is_possible_number_with_reason(number)
        return _POSSIBLE.get(possible, _INVALID), 0, -1
    nsn = phonenumbers.national_significant_number(number)
    cc = number.country_code
    key = len(nsn) * 10**17 + int(nsn)
    if cc != PROVIDER_COUNTRY_CODE:
        return _FOREIGN, cc, key
    if phonenumbers.number_type(number) in _MOBILE_TYPES:
        return _OK, cc, key
    return _NOT_MOBILE, cc, key


_PARSE_ERRORS = {
    NumberParseException.NOT_A_NUMBER: _NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_NSN: _TOO_SHORT,
    NumberParseException.TOO_SHORT_AFTER_IDD: _TOO_SHORT,
    NumberParseException.TOO_LONG: _TOO_LONG,
    NumberParseException.INVALID_COUNTRY_CODE: _INVALID,
}
_POSSIBLE = {ValidationResult.TOO_SHORT: _TOO_SHORT, ValidationResult.TOO_LONG: _TOO_LONG}


# --------------------------------------------------------------------------- assembling
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
    index = values.index if isinstance(values, pd.Series) else None
    arrow = _arrow_input(values)
    if arrow is not None:
        index = pd.RangeIndex(len(arrow[0])) if index is None else index
        return _normalize_arrow(*arrow, index, region, dedupe)
    codes, texts = _factorized_texts(values)
    if index is None:
        index = pd.RangeIndex(len(codes))
    present = np.zeros(len(texts), dtype=bool)
    present[codes[codes >= 0]] = True
    scan = _classify(texts, present, region)
    return _assemble(codes, texts, scan, index, dedupe)


def check_region(region: str) -> str:
    """``region`` in capitals, or a ValueError saying what a region is."""
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidValue(
            f"region must be an ISO 3166 code phonenumbers knows (such as 'CN'), got {region!r}"
        )
    return region.upper()


def _classify(texts: np.ndarray, present: np.ndarray, region: str) -> _Scan:
    """The fast path, then what it left undecided one distinct text at a time."""
    scan = _scan(_engine(region), _Texts(texts), present)
    _decide_declined(scan, texts, region)
    return scan


def _decide_declined(scan: _Scan, texts, region: str) -> None:
    """Decide the texts the fast path declined (``texts``: an array of them all, or a
    function giving those at some positions), in place."""
    todo = np.flatnonzero(scan.reason == _UNDECIDED)
    if todo.size == 0:
        return
    declined = texts(todo) if callable(texts) else texts[todo]
    which, uniques = pd.factorize(declined)
    some = _one_by_one(np.asarray(uniques, dtype=object), region)
    scan.reason[todo], scan.cc[todo], scan.key[todo] = (
        some.reason[which],
        some.cc[which],
        some.key[which],
    )


def _one_by_one(texts: np.ndarray, region: str) -> _Scan:
    """Distinct texts the fast path declined: the documented steps (_prepare_one) on
    each, the fast path on what they give, phonenumbers on what is left."""
    prepared = np.empty(len(texts), dtype=object)
    reason = np.full(len(texts), _UNDECIDED, dtype=np.int8)
    for i, text in enumerate(texts.tolist()):
        if not text.strip():
            reason[i], prepared[i] = _EMPTY, ""
            continue
        found = _prepare_one(text)
        if found is None:
            reason[i], prepared[i] = _NOT_A_NUMBER, ""
        elif isinstance(found, tuple):
            reason[i], prepared[i] = _SEVERAL, ""
        else:
            prepared[i] = found
    pending = reason == _UNDECIDED
    scan = _scan(_engine(region), _Texts(prepared), pending)
    scan.reason[~pending] = reason[~pending]
    scan.canonical[:] = False
    slow = np.flatnonzero(scan.reason == _UNDECIDED)
    if slow.size:
        results = [_slow_one(text, region) for text in prepared[slow].tolist()]
        why, code, key = (np.array(column) for column in zip(*results, strict=True))
        scan.reason[slow], scan.cc[slow], scan.key[slow] = why, code, key
    return scan


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


# --------------------------------------------------------------------------- Arrow strings
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
    reason, cc, key = scan.reason, scan.cc, scan.key
    del scan, present, ascii_, others  # before the outputs are built
    if codes is not None:
        reason = np.append(reason, np.int8(_EMPTY))[codes]
        cc, key = np.append(cc, np.int16(0))[codes], np.append(key, -1)[codes]
    if dedupe:
        _mark_duplicates(reason, key)
    phone = (reason == _OK) | (reason == _DUPLICATE)
    phone = pd.array(_arrow_numbers(key, cc, phone, False), dtype=dtype)
    e164 = pd.array(_arrow_numbers(key, cc, key >= 0, True), dtype=dtype)
    return pd.DataFrame(
        {
            "sms_phone": pd.Series(phone, index=index, copy=False),
            "sms_e164": pd.Series(e164, index=index, copy=False),
            "sms_reason": pd.Categorical.from_codes(reason, dtype=REASON_DTYPE),
        },
        index=index,
        copy=False,
    )


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


def _mark_duplicates(reason: np.ndarray, key: np.ndarray, codes: np.ndarray | None = None):
    """Sendable rows whose number an earlier row has: ``duplicate`` (in place)."""
    sendable = np.flatnonzero(reason == _OK)
    keys = key[sendable] if codes is None else key[codes[sendable]]
    repeated = pd.Series(keys).duplicated(keep="first").to_numpy()
    reason[sendable[repeated]] = _DUPLICATE


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
