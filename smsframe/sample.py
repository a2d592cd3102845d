"""A SYNTHETIC contact list for smsframe demos and notebooks (``data/contacts.csv``).

Everything in the output is made up.  Names are random surname + given-name combinations,
cities, segments and sign-up dates are drawn at random, and phone numbers are random digits
placed in number ranges that are *valid in format* (they pass ``phonenumbers`` validation)
but are not taken from any real directory.  A random number in a valid range may still happen
to be assigned to someone, so never send real messages to this file -- use the simulator.

The ``phone`` column deliberately contains every messy shape seen in real analyst exports:

* about 70% valid mainland-China mobiles (13x/14x/15x/16x/17x/18x/19x), written as
  ``13800138000``, ``138 0013 8000``, ``138-0013-8000``, ``+86 138 0013 8000``,
  ``+86-13800138000``, ``0086 13800138000``, ``86-13800138000``, ``(+86)13800138000``,
  full-width digits, text around the number (``tel: ...``, ``mobile ... (home)``, ``手机：...``),
  and Excel-style floats (``13800138000.0``, ``1.3800138e+10``, written with full precision);
* about 5% repeats of an earlier row's mobile written in a different shape;
* about 7% mainland landlines (``010-62345678``, ``(021) 6234 5678``, ``0755 8888 1234``);
* about 5-6% valid foreign / HK / Macau / Taiwan numbers (``+1 212 555 0123``, ...);
* about 5% garbage (``n/a``, ``unknown``, ``123``, too short, too long, bad prefix, ...);
* about 7% blank (mostly empty, a few whitespace-only).

Read it with ``pd.read_csv(path, dtype={"phone": str}, keep_default_na=False)`` to see the
column exactly as written: by default pandas turns empty cells and ``n/a``/``N/A`` into NaN.
``contacts(with_kind=True)`` adds a ``kind`` column (mobile, duplicate, landline,
foreign, garbage, blank) that records what each phone value really is, for tests.

The output is deterministic for a given ``--seed`` and ``--rows`` (standard library + pandas
only, no dependence on the current date or on hash randomisation).

Usage::

    python -m smsframe.sample                  # writes data/contacts.csv (3000 rows)
    python -m smsframe.sample --rows 500 --seed 7 --out /tmp/contacts.csv
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

import pandas as pd

DEFAULT_ROWS = 3000
DEFAULT_SEED = 20240601
DEFAULT_OUT = Path("data/contacts.csv")

# Share of rows per kind of phone value (the mobile share absorbs rounding).
SHARES = {
    "duplicate": 0.045,
    "landline": 0.070,
    "foreign": 0.057,
    "garbage": 0.053,
    "blank": 0.070,
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "慕容")
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玉华建国文辉鹏飞宇浩婷雪梅琳晨欣怡子涵轩"
    "博然嘉俊佳颖志思雨凯慧萍宁斌亮春玲丹红波晶燕鑫坤宏海峰晓倩云龙彬琪瑶鸿毅蕾璐"
)
# Very common full given names, to get the familiar 王伟 / 李娜 / 张秀英 look now and then.
COMMON_GIVEN = (
    "伟",
    "娜",
    "秀英",
    "敏",
    "静",
    "磊",
    "建华",
    "建国",
    "志强",
    "丽娟",
    "桂英",
    "海燕",
)

# city -> (weight, area code without the trunk 0); all use 8-digit local numbers.
CITIES = {
    "北京": (14, "10"),
    "上海": (14, "21"),
    "广州": (9, "20"),
    "深圳": (9, "755"),
    "成都": (7, "28"),
    "杭州": (7, "571"),
    "重庆": (6, "23"),
    "武汉": (6, "27"),
    "西安": (5, "29"),
    "南京": (5, "25"),
    "天津": (4, "22"),
    "苏州": (4, "512"),
    "长沙": (3, "731"),
    "郑州": (3, "371"),
    "青岛": (2, "532"),
    "昆明": (2, "871"),
}

# segment -> (weight, earliest signup, latest signup)
SEGMENTS = {
    "regular": (50, dt.date(2019, 1, 1), dt.date(2025, 3, 31)),
    "new": (18, dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
    "vip": (10, dt.date(2018, 1, 1), dt.date(2024, 12, 31)),
    "dormant": (22, dt.date(2018, 1, 1), dt.date(2022, 12, 31)),
}

# Mainland mobile prefixes that phonenumbers validates as MOBILE for every 8-digit suffix.
# (Left out on purpose: 140-144/146/148/149, 160/161/163/164/168/169, 174 and 179.)
MOBILE_PREFIXES = (
    ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139"] * 3
    + ["145", "147"]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"] * 3
    + ["162", "165", "166", "167"]
    + ["170", "171", "172", "173", "175", "176", "177", "178"]
    + ["180", "181", "182", "183", "184", "185", "186", "187", "188", "189"] * 3
    + ["190", "191", "192", "193", "195", "196", "197", "198", "199"]
)

FULLWIDTH = str.maketrans("0123456789+-() ", "０１２３４５６７８９＋－（）\u3000")


def _groups(n: str) -> tuple[str, str, str]:
    return n[:3], n[3:7], n[7:]


def _sci(n: str, upper: bool) -> str:
    """Excel/pandas scientific notation, with enough digits to be lossless."""
    mantissa = n[0] + ("." + n[1:].rstrip("0") if n[1:].strip("0") else "")
    return f"{mantissa}{'E' if upper else 'e'}+{len(n) - 1:02d}"


# Each shape turns an 11-digit mobile ("13800138000") into a messy string.
MOBILE_SHAPES: dict[str, Callable[[str], str]] = {
    "plain": lambda n: n,
    "spaced": lambda n: "{} {} {}".format(*_groups(n)),
    "dashed": lambda n: "{}-{}-{}".format(*_groups(n)),
    "plus86_spaced": lambda n: "+86 {} {} {}".format(*_groups(n)),
    "plus86_dash": lambda n: f"+86-{n}",
    "plus86_tight": lambda n: f"+86{n}",
    "0086": lambda n: f"0086 {n}",
    "86_dash": lambda n: f"86-{n}",
    "86_tight": lambda n: f"86{n}",
    "paren_plus86": lambda n: f"(+86){n}",
    "paren_plus86_dashed": lambda n: "(+86) {}-{}-{}".format(*_groups(n)),
    "fullwidth": lambda n: n.translate(FULLWIDTH),
    "fullwidth_plus86": lambda n: "+86 {} {} {}".format(*_groups(n)).translate(FULLWIDTH),
    "tel_prefix": lambda n: f"tel: {n}",
    "mobile_home": lambda n: "mobile {} {} {} (home)".format(*_groups(n)),
    "shouji": lambda n: f"手机：{n}",
    "note_after": lambda n: f"{n}（本人）",
    "padded": lambda n: f"  {n} ",
    "excel_float": lambda n: f"{n}.0",
    "excel_sci": lambda n: _sci(n, upper=False),
    "excel_sci_upper": lambda n: _sci(n, upper=True),
}
MOBILE_SHAPE_WEIGHTS = {
    "plain": 30,
    "spaced": 8,
    "dashed": 8,
    "plus86_spaced": 6,
    "plus86_dash": 4,
    "plus86_tight": 4,
    "0086": 3,
    "86_dash": 3,
    "86_tight": 2,
    "paren_plus86": 3,
    "paren_plus86_dashed": 2,
    "fullwidth": 3,
    "fullwidth_plus86": 1,
    "tel_prefix": 3,
    "mobile_home": 2,
    "shouji": 2,
    "note_after": 1,
    "padded": 2,
    "excel_float": 6,
    "excel_sci": 4,
    "excel_sci_upper": 1,
}

# Foreign numbers, from fictional/drama ranges where one exists (US/CA 555-01xx,
# UK 020 7946 0xxx, AU 0491 570 xxx), otherwise random digits in mobile ranges.
FOREIGN_MAKERS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"+1 {r.choice(['212', '415', '646', '310', '617'])} 555 01{r.randrange(100):02d}",
    lambda r: f"+1 ({r.choice(['212', '604', '416'])}) 555-01{r.randrange(100):02d}",
    lambda r: f"+44 20 7946 0{r.randrange(1000):03d}",
    lambda r: f"0044 20 7946 0{r.randrange(1000):03d}",
    lambda r: f"+852 9{r.choice('467')}{r.randrange(100):02d} {r.randrange(10**4):04d}",
    lambda r: f"+852-6{r.choice('4567')}{r.randrange(100):02d}-{r.randrange(10**4):04d}",
    lambda r: f"+853 6{r.choice('2368')}{r.randrange(100):02d} {r.randrange(10**4):04d}",
    lambda r: f"+886 9{r.randrange(100):02d} {r.randrange(1000):03d} {r.randrange(1000):03d}",
    lambda r: f"+81 90-{r.randrange(1, 10)}{r.randrange(1000):03d}-{r.randrange(10**4):04d}",
    lambda r: f"+65 9{r.randrange(9)}{r.randrange(100):02d} {r.randrange(10**4):04d}",
    lambda r: f"+61 491 570 {r.randrange(1000):03d}",
    lambda r: f"+49 151 {r.randrange(10**8):08d}",
    lambda r: f"+82 10-{r.randrange(10**4):04d}-{r.randrange(10**4):04d}",
    lambda r: "+33 6 {}{} {:02d} {:02d} {:02d}".format(
        r.choice("4567"), r.randrange(10), r.randrange(100), r.randrange(100), r.randrange(100)
    ),
)

GARBAGE_FIXED = (
    "n/a",
    "N/A",
    "unknown",
    "Unknown",
    "none",
    "123",
    "1380013",
    "138001380001234",
    "abc",
    "-",
    "0",
    "?",
    "无",
    "不详",
    "待补充",
    "同上",
    "00000000000",
    "见备注",
    "TBD",
)


def _garbage(r: random.Random) -> str:
    pick = r.randrange(10)
    if pick < 5:
        return r.choice(GARBAGE_FIXED)
    if pick == 5:  # too short
        return "1" + "".join(r.choice("0123456789") for _ in range(r.randrange(4, 9)))
    if pick == 6:  # too long: a mobile with digits of something else run on
        extra = "".join(r.choice("0123456789") for _ in range(r.randrange(2, 5)))
        return f"{r.choice(MOBILE_PREFIXES)}{r.randrange(10**8):08d}{extra}"
    if pick == 7:  # 11 digits but no such prefix
        return r.choice(["10", "11", "12"]) + f"{r.randrange(10**9):09d}"
    if pick == 8:  # 10 digits: a digit was lost
        return f"{r.choice(MOBILE_PREFIXES)}{r.randrange(10**7):07d}"
    return r.choice(["138xxxx8000", "139****1234", "186-xxxx-xxxx", "#VALUE!"])


def _landline(r: random.Random, city: str) -> str:
    # Usually the contact's own city, sometimes another one.
    if r.random() > 0.8:
        city = r.choice(list(CITIES))
    area = CITIES[city][1]
    local = f"{r.choice('2345678')}{r.randrange(10**7):07d}"
    a, b = local[:4], local[4:]
    return r.choice(
        [
            f"0{area}-{local}",
            f"0{area}-{local}",
            f"(0{area}) {a} {b}",
            f"0{area} {a} {b}",
            f"0{area}{local}",
            f"+86 {area} {a} {b}",
            f"86-{area}-{local}",
            f"0{area}-{a}-{b}",
        ]
    )


def _name(r: random.Random) -> str:
    surname = r.choice(COMPOUND_SURNAMES) if r.random() < 0.01 else r.choice(SURNAMES)
    roll = r.random()
    if roll < 0.1:
        given = r.choice(COMMON_GIVEN)
    elif roll < 0.45:
        given = r.choice(GIVEN_CHARS)
    else:
        given = r.choice(GIVEN_CHARS) + r.choice(GIVEN_CHARS)
    return surname + given


def _weighted(r: random.Random, table: dict) -> str:
    keys = list(table)
    weights = [v[0] if isinstance(v, tuple) else v for v in table.values()]
    return r.choices(keys, weights=weights)[0]


def _kinds(r: random.Random, rows: int) -> list[str]:
    counts = {kind: round(rows * share) for kind, share in SHARES.items()}
    counts["mobile"] = rows - sum(counts.values())
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    r.shuffle(kinds)
    # A duplicate needs an earlier mobile to copy: make sure one comes first.
    first_mobile = kinds.index("mobile")
    if "duplicate" in kinds[:first_mobile]:
        kinds[0], kinds[first_mobile] = kinds[first_mobile], kinds[0]
    return kinds


def contacts(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, *, with_kind: bool = False
) -> pd.DataFrame:
    """The synthetic contact frame (``data/contacts.csv``); with ``with_kind=True`` also a
    ``kind`` column saying what each phone value really is.

    >>> from smsframe.sample import contacts
    >>> contacts().shape
    (3000, 6)
    """
    r = random.Random(seed)
    shape_names = list(MOBILE_SHAPE_WEIGHTS)
    shape_weights = list(MOBILE_SHAPE_WEIGHTS.values())
    shapes_of: dict[str, list[str]] = {}  # mobile -> shapes it was written in so far
    issued: list[str] = []  # mobiles of earlier rows, in order
    records = []
    for i, kind in enumerate(_kinds(r, rows)):
        city = _weighted(r, CITIES)
        segment = _weighted(r, SEGMENTS)
        _, start, end = SEGMENTS[segment]
        signup = start + dt.timedelta(days=r.randrange((end - start).days + 1))
        if kind == "mobile":
            number = ""
            while not number or number in shapes_of:
                number = f"{r.choice(MOBILE_PREFIXES)}{r.randrange(10**8):08d}"
            shape = r.choices(shape_names, weights=shape_weights)[0]
            shapes_of[number] = [shape]
            issued.append(number)
            phone = MOBILE_SHAPES[shape](number)
        elif kind == "duplicate":
            # Same number as an earlier row, in a shape not used for it yet.
            number = r.choice(issued)
            shape = shapes_of[number][0]
            while shape in shapes_of[number]:
                shape = r.choices(shape_names, weights=shape_weights)[0]
            shapes_of[number].append(shape)
            phone = MOBILE_SHAPES[shape](number)
        elif kind == "landline":
            phone = _landline(r, city)
        elif kind == "foreign":
            phone = r.choice(FOREIGN_MAKERS)(r)
        elif kind == "garbage":
            phone = _garbage(r)
        else:
            phone = "" if r.random() < 0.85 else r.choice([" ", "  ", "\u3000"])
        records.append(
            {
                "contact_id": 100001 + i,
                "name": _name(r),
                "city": city,
                "segment": segment,
                "signup_date": signup.isoformat(),
                "phone": phone,
                "kind": kind,
            }
        )
    frame = pd.DataFrame.from_records(records)
    return frame if with_kind else frame.drop(columns="kind")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    frame = contacts(args.rows, args.seed)
    frame.to_csv(args.out, index=False, encoding="utf-8", lineterminator="\n")
    print(f"wrote {len(frame)} rows to {args.out}")


if __name__ == "__main__":
    main()
