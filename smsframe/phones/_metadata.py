"""What the fast path needs of each region's metadata, derived once per region."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumberType,
    ValidationResult,
)

from smsframe.phones._automata import UNSUPPORTED, _Declined, _Dfa, _Prefix, _prefix
from smsframe.phones._digits import _Digits
from smsframe.phones._reasons import _MOBILE_TYPES

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


def slow_region(region: str, part: str) -> None:
    """Warn (once per region: regions are built once) that the fast path leaves a
    region's numbers to phonenumbers because it cannot compile its metadata."""
    warnings.warn(
        f"smsframe reads the numbers of region {region} with phonenumbers one by one (the "
        f"same results, slower): its fast path cannot compile {part} in phonenumbers "
        f"{phonenumbers.__version__}'s metadata. Please report it to smsframe",
        pd.errors.PerformanceWarning,
        stacklevel=2,
    )


class _Region:
    """Everything the fast path needs about one region's metadata, or ``ok=False``."""

    def __init__(self, metadata) -> None:
        self.metadata = metadata
        self.country_code = metadata.country_code
        self.ok, self.types = False, None
        self.national_prefix: _Prefix | _Declined | None = UNSUPPORTED
        self.leading: _Prefix | _Declined | None = UNSUPPORTED
        try:
            self._build(metadata)
        except Exception:  # _Unsupported, or anything unexpected: leave it to phonenumbers
            self.ok = False
        declined = [
            part
            for part, value in (
                ("its number patterns", UNSUPPORTED if not self.ok else None),
                ("its national prefix rule", self.national_prefix),
                ("its leading digits", self.leading),
            )
            if value is UNSUPPORTED
        ]
        if declined:
            slow_region(metadata.id, " and ".join(declined))

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
            self.leading = _prefix(metadata.leading_digits) or UNSUPPORTED
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
