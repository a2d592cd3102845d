"""Benchmark: number types from phonenumbers' metadata by smsframe's digit automaton
against RE2 (pyarrow.compute, C++), on the same national numbers.

Issue 17 asks whether the hand-written regex-to-automaton compiler
(``smsframe/phones/_automata.py``) is needed when RE2, shipped with pyarrow, compiles
phonenumbers' patterns unchanged. Both answer ``_number_type_helper`` here from the
same patterns and the same length rules, so only the pattern matching differs:

- the automaton: every type's pattern in one product automaton, one pass over the
  digits (``_Region.number_types``, as ``normalize`` runs it);
- RE2: one anchored ``match_substring_regex`` pass per type pattern the region has,
  over the numbers as Arrow strings (what ``pyarrow.compute`` offers).

Both are checked against each other on every number and against phonenumbers' own
``_number_type_helper`` for that region on a sample; then their numbers/s are printed.

Run: ``python bench/bench_number_types.py [--rows 1000000] [--regions CN,US,GB,DE,IN]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers.phonenumberutil import _number_type_helper  # one region's answer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsframe.phones._digits import _PAD, _Digits
from smsframe.phones._metadata import (
    _DESCS,
    _FIXED,
    _GENERAL,
    _LENGTHS,
    _MOBILE,
    _TYPE_ORDER,
    _region,
)


def national_numbers(region: str, rows: int, seed: int = 0) -> list[str]:
    """A mix like a contact list's: the region's example numbers of each type with
    their last digits varied, and random digits of the region's possible lengths."""
    rng = random.Random(seed)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    examples = [
        desc.example_number
        for desc in (getattr(metadata, name, None) for name in _DESCS)
        if desc is not None and desc.example_number
    ]
    lengths = list(metadata.general_desc.possible_length)
    out = []
    for _ in range(rows):
        if rng.random() < 0.7:
            example = rng.choice(examples)
            keep = max(1, len(example) - 4)
            out.append(example[:keep] + "".join(rng.choice("0123456789") for _ in example[keep:]))
        else:
            length = rng.choice(lengths)
            out.append("".join(rng.choice("0123456789") for _ in range(length)))
    return out


def digit_table(numbers: list[str]) -> tuple[_Digits, np.ndarray]:
    """The numbers as the fast path holds them: a (width + 1, n) table of digits."""
    length = np.fromiter(map(len, numbers), dtype=np.int64, count=len(numbers))
    width = int(length.max())
    padded = np.array([n.ljust(width, ":") for n in numbers], dtype=f"S{width}")
    table = np.full((width + 1, len(numbers)), _PAD, dtype=np.uint8)
    codes = padded.view(np.uint8).reshape(len(numbers), width).T - 48
    table[:width] = np.where(codes <= 9, codes, _PAD)
    return _Digits(table), length


def types_by_automaton(region: str, digits: _Digits, length: np.ndarray) -> np.ndarray:
    rows = np.arange(len(length))
    return _region(region).number_types(digits, rows, np.zeros_like(length), length)


def types_by_re2(region: str, numbers: pa.Array, length: np.ndarray) -> np.ndarray:
    """``_number_type_helper`` with each type's pattern matched by RE2, then the same
    length rules and order as the automaton's table."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    ok = _region(region).length_ok[:, np.minimum(length, _LENGTHS - 1)]
    has = []
    for i, name in enumerate(_DESCS):
        desc = getattr(metadata, name, None)
        if desc is None or desc.national_number_pattern is None:
            has.append(np.zeros(len(length), dtype=bool))
            continue
        pattern = f"^(?:{desc.national_number_pattern})$"
        matched = pc.match_substring_regex(numbers, pattern).to_numpy(zero_copy_only=False)
        has.append(matched & ok[i])
    same = bool(metadata.same_mobile_and_fixed_line_pattern)
    fixed, mobile = has[_FIXED], has[_MOBILE]
    conditions = [~has[_GENERAL]] + [has[i] for i, _ in _TYPE_ORDER]
    choices = [phonenumbers.PhoneNumberType.UNKNOWN] + [t for _, t in _TYPE_ORDER]
    conditions += [fixed & (same | mobile), fixed]
    choices += [phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE]
    choices += [phonenumbers.PhoneNumberType.FIXED_LINE]
    conditions.append(mobile & (not same))
    choices.append(phonenumbers.PhoneNumberType.MOBILE)
    return np.select(conditions, choices, default=phonenumbers.PhoneNumberType.UNKNOWN).astype(
        np.int8
    )


def timed(function, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--regions", default="CN,US,GB,DE,IN")
    parser.add_argument("--rounds", type=int, default=5, help="figures are medians")
    args = parser.parse_args()
    print(f"{args.rows:,} national numbers a region; medians of {args.rounds} rounds")
    for region in args.regions.split(","):
        numbers = national_numbers(region, args.rows)
        digits, length = digit_table(numbers)
        arrow = pa.array(numbers, type=pa.large_string())
        ours = types_by_automaton(region, digits, length)
        re2 = types_by_re2(region, arrow, length)
        disagree = int((ours != re2).sum())
        sample = random.Random(1).sample(range(len(numbers)), 20_000)
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        truth = [_number_type_helper(numbers[i], metadata) for i in sample]
        wrong = int((ours[sample] != np.array(truth, dtype=np.int8)).sum())
        automaton = timed(partial(types_by_automaton, region, digits, length), args.rounds)
        regex = timed(partial(types_by_re2, region, arrow, length), args.rounds)
        print(
            f"{region}: automaton {args.rows / automaton / 1e6:5.1f}M numbers/s, "
            f"RE2 {args.rows / regex / 1e6:5.1f}M/s ({regex / automaton:.1f}x the time); "
            f"they disagree on {disagree}; the automaton vs phonenumbers: "
            f"{wrong} of {len(sample):,} differ"
        )


if __name__ == "__main__":
    main()
