"""The per-row phonenumbers reference of smsframe.phones: each value given to phonenumbers
on its own, after the documented steps (smsframe.phones' docstring, the README), the
answer read as the documented rules say. It is the specification the tests hold
``normalize`` to (tests/test_phones.py) and the per-row way the benchmark times
(bench/bench_phones.py). The steps are written here on their own, character by
character, not copied from smsframe."""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal, InvalidOperation

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


LINE_BREAKS = set("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
SEPARATORS = set(";,，；/／、") | LINE_BREAKS
EXTENSION_MARKS = ("extension", "extn", "ext", "x", "#", "转", "分机")  # longest first


def is_digit(ch):
    return unicodedata.category(ch) == "Nd"


def is_letter(ch):
    """A word character that is not a digit: letters of any script, CJK, 'ー', '²'..."""
    return ch.isalnum() and not is_digit(ch)


def excel_integer(text):
    """Digits of Excel's text of an integral number, else None."""
    core = text.strip()
    if not core or not core.isascii() or any(ch.isspace() for ch in core):
        return None
    whole, point, zeros = core.partition(".")
    if point and whole.isdigit() and zeros and set(zeros) == {"0"}:
        return whole
    mantissa, e, exponent = core.replace("E", "e").partition("e")
    exponent = exponent.removeprefix("+")
    if not e or not exponent.isdigit() or len(exponent) > 2:
        return None
    head, point, tail = mantissa.partition(".")
    if len(head) != 1 or not head.isdigit() or (point and not tail.isdigit()):
        return None
    try:
        value = Decimal(mantissa) * 10 ** int(exponent)
    except InvalidOperation:
        return None
    return str(int(value)) if value == value.to_integral_value() else None


def strip_extension(piece):
    """``piece`` without an extension at its end (a mark, then 1-7 digits)."""
    end = len(piece.rstrip())
    if end and piece[end - 1] == "#":
        end -= 1
    start = end
    while start > 0 and is_digit(piece[start - 1]):
        start -= 1
    if not 1 <= end - start <= 7:
        return piece
    mark_end = start
    while mark_end > 0 and (piece[mark_end - 1].isspace() or piece[mark_end - 1] in ".:：="):
        mark_end -= 1
    for mark in EXTENSION_MARKS:
        head = piece[: mark_end - len(mark)]
        if piece[:mark_end].lower().endswith(mark) and not (head and is_letter(head[-1])):
            return head
    return piece


def reference_prepare(text):
    """The documented steps on a non-blank text: the text phonenumbers reads, a tuple
    of the numbers of a cell holding several, or None when no number is left."""
    text = "".join(" " if ch.isspace() and ch not in LINE_BREAKS else ch for ch in text)
    excel = excel_integer(text)
    if excel is not None:
        return excel
    if text.lstrip().lower().startswith("tel:"):
        text = text.lstrip()[4:].split(";")[0]
    pieces, piece = [], ""
    for ch in text:
        if ch in SEPARATORS:
            pieces.append(piece)
            piece = ""
        else:
            piece += ch
    pieces.append(piece)
    numbers = [p.strip() for p in map(strip_extension, pieces) if any(map(is_digit, p))]
    if len(numbers) != 1:
        return tuple(numbers) if numbers else None
    runs, run = [], ""
    for ch in numbers[0] + " ":
        if is_digit(ch):
            run += ch
        else:
            if len(run) >= 7:
                runs.append(run)
            run = ""
    if len(runs) > 1:
        return tuple(runs)
    return "".join(ch for ch in numbers[0] if not is_letter(ch))


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
    text = reference_prepare(text)
    if text is None:
        return None, None, "not_a_number"
    if isinstance(text, tuple):
        return None, None, "several_numbers"
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
