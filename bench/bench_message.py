"""Benchmark: smsframe.message.render for a template and for a constant message.

Run: ``python bench/bench_message.py [--rows 1000000]``

Prints the rows/s of ``render`` for a templated message (with and without banned
keywords), for a constant message, and of the plain per-row way (``str.format``
on each row's dict, then length, parts and keyword checks), with the ratio.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsframe.message import render

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊"
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆"]
TEMPLATE = (
    "尊敬的{name}会员，您在{city}门店的积分为{points}，本月消费满{amount:.0f}元享八折。退订回T"
)
CONSTANT = "双十一全场八折，会员再享积分翻倍，详询门店。退订回T"
KEYWORDS = ["赌博", "发票", "代开", "贷款", "彩票", "刷单", "博彩", "套现", "色情", "枪支"]


def contacts(n: int, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    names = [
        rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        for _ in range(n)
    ]
    for i in rng.sample(range(n), n // 100):
        names[i] = None  # 1% without a name: template_missing
    return pd.DataFrame(
        {
            "name": names,
            "city": pd.Categorical([rng.choice(CITIES) for _ in range(n)]),
            "points": np.array([rng.randrange(100_000) for _ in range(n)]),
            "amount": np.array([rng.choice([99, 199, 299, 499]) for _ in range(n)], dtype=float),
        }
    )


def per_row(frame: pd.DataFrame, template: str, keywords: list[str]) -> list:
    """The plain way, one row at a time."""
    out = []
    for row in frame.to_dict("records"):
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in row.values()):
            out.append((None, None, "template_missing"))
            continue
        text = template.format(**row)
        n = len(text)
        parts = 0 if n == 0 else 1 if n <= 70 else -(-n // 67)
        reason = (
            "message_empty"
            if not text.strip()
            else "message_too_long"
            if n > 201
            else "banned_keyword"
            if any(k in text for k in keywords)
            else None
        )
        out.append((text, parts, reason))
    return out


def best(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000, help="rows for the per-row way")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    frame = contacts(args.rows)
    n = len(frame)
    template = best(lambda: render(frame, TEMPLATE), args.repeat)
    keyworded = best(lambda: render(frame, TEMPLATE, keywords=KEYWORDS), args.repeat)
    constant = best(lambda: render(frame, CONSTANT, keywords=KEYWORDS), args.repeat)
    sample = frame.head(args.sample)
    plain = best(lambda: per_row(sample, TEMPLATE, KEYWORDS), 1)

    out = render(frame, TEMPLATE, keywords=KEYWORDS)
    print(f"frame: {n:,} rows; template: {TEMPLATE!r}")
    print("reasons:", out["sms_reason"].value_counts(dropna=False).to_dict())
    print("parts:", out["sms_parts"].value_counts(dropna=False).sort_index().to_dict())
    print(f"template            : {n / template:>12,.0f} rows/s  ({template:.3f} s)")
    print(f"template + keywords : {n / keyworded:>12,.0f} rows/s  ({keyworded:.3f} s)")
    print(f"constant + keywords : {n / constant:>12,.0f} rows/s  ({constant * 1000:.1f} ms)")
    print(f"per-row str.format  : {len(sample) / plain:>12,.0f} rows/s  ({len(sample):,} rows)")
    print(f"ratio (template + keywords / per-row): {(n / keyworded) / (len(sample) / plain):.1f} x")


if __name__ == "__main__":
    main()
