"""Benchmark: smsframe.phones.normalize against per-row loops over phonenumbers and
rphonenumbers (a Rust drop-in of phonenumbers, the fastest peer: ``pip install .[bench]``).

Run: ``python bench/bench_phones.py [--rows 1000000] [--mix spellings|plain] [--check]``

Prints, side by side in one run (rounds alternate the order, figures are medians):
the rows/s of ``normalize``; of the per-row reference the tests hold it to
(tests/phone_reference.py: the documented steps, here as smsframe writes them with
regular expressions, then ``phonenumbers.parse`` + ``is_valid_number`` +
``number_type`` on each value, timed on a sample and
extrapolated); of the same loop over ``rphonenumbers``; the ratios; the share of
distinct values that reach phonenumbers itself (the per-value fallback) and the share
that reach the per-value preparation of the documented steps; the peak memory of
``normalize`` (Python's and Arrow's allocations, bench/_memory.py) relative to the
input column; then the same for the
column as Arrow strings. ``--check`` compares every row with the reference.

Mixes (1M rows each by default):

``spellings`` (default)
    about 70% distinct values; at least 15% of rows spelled as real exports give
    them: surrounding TABs, NBSP or U+3000 between groups, ``tel:`` URIs (with
    ``;ext=``), extensions, labels (``(mobile)``, ``（本人）``, ``手机：``), Excel-float
    text (``13800138004.0``, ``1.3800138005E+10``), several numbers in one cell;
    the rest as ``plain``.
``plain``
    what a tidy contact list looks like: mostly mainland mobiles written in many
    ways (spaced, dashed, +86, 0086, 86, brackets, full-width digits, Excel integers
    and floats), some landlines, foreign numbers, junk, about 10% repeated rows.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers

# This project, then bench/ (also when tests/test_dask.py loads this file for corpus()),
# then the per-row reference the tests hold normalize to (tests/phone_reference.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _memory import peak_bytes
from phone_reference import reference, reference_text

from smsframe.phones import normalize

MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "171", "173", "175", "176",
    "177", "178", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "191", "198", "199",
]  # fmt: skip
AREAS = ["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311", "371", "512", "571",
         "591", "755", "769"]  # fmt: skip
FOREIGN = ["+1 212 555 {:04d}", "+44 20 7946 {:04d}", "+852 5123 {:04d}", "+81 90 1234 {:04d}",
           "+65 8123 {:04d}", "+886 912 345 {:03d}", "+61 412 345 {:03d}", "+49 151 2345 {:04d}",
           "+82 10 1234 {:04d}", "+60 12 345 {:04d}", "00852 6123 {:04d}",
           "+853 6612 {:04d}"]  # fmt: skip
JUNK = ["", " ", "N/A", "无", "空号", "-", "0", "unknown", "待补充", "13800", "1380013800",
        "138001380001", "电话：见备注"]  # fmt: skip
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
# Spellings of one mobile as exports and hand-typed lists give them ({} = 11 digits).
SPELLINGS = [
    " {}\t", "{}\t", "\t{}", "{a}\u00a0{b}\u00a0{c}", "{a}\u3000{b}\u3000{c}", " {a} {b} {c}\t",
    "tel:+86-{a}-{b}-{c}", "tel:+86{};ext=12", "{} ext. 12", "{} x123", "{}转8001",
    "{} (mobile)", "mobile {a} {b} {c} (home)", "{}（本人）", "手机：{a} {b} {c}", "Tel: {}",
    "{}.0", "{e}", "{}；{m}", "{};{m}", "{}/{m}", "{}，{m}", "{}、{m}", "{} {m}", "{}\n{m}",
]  # fmt: skip


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _excel_sci(d: str) -> str:
    """Excel's text of a number shown in scientific notation (``1.3800138005E+10``)."""
    return f"{d[0]}.{d[1:].rstrip('0') or '0'}E+{len(d) - 1}"


def _plain_value(rng: random.Random) -> object:
    r = rng.random()
    if r < 0.82 / 0.90:
        d = _mobile(rng)
        f = rng.random()
        if f < 0.38:
            return d
        if f < 0.52:
            return f"{d[:3]} {d[3:7]} {d[7:]}"
        if f < 0.60:
            return f"{d[:3]}-{d[3:7]}-{d[7:]}"
        if f < 0.68:
            return f"+86 {d[:3]} {d[3:7]} {d[7:]}"
        if f < 0.74:
            return "+86" + d
        if f < 0.77:
            return "0086 " + d
        if f < 0.80:
            return "86" + d
        if f < 0.82:
            return f"(+86) {d}"
        if f < 0.83:
            return d.translate(FULL_WIDTH)
        if f < 0.84:
            return f"手机：{d}"
        if f < 0.93:
            return int(d)
        return float(d)
    if r < 0.89 / 0.90:
        area = rng.choice(AREAS)
        local = f"{rng.randrange(2 * 10**7, 9 * 10**7)}"
        return rng.choice(["0{}-{}", "(0{}) {}", "0{}{}", "+86 {} {}"]).format(area, local)
    if r < 0.93 / 0.90 - 0.04:
        return rng.choice(FOREIGN).format(rng.randrange(1000))
    return rng.choice([*JUNK, None, math.nan])


def _spelled(rng: random.Random) -> str:
    d = _mobile(rng)
    return rng.choice(SPELLINGS).format(
        d, a=d[:3], b=d[3:7], c=d[7:], m=_mobile(rng), e=_excel_sci(d)
    )


def corpus(n: int, mix: str = "spellings", seed: int = 0) -> pd.Series:
    """A phone column of ``n`` rows (see the module's docstring for the mixes)."""
    rng = random.Random(seed)
    repeat, spelled = (0.30, 0.20) if mix == "spellings" else (0.10, 0.0)
    values: list[object] = []
    while len(values) < n:
        r = rng.random()
        if values and r < repeat:
            values.append(values[rng.randrange(len(values))])
        elif r < repeat + spelled:
            values.append(_spelled(rng))
        else:
            values.append(_plain_value(rng))
    return pd.Series(values[:n], dtype=object, name="phone")


try:  # the documented steps as a per-row loop would run them (regular expressions)
    from smsframe.phones._steps import _prepare_one as _PREPARE
except ImportError:  # smsframe before the steps (issue 17): none

    def _PREPARE(text):
        return text


def _per_row(module, sample: list) -> float:
    """Seconds for the per-row loop over ``module`` (phonenumbers or rphonenumbers):
    the documented steps, then parse, validate and type each value."""
    prepare = _PREPARE
    mobile = (module.PhoneNumberType.MOBILE, module.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    e164 = module.PhoneNumberFormat.E164
    start = time.perf_counter()
    for value in sample:
        text = reference_text(value)
        if text is None or not text.strip():
            continue
        text = prepare(text)
        if not isinstance(text, str):
            continue
        try:
            number = module.parse(text, "CN")
        except Exception:
            continue
        if module.is_valid_number(number):
            module.format_number(number, e164)
            _ = module.number_type(number) in mobile
        else:
            module.is_possible_number_with_reason(number)
    return time.perf_counter() - start


class _Counter:
    """Counts the distinct texts given to a per-value function of smsframe.phones."""

    def __init__(self, name: str) -> None:
        self.module = next(
            (m for m in _phone_modules() if hasattr(m, name)), None
        )  # the module that calls it by its global name
        self.name, self.seen = name, set()
        if self.module is not None:
            self.original = getattr(self.module, name)

    def __enter__(self):
        if self.module is not None:

            def counted(text, *args):
                self.seen.add(text)
                return self.original(text, *args)

            setattr(self.module, self.name, counted)
        return self

    def __exit__(self, *exc) -> None:
        if self.module is not None:
            setattr(self.module, self.name, self.original)


def _phone_modules() -> list:
    names = [n for n in sys.modules if n == "smsframe.phones" or n.startswith("smsframe.phones.")]
    return [sys.modules[n] for n in sorted(names)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mix", choices=["spellings", "plain"], default="spellings")
    parser.add_argument("--sample", type=int, default=20_000, help="rows timed per-row")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument("--check", action="store_true", help="compare every row with the reference")
    args = parser.parse_args()

    column = corpus(args.rows, args.mix)
    input_bytes = column.memory_usage(deep=True, index=False)
    normalize(column.head(1000))  # warm up (automata of the regions seen)
    sample = column.sample(min(args.sample, len(column)), random_state=1).tolist()
    try:
        import rphonenumbers
    except ImportError:
        rphonenumbers = None
        print("rphonenumbers is not installed (pip install .[bench]): its column is skipped")

    fast, ref, rust = [], [], []
    for round_ in range(args.rounds):  # A B C, then C B A: drifts in load cancel out
        steps = [
            lambda: fast.append(len(column) / _timed(lambda: normalize(column))),
            lambda: ref.append(len(sample) / _per_row(phonenumbers, sample)),
        ]
        if rphonenumbers is not None:
            steps.append(lambda: rust.append(len(sample) / _per_row(rphonenumbers, sample)))
        for step in steps if round_ % 2 == 0 else steps[::-1]:
            gc.collect()
            step()
    fast_rate, ref_rate = statistics.median(fast), statistics.median(ref)

    with _Counter("_slow_one") as slow, _Counter("_prepare_one") as prepared:
        out = normalize(column)
    texts = pd.Series([reference_text(v) for v in column], dtype=object)
    distinct = texts.nunique()
    peak = peak_bytes(lambda: normalize(column))[1]

    print(
        f"pandas {pd.__version__}, numpy {np.__version__}, phonenumbers {phonenumbers.__version__}"
        f"; output text dtype {out['sms_phone'].dtype!r}; {args.rounds} rounds, medians"
    )
    share = distinct / len(column)
    print(f"corpus '{args.mix}': {len(column):,} rows, {distinct:,} distinct texts ({share:.0%}), "
          f"input column {input_bytes / 2**20:.1f} MiB")  # fmt: skip
    print("reasons:", out["sms_reason"].value_counts(dropna=False).to_dict())
    print(f"normalize     : {fast_rate:>12,.0f} rows/s  (rounds: "
          + ", ".join(f"{r:,.0f}" for r in fast) + ")")  # fmt: skip
    print(f"phonenumbers  : {ref_rate:>12,.0f} rows/s  (per row, {len(sample):,} rows)")
    if rust:
        rust_rate = statistics.median(rust)
        print(f"rphonenumbers : {rust_rate:>12,.0f} rows/s  (per row, {len(sample):,} rows)")
    print(f"ratio vs phonenumbers : {fast_rate / ref_rate:>8.1f} x")
    if rust:
        print(f"ratio vs rphonenumbers: {fast_rate / rust_rate:>8.1f} x")
    print(f"distinct texts reaching phonenumbers (per-value fallback): {len(slow.seen):,} "
          f"= {len(slow.seen) / distinct:.2%}")  # fmt: skip
    if prepared.module is not None:
        print(f"distinct texts prepared one by one (documented steps): {len(prepared.seen):,} "
              f"= {len(prepared.seen) / distinct:.2%}")  # fmt: skip
    print(f"peak memory of normalize: {_memory(peak, input_bytes)}")

    # the same column as Arrow strings
    arrow = pd.Series(texts, dtype="string[pyarrow]")
    arrow_bytes = arrow.memory_usage(deep=True, index=False)
    normalize(arrow.head(1000))
    arrow_rate = statistics.median(
        len(arrow) / _timed(lambda: normalize(arrow)) for _ in range(args.rounds)
    )
    arrow_peak = peak_bytes(lambda: normalize(arrow))[1]
    print(
        f"as Arrow strings ({arrow_bytes / 2**20:.1f} MiB): {arrow_rate:,.0f} rows/s, "
        f"peak memory {_memory(arrow_peak, arrow_bytes)}"
    )

    if args.check:
        want = reference(list(column))
        got = zip(
            out["sms_phone"].to_numpy(dtype=object, na_value=None),
            out["sms_e164"].to_numpy(dtype=object, na_value=None),
            out["sms_reason"].astype(object).to_numpy(na_value=None),
            strict=True,
        )
        bad = sum(g != w for g, w in zip(got, want, strict=True))
        print(f"check: {len(want) - bad:,} of {len(want):,} rows agree with the reference")
        np.testing.assert_equal(bad, 0)


def _memory(peak, size: int) -> str:
    return (
        f"{peak.sampled / 2**20:.1f} MiB = {peak.sampled / size:.2f} x input sampled, at most "
        f"{peak.bound / 2**20:.1f} MiB = {peak.bound / size:.2f} x (Python "
        f"{peak.python / 2**20:.1f} + Arrow {peak.arrow / 2**20:.1f})"
    )


def _timed(function) -> float:
    gc.collect()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
