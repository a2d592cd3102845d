"""Messages: one text for every row, or a template filled from each row's columns;
its length in SMS parts as the provider counts them; pre-flight checks.

A message is a ``str``. With no ``{field}`` it is the same for every row and is
checked once, whatever the number of rows. With fields it is a template under
``str.format`` rules, each field naming a column: ``"您好{name}，您的积分为{points}"``.
``{{`` and ``}}`` are literal braces; conversions and format specs work as in
``str.format`` (``{amount:.2f}``, ``{code!r}``). A field that names no column is
an error before anything is done; a row where a field's value is missing gets
the reason ``template_missing``.

Length and parts follow the provider's contract (``docs/provider/contract.md``):
every character (a Chinese character, an ASCII letter, an emoji code point)
counts one; up to 70 characters is one SMS; a longer message goes in parts of
67; at most 201 characters (3 parts) are accepted.

Columns added per row (same index as the frame):

``sms_message``
    the rendered text (missing for ``template_missing``);
``sms_parts``
    SMS parts it costs per recipient (nullable integer);
``sms_reason``
    why the message cannot be sent for this row (categorical, see
    :data:`REASON_TEXT`), missing when it can;
``sms_detail``
    for ``banned_keyword``: the keywords found, ``;``-separated in the order
    they were given (the provider reports -13 the same way); for
    ``template_missing``: the columns without a value; else missing.
"""

from __future__ import annotations

import bisect
import difflib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from smsframe.errors import InvalidType, InvalidValue, MissingFile
from smsframe.phones._output import (  # how smsframe writes text columns
    _MISSING_TEXT,
    _no_text,
    _present,
    _text_blocks,
    _text_column,
    _texts_at,
)

__all__ = [
    "MAX_LENGTH",
    "PART_LENGTH",
    "REASONS",
    "REASON_TEXT",
    "SMS_LENGTH",
    "banned_keywords",
    "parts",
    "render",
    "render_frame",
    "template_fields",
]

#: Characters that fit in one SMS.
SMS_LENGTH = 70
#: Characters per part of a longer message.
PART_LENGTH = 67
#: The longest message the provider accepts: "3 SMS lengths" (3 parts of 67).
MAX_LENGTH = 3 * PART_LENGTH

#: Why a row's message cannot be sent: token -> text. Order = category order.
REASON_TEXT: dict[str, str] = {
    "template_missing": "a column the template uses has no value in this row",
    "message_empty": "the message is empty or blank (the provider would answer -5)",
    "message_too_long": (
        f"the message is longer than {MAX_LENGTH} characters, 3 SMS (the provider would answer -6)"
    ),
    "banned_keyword": "the message contains a banned keyword, listed in sms_detail (-13)",
    "bad_characters": (
        "the message holds characters a SOAP request cannot carry (control characters or "
        "lone surrogates); sms_message shows them escaped"
    ),
}
# What XML 1.0 cannot carry: C0 controls but tab, newline and return; surrogates; U+FFFE/F.
BAD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REASONS: tuple[str, ...] = tuple(REASON_TEXT)
REASON_DTYPE = pd.CategoricalDtype(list(REASONS))
_MISSING, _EMPTY, _TOO_LONG, _BANNED, _BAD = range(5)
_OK = -1


def parts(message: str | int) -> int:
    """SMS parts of a message (its text or its length in characters).

    Examples
    --------
    >>> from smsframe.message import parts
    >>> parts("您好"), parts(70), parts(71), parts(134), parts(135), parts(201)
    (1, 1, 2, 2, 3, 3)
    >>> parts("")
    0
    """
    n = message if isinstance(message, int) else len(message)
    return 0 if n == 0 else 1 if n <= SMS_LENGTH else -(-n // PART_LENGTH)


def _filled(n: int, value: object) -> np.ndarray:
    """An object array of ``n`` references to ``value`` (``np.full`` would copy a str
    into ``n`` new objects)."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _parts(length: np.ndarray) -> np.ndarray:
    return np.where(length <= SMS_LENGTH, np.minimum(length, 1), -(-length // PART_LENGTH))


# --------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class _Field:
    column: Any  # the frame's column label
    text: str  # as written between the braces
    conversion: str | None
    spec: str
    simple: bool  # just {column}, {column!c} or {column:spec}


@dataclass(frozen=True)
class _Template:
    literals: tuple[str, ...]  # len(fields) + 1 pieces around the fields
    fields: tuple[_Field, ...]
    nested: tuple[Any, ...]  # columns used inside format specs, as in {price:{width}}
    source: str

    @property
    def constant(self) -> bool:
        return not self.fields

    @property
    def columns(self) -> list[Any]:
        return list(dict.fromkeys([*(f.column for f in self.fields), *self.nested]))


_FIELD_ROOT = re.compile(r"([^.\[]*)(.*)", re.DOTALL)


def _parse(message: str, columns: pd.Index | None) -> _Template:
    """Split a template into literals and fields; check each field names a column."""
    if not isinstance(message, str):
        raise InvalidType(f"message must be a str, got {type(message).__name__}")
    try:
        pieces = list(string.Formatter().parse(message))
    except ValueError as error:
        raise InvalidValue(
            f"message is not a valid template ({error}); write {{{{ and }}}} for literal braces"
        ) from None
    literals, fields, nested = [""], [], []
    for literal, name, spec, conversion in pieces:
        literals[-1] += literal
        if name is None:
            continue
        spec = spec or ""
        if conversion not in (None, "r", "s", "a"):
            raise InvalidValue(f"message template field {{{name}!{conversion}}}: use !r, !s or !a")
        root, rest = _FIELD_ROOT.fullmatch(name).groups()
        fields.append(_Field(_root(root, columns), name, conversion, spec, not rest))
        literals.append("")
        if "{" in spec:  # fields inside the spec: str.format fills them first
            inner = _parse(spec, columns)
            nested += inner.columns
            fields[-1] = _Field(fields[-1].column, name, conversion, spec, False)
    return _Template(tuple(literals), tuple(fields), tuple(nested), message)


def _root(root: str, columns: pd.Index | None) -> Any:
    if root == "":
        raise InvalidValue("message template has an empty field {}: name a column, as in {name}")
    return root if columns is None else _column(root, columns)


def _column(root: str, columns: pd.Index) -> Any:
    if root in columns:
        return root
    if root.isdigit() and int(root) in columns:
        return int(root)
    theirs = [c for c in columns if not str(c).startswith("sms_")]  # not smsframe's own
    near = difflib.get_close_matches(root, [str(c) for c in theirs], n=1)
    hint = f"did you mean {{{near[0]}}}? " if near else ""
    raise InvalidValue(
        f"message template field {{{root}}} names no column of the frame; {hint}"
        f"its columns are {theirs} (write {{{{ and }}}} for literal braces)"
    )


def template_fields(message: str) -> list[str]:
    """The column names a message template uses, in order (empty for a constant).

    Examples
    --------
    >>> from smsframe.message import template_fields
    >>> template_fields("您好{name}，您的积分为{points:,}，{{退订回T}}")
    ['name', 'points']
    """
    return _parse(message, None).columns


# --------------------------------------------------------------------------- rendering
def _field_texts(values: pd.Series, field: _Field, literal: str = "") -> np.ndarray:
    """``format(value, spec)`` after the conversion, then ``literal``, per row (missing
    rows: anything).

    Values are pandas' boxed ones (``Series.to_dict``): Python ints and floats,
    Timestamps... Typed columns are formatted once per distinct value."""
    convert = {None: None, "s": str, "r": repr, "a": ascii}[field.conversion]
    kind = values.dtype.kind
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype) or kind == "c":
        array = values.to_numpy(dtype=object)
        plain = convert is None and field.spec == ""
        if plain and pd.api.types.infer_dtype(array, skipna=True) == "string":
            if not literal:
                return array  # format(text, "") is the text
            return np.where(values.isna().to_numpy(), "", array) + literal
        # objects of any kind (True == 1 but not alike): one by one, no hashing
        missing = values.isna().to_numpy()
        out = np.empty(len(array), dtype=object)
        for i in np.flatnonzero(~missing):
            value = array[i] if convert is None else convert(array[i])
            out[i] = format(value, field.spec) + literal
        return out
    if kind == "f":  # 0.0 == -0.0, yet they format differently: hash the bits
        floats = values.to_numpy(dtype=np.float64, na_value=np.nan)
        codes, bits = pd.factorize(floats.view(np.uint64))
        uniques = np.asarray(bits).view(np.float64).astype(object)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object)
    if convert is not None:
        uniques = [convert(v) for v in uniques]
    texts = np.array([format(v, field.spec) + literal for v in uniques] + [""], dtype=object)
    return texts[codes]  # -1 (missing rows) picks "", unused


class _Columns(string.Formatter):
    """``str.format`` whose fields are looked up among a row's columns."""

    def get_value(self, key, args, kwargs):
        return kwargs[key]


def _render(frame: pd.DataFrame, template: _Template) -> tuple[np.ndarray, np.ndarray]:
    """(rendered messages as an object array, rows with a missing value)."""
    n = len(frame)
    missing = np.zeros(n, dtype=bool)
    columns = {}
    for column in template.columns:
        values = frame[column]
        if isinstance(values, pd.DataFrame):
            raise InvalidValue(f"several columns are named {column!r}; rename them first")
        columns[column] = values
        missing |= values.isna().to_numpy()
    if all(f.simple for f in template.fields):
        out = _filled(n, template.literals[0])
        for field, literal in zip(template.fields, template.literals[1:], strict=True):
            texts = _field_texts(columns[field.column], field, literal)
            if missing.any():
                texts = np.where(missing, "", texts)
            out = out + texts
        return out, missing
    # attribute or index lookups, nested format specs: str.format itself, row by row
    formatter = _Columns()
    keys = {c: int(c) if str(c).isdigit() else c for c in columns}  # how format asks
    data = {keys[c]: v.to_numpy(dtype=object) for c, v in columns.items()}
    out = np.empty(n, dtype=object)
    for i in np.flatnonzero(~missing):
        out[i] = formatter.vformat(template.source, (), {k: v[i] for k, v in data.items()})
    return out, missing


def _banned(messages: np.ndarray, length: np.ndarray, keywords: list[str]):
    """Positions of the messages containing banned keywords, and for each the keywords
    found, ';'-joined in the order given."""
    pattern = re.compile("|".join(map(re.escape, sorted(keywords, key=len, reverse=True))))
    flagged: list[int] = []
    chunk = 1 << 16
    for first in range(0, len(messages), chunk):
        block = messages[first : first + chunk]
        text = "\x00".join(block)  # keywords hold no \x00: a match stays in one message
        starts = np.concatenate([[0], np.cumsum(length[first : first + chunk] + 1)]).tolist()
        at = 0
        while (found := pattern.search(text, at)) is not None:
            row = bisect.bisect_right(starts, found.start()) - 1
            flagged.append(first + row)
            at = starts[row + 1]  # on to the next message
    rows = np.array(flagged, dtype=np.intp)
    detail = [";".join(k for k in keywords if k in messages[r]) for r in flagged]
    return rows, np.array([*detail, ""], dtype=object)[:-1]


def banned_keywords(keywords: Iterable[str] | str | Path | None) -> list[str]:
    """The banned keywords, each once: a list of words, one word, or the path of a
    UTF-8 text file with one word per line (blank lines and ``#`` comments skipped).

    >>> banned_keywords(["最低价", "免费", "最低价"])
    ['最低价', '免费']
    """
    if keywords is None:
        return []
    if isinstance(keywords, Path) or (
        isinstance(keywords, str) and keywords.endswith((".txt", ".csv", ".lst"))
    ):
        path = Path(keywords)
        if not path.is_file():
            raise MissingFile(
                f"keywords={str(keywords)!r} looks like a file of keywords but there is no "
                "such file; pass its path, or a list of words such as keywords=['最低价']"
            )
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        keywords = [line for line in lines if line and not line.startswith("#")]
    elif isinstance(keywords, str):
        keywords = [keywords]
    keywords = list(dict.fromkeys(keywords))
    for keyword in keywords:
        if not isinstance(keyword, str) or not keyword or "\x00" in keyword:
            raise InvalidValue(f"a banned keyword must be a non-empty str, got {keyword!r}")
    return keywords


def render(
    frame: pd.DataFrame,
    message: str,
    *,
    keywords: Iterable[str] | str | Path | None = None,
) -> pd.DataFrame:
    """Render ``message`` for every row of ``frame`` and check it.

    Parameters
    ----------
    frame
        The rows; a template's fields name its columns.
    message
        A constant text, or a template such as ``"您好{name}"`` (``str.format``
        rules, see the module docstring).
    keywords
        Words the provider is known to refuse (it answers -13 with the words
        found); a message containing any of them gets ``banned_keyword`` and
        the words in ``sms_detail``. Matching is exact and case-sensitive.

    Returns
    -------
    DataFrame
        ``sms_message``, ``sms_parts``, ``sms_reason``, ``sms_detail`` on the
        frame's index.

    Raises
    ------
    ValueError
        When a template field names no column (nothing is rendered then).

    Examples
    --------
    >>> import pandas as pd
    >>> from smsframe.message import render
    >>> contacts = pd.DataFrame({"name": ["王伟", None, "李娜"], "points": [120, 80, 4500]})
    >>> render(contacts, "您好{name}，您的积分为{points}。", keywords=["4500"])
           sms_message  sms_parts        sms_reason           sms_detail
    0   您好王伟，您的积分为120。          1               NaN                  NaN
    1              NaN       <NA>  template_missing  'name' has no value
    2  您好李娜，您的积分为4500。          1    banned_keyword                 4500
    >>> render(contacts, "国庆快乐！")["sms_parts"].sum()
    np.int64(3)
    """
    template = _parse(message, frame.columns)
    keywords = banned_keywords(keywords)
    n = len(frame)
    reason = np.full(n, _OK, dtype=np.int8)
    if template.constant:
        text = "".join(template.literals)  # literal braces resolved
        why, found = _check_one(text, keywords)
        text = _escaped(text)
        reason[:] = why
        messages = _filled(n, text)  # one object, n references
        count = np.full(n, parts(text), dtype=np.int64)
        detail = _text_blocks(n, _filled(n, found), frame.index) if found else _no_text(frame.index)
        return _columns(frame.index, messages, count, np.zeros(n, dtype=bool), reason, detail)
    messages, missing = _render(frame, template)
    present = np.flatnonzero(~missing)
    rendered = messages[present]
    length = np.fromiter(map(len, rendered), dtype=np.int64, count=len(rendered))
    count = np.zeros(n, dtype=np.int64)
    count[present] = _parts(length)
    blank = (length == 0) | np.fromiter(map(str.isspace, rendered), dtype=bool, count=len(rendered))
    bad = np.fromiter(
        (BAD_CHARACTERS.search(text) is not None for text in rendered),
        dtype=bool,
        count=len(rendered),
    )
    why = np.select(
        [blank, bad, length > MAX_LENGTH], [_EMPTY, _BAD, _TOO_LONG], default=_OK
    ).astype(np.int8)
    messages[present[bad]] = [_escaped(text) for text in rendered[bad]]
    banned, found = np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object)
    if keywords:
        candidates = np.flatnonzero(why == _OK)
        rows, found = _banned(rendered[candidates], length[candidates], keywords)
        why[candidates[rows]] = _BANNED
        banned = present[candidates[rows]]
    reason[present] = why
    reason[missing] = _MISSING
    messages[missing] = _MISSING_TEXT
    words = _missing_words(frame, template, missing)
    detail = _text_blocks(  # the few rows that have one: never spelled out row by row
        n,
        np.concatenate([np.asarray(found, dtype=object), words]),
        frame.index,
        np.concatenate([banned, np.flatnonzero(missing)]),
    )
    return _columns(frame.index, messages, count, missing, reason, detail)


def _codes_in(column: pd.Series, dtype: pd.CategoricalDtype) -> np.ndarray:
    """A categorical column's codes in ``dtype`` (whose categories hold its own), as
    small as its categories allow: no string per row, nor an integer of 8 bytes."""
    mapping = dtype.categories.get_indexer(column.cat.categories)
    small = np.min_scalar_type(-max(len(dtype.categories), 1))  # signed: -1 is missing
    return np.append(mapping, -1).astype(small)[column.cat.codes.to_numpy()]  # -1: -1


def _kept_details(frame: pd.DataFrame, details: pd.Series, kept: np.ndarray) -> pd.Series:
    """The rows' details: a row ``kept`` (that keeps its reason) keeps the frame's (if
    any), the others get the message's ``details``; built from the few rows that have one."""
    sources = [(details, False)]
    if "sms_detail" in frame.columns:
        sources.append((frame["sms_detail"], True))
    rows, texts = [], []
    for column, keeps in sources:
        present = _present(column)
        rows.append(present[np.isin(present, kept) == keeps])
        texts.append(_texts_at(column, rows[-1]))
    return _text_blocks(len(frame), np.concatenate(texts), frame.index, np.concatenate(rows))


def _missing_words(frame: pd.DataFrame, template: _Template, missing: np.ndarray) -> np.ndarray:
    """For each row with a missing value, the template's columns it has no value in."""
    rows = np.flatnonzero(missing)
    columns = list(dict.fromkeys(template.columns))
    pattern = np.zeros(len(rows), dtype=np.int64)  # bit i: no value in columns[i]
    for i, column in enumerate(columns):
        pattern |= frame[column].isna().to_numpy()[rows].astype(np.int64) << i
    which, patterns = pd.factorize(pattern)
    words = []
    for bits in patterns.tolist():
        names = sorted(repr(c) for i, c in enumerate(columns) if bits >> i & 1)
        words.append(f"{', '.join(names)} {'have' if len(names) > 1 else 'has'} no value")
    return np.array(words, dtype=object)[which]


def _escaped(text: str) -> str:
    """``text`` with the characters XML cannot carry written as escapes (storable, readable)."""
    if not BAD_CHARACTERS.search(text):
        return text
    return BAD_CHARACTERS.sub(
        lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text
    )


def _check_one(text: str, keywords: list[str]) -> tuple[int, str | None]:
    if not text.strip():
        return _EMPTY, None
    if BAD_CHARACTERS.search(text):
        return _BAD, None
    if len(text) > MAX_LENGTH:
        return _TOO_LONG, None
    found = [k for k in keywords if k in text]
    return (_BANNED, ";".join(found)) if found else (_OK, None)


def _columns(index, messages, count, missing, reason, detail) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sms_message": _text_column(messages, index),
            "sms_parts": pd.Series(pd.arrays.IntegerArray(count, missing), index=index, copy=False),
            "sms_reason": pd.Categorical.from_codes(reason, dtype=REASON_DTYPE),
            "sms_detail": detail,
        },
        index=index,
        copy=False,
    )


def render_frame(
    frame: pd.DataFrame,
    message: str,
    *,
    keywords: Iterable[str] | str | Path | None = None,
) -> pd.DataFrame:
    """A new frame: ``frame`` plus the columns of :func:`render`.

    ``sms_message`` and ``sms_parts`` are replaced if present. A row that already
    has a reason (say ``not_mobile`` from :func:`smsframe.phones.normalize`)
    keeps it and its ``sms_detail``; the others get the message's. The reason
    column's categories are the union of both. ``frame`` is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> from smsframe.phones import normalize_frame
    >>> from smsframe.message import render_frame
    >>> contacts = pd.DataFrame({"name": ["王伟", "李娜"], "phone": ["13800138000", "x"]})
    >>> out = render_frame(normalize_frame(contacts), "{name}，您好")
    >>> out[["sms_phone", "sms_message", "sms_parts", "sms_reason"]]
         sms_phone sms_message  sms_parts    sms_reason
    0  13800138000       王伟，您好          1           NaN
    1          NaN       李娜，您好          1  not_a_number
    """
    result = render(frame, message, keywords=keywords)
    if "sms_reason" in frame.columns:
        before = frame["sms_reason"]
        if not isinstance(before.dtype, pd.CategoricalDtype):
            before = before.astype("category")
        kept = np.flatnonzero(before.cat.codes.to_numpy() >= 0)  # rows with a reason already
        union = pd.CategoricalDtype(list(dict.fromkeys([*before.cat.categories, *REASONS])))
        codes = _codes_in(result["sms_reason"], union)
        codes[kept] = _codes_in(before.iloc[kept], union)
        merged = pd.Categorical.from_codes(codes, dtype=union)
        result["sms_reason"] = pd.Series(merged, index=frame.index)
        result["sms_detail"] = _kept_details(frame, result["sms_detail"], kept)
    return frame.assign(**{name: result[name] for name in result.columns})
