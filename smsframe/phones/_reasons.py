"""Reasons a number is not sent, as data: the tokens, their words and their codes."""

from __future__ import annotations

import pandas as pd
from phonenumbers import (
    PhoneNumberType,
)

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
