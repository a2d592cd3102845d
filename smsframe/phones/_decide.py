"""What the fast path declines: the documented steps, then phonenumbers itself, once
per distinct text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import (
    NumberParseException,
    ValidationResult,
)

from smsframe.phones._parse import _engine
from smsframe.phones._reasons import (
    _EMPTY,
    _FOREIGN,
    _INVALID,
    _MOBILE_TYPES,
    _NOT_A_NUMBER,
    _NOT_MOBILE,
    _OK,
    _SEVERAL,
    _TOO_LONG,
    _TOO_SHORT,
    _UNDECIDED,
    PROVIDER_COUNTRY_CODE,
)
from smsframe.phones._scan import _Scan, _scan, _Texts
from smsframe.phones._steps import _prepare_one


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
    scan = _scan(_engine(region), _Texts(prepared), pending, steps=False)
    scan.reason[~pending] = reason[~pending]
    slow = np.flatnonzero(scan.reason == _UNDECIDED)
    if slow.size:
        results = [_slow_one(text, region) for text in prepared[slow].tolist()]
        why, code, key = (np.array(column) for column in zip(*results, strict=True))
        scan.reason[slow], scan.cc[slow], scan.key[slow] = why, code, key
    return scan
