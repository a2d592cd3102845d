"""``phonenumbers.parse`` and its validation replayed on arrays of digits."""

from __future__ import annotations

import functools

import numpy as np
from phonenumbers import (
    PhoneNumberType,
    ValidationResult,
)

from smsframe.phones._automata import UNSUPPORTED, _prefix
from smsframe.phones._digits import _Digits, _groups
from smsframe.phones._metadata import (
    _CC_TABLES,
    _IS_MOBILE,
    _LENGTHS,
    _STRIP_KEEPS,
    _country,
    _Region,
    _region,
    slow_region,
)
from smsframe.phones._reasons import (
    _FOREIGN,
    _INVALID,
    _MAX_NSN,
    _MIN_NSN,
    _NOT_MOBILE,
    _OK,
    _TOO_LONG,
    _TOO_SHORT,
    _UNDECIDED,
    PROVIDER_COUNTRY_CODE,
)


class _Engine:
    """The fast path for one default region: parse + validate replayed on arrays."""

    def __init__(self, region_code: str) -> None:
        self.region_code = region_code
        self.home = _region(region_code)
        metadata = self.home.metadata
        self.idd = _prefix(metadata.international_prefix)
        self.cc_digits = [int(ch) for ch in str(metadata.country_code)]
        self.ok = self.home.ok and self.idd is not UNSUPPORTED and len(self.cc_digits) <= 3
        if self.idd is UNSUPPORTED:
            slow_region(region_code, "its international prefix")

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
        if prefix is UNSUPPORTED:
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
                if candidate.leading is UNSUPPORTED or (
                    candidate.leading is None and not candidate.ok
                ):
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
