"""The per-row phonenumbers reference of smsframe.phones: each value given to phonenumbers
on its own, the answer read as the documented rules say. It is the specification the
tests hold ``normalize`` to (tests/test_phones.py) and the per-row way the benchmark
times (bench/bench_phones.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult


def reference_text(value):
    """What phonenumbers is given for a cell (None: missing), per the documented rules."""
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
        if math.isnan(f):
            return None
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        if pd.isna(value) is True:
            return None
    except Exception:
        pass
    try:
        return str(value)
    except Exception:
        return "\ufffd"


_PARSE_ERROR = {
    NumberParseException.NOT_A_NUMBER: "not_a_number",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_LONG: "too_long",
    NumberParseException.INVALID_COUNTRY_CODE: "invalid",
}


def reference_text_result(text, region="CN"):
    """(sms_phone, sms_e164, sms_reason) for one text, straight from phonenumbers."""
    if text is None or not text.strip():
        return None, None, "empty"
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        return None, None, _PARSE_ERROR[error.error_type]
    except Exception:  # phonenumbers itself failing: it could not read a number
        return None, None, "not_a_number"
    if not phonenumbers.is_valid_number(number):
        why = phonenumbers.is_possible_number_with_reason(number)
        reason = {ValidationResult.TOO_SHORT: "too_short", ValidationResult.TOO_LONG: "too_long"}
        return None, None, reason.get(why, "invalid")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.country_code != 86:
        return None, e164, "foreign"
    kind = phonenumbers.number_type(number)
    if kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None, e164, "not_mobile"
    return phonenumbers.national_significant_number(number), e164, None


def reference(values, region="CN", dedupe=True):
    """Row by row; a repeated text is looked up once (the answer depends on the text)."""
    cache, seen, rows = {}, set(), []
    for value in values:
        text = reference_text(value)
        if text not in cache:
            cache[text] = reference_text_result(text, region)
        phone, e164, reason = cache[text]
        if reason is None and dedupe:
            if phone in seen:
                reason = "duplicate"
            seen.add(phone)
        rows.append((phone, e164, reason))
    return rows
