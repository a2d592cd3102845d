"""Benchmark: smsframe.phones.normalize against the per-row phonenumbers reference.

Run: ``python bench/bench_phones.py [--rows 1000000] [--check]``

Prints, side by side in one run, the rows/s of ``normalize`` and of the per-row
reference the tests hold it to (tests/phone_reference.py: ``phonenumbers.parse`` +
``is_valid_number`` + ``number_type`` on each value, timed on a sample and
extrapolated), their ratio, and the peak memory of ``normalize`` (tracemalloc)
relative to the input column; then the same for the column as Arrow strings when
pyarrow is installed. ``--check`` also compares every
row with the reference (about 30 s: the reference runs on every distinct value).

The corpus is what a contact list looks like: mostly mainland mobiles written in
many ways (plain, spaced, dashed, +86, 0086, 86, brackets, full-width digits,
Excel integers and floats), some landlines, foreign numbers, junk, repeated rows.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The per-row reference the tests hold normalize to: tests/phone_reference.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from phone_reference import reference, reference_text, reference_text_result

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


def realistic(n: int, seed: int = 0) -> pd.Series:
    """A messy phone column: 80% mainland mobiles in many formats, landlines,
    foreign numbers, junk, and about 10% repeated rows."""
    rng = random.Random(seed)
    values: list[object] = []
    while len(values) < n:
        r = rng.random()
        if values and r < 0.10:
            values.append(values[rng.randrange(len(values))])
            continue
        if r < 0.82:
            d = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            f = rng.random()
            if f < 0.38:
                v: object = d
            elif f < 0.52:
                v = f"{d[:3]} {d[3:7]} {d[7:]}"
            elif f < 0.60:
                v = f"{d[:3]}-{d[3:7]}-{d[7:]}"
            elif f < 0.68:
                v = f"+86 {d[:3]} {d[3:7]} {d[7:]}"
            elif f < 0.74:
                v = "+86" + d
            elif f < 0.77:
                v = "0086 " + d
            elif f < 0.80:
                v = "86" + d
            elif f < 0.82:
                v = f"(+86) {d}"
            elif f < 0.83:
                v = d.translate(FULL_WIDTH)
            elif f < 0.84:
                v = f"手机：{d}"
            elif f < 0.93:
                v = int(d)
            else:
                v = float(d)
            values.append(v)
        elif r < 0.89:
            area = rng.choice(AREAS)
            local = f"{rng.randrange(2 * 10**7, 9 * 10**7)}"
            values.append(
                rng.choice(["0{}-{}", "(0{}) {}", "0{}{}", "+86 {} {}"]).format(area, local)
            )
        elif r < 0.93:
            values.append(rng.choice(FOREIGN).format(rng.randrange(1000)))
        else:
            values.append(rng.choice([*JUNK, None, math.nan]))
    return pd.Series(values[:n], dtype=object, name="phone")


def _timed(function) -> float:
    gc.collect()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000, help="rows timed for the reference")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs of normalize")
    parser.add_argument("--check", action="store_true", help="compare every row with the reference")
    args = parser.parse_args()

    column = realistic(args.rows)
    input_bytes = column.memory_usage(deep=True, index=False)
    normalize(column.head(1000))  # warm up (automata of the regions seen)

    best = math.inf
    for _ in range(args.repeat):
        gc.collect()
        start = time.perf_counter()
        out = normalize(column)
        best = min(best, time.perf_counter() - start)
    fast_rate = len(column) / best

    sample = column.sample(min(args.sample, len(column)), random_state=1).tolist()
    start = time.perf_counter()
    for value in sample:
        reference_text_result(reference_text(value))
    ref_rate = len(sample) / (time.perf_counter() - start)

    del out
    gc.collect()
    tracemalloc.start()
    out = normalize(column)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(
        f"pandas {pd.__version__}, numpy {np.__version__}, phonenumbers {phonenumbers.__version__}"
        f"; output text dtype {out['sms_phone'].dtype!r}"
    )
    print(f"corpus: {len(column):,} rows, {column.nunique():,} distinct values, "
          f"input column {input_bytes / 2**20:.1f} MiB")  # fmt: skip
    print("reasons:", out["sms_reason"].value_counts(dropna=False).to_dict())
    print(f"normalize : {fast_rate:>12,.0f} rows/s  ({best:.3f} s, best of {args.repeat})")
    print(f"reference : {ref_rate:>12,.0f} rows/s  (per-row phonenumbers, {len(sample):,} rows)")
    print(f"ratio     : {fast_rate / ref_rate:>12.1f} x")
    print(f"peak memory of normalize: {peak / 2**20:.1f} MiB = {peak / input_bytes:.2f} x input")

    try:  # the same column as Arrow strings, if pyarrow is there
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        texts = pd.Series([reference_text(v) for v in column], dtype="string[pyarrow]")
        arrow_bytes = texts.memory_usage(deep=True, index=False)
        normalize(texts.head(1000))
        arrow_best = min(_timed(lambda: normalize(texts)) for _ in range(args.repeat))
        gc.collect()
        tracemalloc.start()
        normalize(texts)
        _, arrow_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"as Arrow strings ({arrow_bytes / 2**20:.1f} MiB): "
            f"{len(texts) / arrow_best:,.0f} rows/s, peak memory {arrow_peak / 2**20:.1f} MiB"
            f" = {arrow_peak / arrow_bytes:.2f} x input"
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


if __name__ == "__main__":
    main()
