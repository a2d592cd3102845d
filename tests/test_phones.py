"""smsframe.phones: differential tests against a per-row phonenumbers reference,
property tests, and the behaviour a notebook user relies on.

The reference (tests/phone_reference.py) is the specification: it gives each value to
phonenumbers on its own and reads the answer. ``normalize`` must agree with it on every row.
The differential corpus has ``SMSFRAME_PHONES_CORPUS`` values (default 1,000,000, as
the issue asks, about 45 s; set a smaller value for a quick local run).
"""

from __future__ import annotations

import contextlib
import decimal
import math
import os
import random
import re
import zlib

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phone_reference import reference, reference_text
from phonenumbers import PhoneNumberType

from smsframe.phones import (
    REASONS,
    _decide,
    _metadata,
    _parse,
    _scan,
    details,
    normalize,
    normalize_frame,
    sendable_keys,
)

# Rows of the large differential corpus: 300k in the suite (about 40 s of its 15 min),
# SMSFRAME_PHONES_CORPUS=1000000 for the million the issue measured exactness on.
CORPUS = int(os.environ.get("SMSFRAME_PHONES_CORPUS", "300000"))


@pytest.fixture(autouse=True)
def strict_fast_path(monkeypatch):
    """A fast-path exception would otherwise fall back to phonenumbers silently."""
    monkeypatch.setattr(_scan, "_STRICT", True)


# --------------------------------------------------------------------------- reference
def rows_of(frame: pd.DataFrame) -> list[tuple]:
    def plain(column):
        return [None if pd.isna(v) else v for v in frame[column].astype(object)]

    return list(zip(plain("sms_phone"), plain("sms_e164"), plain("sms_reason"), strict=True))


def assert_agrees(values, region="CN", dedupe=True, series=None):
    got = rows_of(normalize(values if series is None else series, region, dedupe=dedupe))
    want = reference(values, region, dedupe)
    bad = [(v, g, w) for v, g, w in zip(values, got, want, strict=True) if g != w]
    assert not bad, f"{len(bad)} of {len(want)} rows disagree, e.g. {bad[:5]}"


# --------------------------------------------------------------------------- messy corpus
FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SEPARATORS = [" ", "-", ".", "", "  ", " - ", "(", ")", "/", "\u3000", "\xa0", "－", "\u2010",
              "[", "]", "x", "#", ";", ",", "*", "~", "\t", "\n"]  # fmt: skip
PREFIXES = ["+86", "+86 ", "0086", "0086 ", "86", "86-", "(+86)", "+86-", "+(86)", "(86)",
            "+ 86", "++86", "+0086", "00 86 ", "17951", "17951 ", "12593", "0", "+860",
            "8600", "086", "+", "00", "11000", "17900", "1791200", "1112300", "＋８６",
            "+0", "+00", "+000", "+999", "+1", "+7", "+44", "+880", "+39 0", "+54 9"]  # fmt: skip
TEXTS = ["tel:", "电话:", "Tel. ", "mobile ", "手机号：", "call ", "（手机）", "No.", "a",
         "tel:+86-", ";phone-context=+86", "x", " ext. ", "EXT", "extension", "转", "分机",
         " (mobile)", "（本人）", ".0", ".00", "E+10", "e1", " TEL:", ";ext=", "#", "=",
         "\u2002", "\x0c"]  # fmt: skip
JUNK = ["", " ", "   ", "\t", "\u3000", "N/A", "n/a", "-", "--", "无", "空号", "unknown", "null",
        "None", "nan", "NaN", "+", "()", "0", "00", "1", "12", "123", "+1", "+12", "+123",
        "tel:", "x", "#", "13800138000;13900139000", "1-800-FLOWERS", "tel:+86-138-0013-8000",
        "+86-138-0013-8000;ext=12", "13800138000 ext. 12", "13800138000转123",
        "(010)12345678-123", "13800138000/x2", "+86 138 0013 8000 x12", "1" * 300,
        "13800138000" * 3, "+86 13800138000 +86 13900139000"]  # fmt: skip


def messy_corpus(n: int, seed: int = 0) -> list:
    """Adversarial phone values: every shape the issue lists, near misses around the
    region's prefixes, foreign numbers of every region, junk, odd Python values."""
    rng = random.Random(seed)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)

    def digits(k):
        return "".join(rng.choice("0123456789") for _ in range(k))

    def spaced(d):
        r = rng.random()
        if r < 0.3:
            return d
        if r < 0.45:
            return f"{d[:3]} {d[3:7]} {d[7:]}"
        if r < 0.55:
            return f"{d[:3]}-{d[3:7]}-{d[7:]}"
        if r < 0.7:
            return "".join(ch + (rng.choice(SEPARATORS) if rng.random() < 0.2 else "") for ch in d)
        if r < 0.75:
            return f"({d[:3]}) {d[3:]}"
        if r < 0.82:
            return d.translate(FULL_WIDTH)
        if r < 0.85:
            return d.translate(ARABIC_INDIC)
        return f"{d[:3]}.{d[3:7]}.{d[7:]}"

    def mobile():
        head = rng.choice(["13", "14", "15", "16", "17", "18", "19"])
        if rng.random() < 0.15:
            head = "1" + rng.choice("0123456789")
        return head + digits(9 + rng.choice([0, 0, 0, 0, 0, 0, -1, 1, -2, 2, -5, 4]))

    def landline():
        area = rng.choice(["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311",
                           "351", "371", "431", "451", "531", "571", "591", "755", "769",
                           "852", "898", "999", "3", "4", "400", "800", "950"])  # fmt: skip
        local = digits(rng.choice([7, 8, 8, 8, 6, 9, 5]))
        head = rng.choice(["0", "0", "0", "", "+86 ", "+86 0", "0086", "86", "17951 0"])
        sep = rng.choice(["-", " ", "", ")"])
        return f"({head}{area}){local}" if sep == ")" else head + area + sep + local

    def foreign():
        if rng.random() < 0.6:
            region = rng.choice(regions)
            kind = rng.choice([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE,
                               PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP, None])  # fmt: skip
            if kind is None:
                example = phonenumbers.invalid_example_number(region)
            else:
                example = phonenumbers.example_number_for_type(region, kind)
            example = example or phonenumbers.example_number(region)
            if example is None:
                return "+" + digits(8)
            style = rng.choice(list(range(4)))
            text = phonenumbers.format_number(example, style)
            if rng.random() < 0.3:
                text = text.replace("+", "00", 1)
            if rng.random() < 0.3:
                text = text[:-1] + rng.choice("0123456789")
            if rng.random() < 0.1:
                text = text[:-2]
            return text
        head = rng.choice(["+", "00", "+ ", "00 ", "", "++"])
        return (
            head + str(rng.choice(codes)) + rng.choice(["", " ", "-"]) + digits(rng.randint(0, 15))
        )

    def prefixed():
        return rng.choice(PREFIXES) + spaced(
            mobile() if rng.random() < 0.7 else digits(rng.randint(1, 14))
        )

    def junk():
        r = rng.random()
        if r < 0.3:
            alphabet = (
                "0123456789" * 3 + " -().+/#x;,*~abcXYZ" + "٠١٢٣٤٥٦٧٨٩" + "０１２３＋－（）"
            ) + ("\xa0\u3000\t\n" + "电话手机" + "\u2010\u2212\u30fc\uff0e\u200b")
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        if r < 0.5:
            return digits(rng.randint(0, 25))
        if r < 0.6:
            return rng.choice(JUNK)
        if r < 0.7:
            tail = rng.choice(
                [
                    "",
                    " (home)",
                    "。",
                    " ",
                    "#",
                    "x12",
                    "/x1",
                    " ",
                    "-",
                    ")",
                    "\t",
                    " ext. 12",
                    "转8001",
                    "#123",
                    " x 1234567",
                    "x12345678",
                    ".0",
                    ".00 ",
                    "（本人）",
                    " 王伟",
                    ";ext=1",
                    "; ",
                    " " + mobile(),
                ]
            )
            return rng.choice(TEXTS) + spaced(mobile()) + tail
        if r < 0.8:
            d = digits(rng.randint(1, 20))
            return d[: rng.randint(0, len(d))] + rng.choice(["+", "++", "+ ", "(+", "+(", ")+"]) + d
        if r < 0.9:
            return rng.choice(SEPARATORS).join(
                digits(rng.randint(1, 5)) for _ in range(rng.randint(1, 6))
            )
        return rng.choice(TEXTS) + rng.choice(PREFIXES) + digits(rng.randint(0, 16))

    def odd_value():
        d = mobile()
        r = rng.random()
        if r < 0.3:
            return int(d)
        if r < 0.45:
            return float(d)
        if r < 0.5:
            return float(f"{d[0]}.{d[1:]}e{len(d) - 1}")
        if r < 0.55:
            return rng.choice([None, math.nan, pd.NA, pd.NaT, np.nan, np.float64("nan")])
        if r < 0.6:
            return rng.choice([True, False, np.bool_(True)])
        if r < 0.67:
            return np.int64(int(d)) if rng.random() < 0.5 else np.float64(float(d))
        if r < 0.72:
            return rng.uniform(-1e12, 1e12)
        if r < 0.78:
            return rng.choice([math.inf, -math.inf, 0.0, -0.0, 1e300, 1e-300, 2**70, -int(d), 0,
                               1, 12, 2**63, -(2**63), 86, 8613800138000])  # fmt: skip
        if r < 0.82:
            return decimal.Decimal(d) if rng.random() < 0.7 else decimal.Decimal("NaN")
        if r < 0.86:
            return d.encode() if rng.random() < 0.7 else b"\xff\xfe" + d.encode()
        if r < 0.92:
            return int(digits(rng.randint(1, 20)) or "0")
        return rng.choice([np.float32(float(d)), np.int32(rng.randint(0, 2**31 - 1)),
                           np.uint64(int(d)), np.str_(d), [1, 2], {"a": 1}, object, 1 + 2j,
                           pd.Timestamp("2024-01-01"), np.datetime64("NaT")])  # fmt: skip

    makers = [(0.40, lambda: spaced(mobile())), (0.12, prefixed), (0.10, landline),
              (0.10, foreign), (0.16, junk), (0.12, odd_value)]  # fmt: skip
    weights = [w for w, _ in makers]
    functions = [f for _, f in makers]
    values: list = []
    while len(values) < n:
        values.append(rng.choices(functions, weights)[0]())
        if rng.random() < 0.05:
            values.append(values[rng.randrange(len(values))])  # repeats: duplicates
    return values[:n]


# --------------------------------------------------------------------------- differential
def test_agrees_with_phonenumbers_on_a_large_messy_corpus():
    """Every row of CORPUS messy values, exactly as phonenumbers says (issue 5)."""
    values = messy_corpus(CORPUS, seed=5)
    assert_agrees(values, series=pd.Series(values, dtype=object))


@pytest.mark.parametrize("region", ["US", "GB", "HK", "JP", "DE", "IN", "BR", "AR", "TW"])
def test_agrees_with_phonenumbers_in_other_default_regions(region):
    values = messy_corpus(20_000, seed=zlib.crc32(region.encode()) % 1000)  # the same each run
    assert_agrees(values, region=region, series=pd.Series(values, dtype=object))


def test_agrees_without_dedupe():
    values = messy_corpus(20_000, seed=7)
    assert_agrees(values, dedupe=False, series=pd.Series(values, dtype=object))


def test_the_fast_path_decides_nearly_all_of_a_realistic_column(monkeypatch):
    """Speed rests on the fast path: phonenumbers sees only what it cannot decide."""
    seen, prepared = [], []
    slow, prepare = _decide._slow_one, _decide._prepare_one
    monkeypatch.setattr(
        _decide, "_slow_one", lambda text, region: seen.append(text) or slow(text, region)
    )
    monkeypatch.setattr(
        _decide, "_prepare_one", lambda text: prepared.append(text) or prepare(text)
    )
    rng = random.Random(3)
    values = [f"{rng.choice(['13', '15', '18'])}{rng.randrange(10**9):09d}" for _ in range(5000)]
    values = [
        rng.choice(["{}", "+86 {}", "0086{}", "86 {}", "(+86) {}", "手机:{}"]).format(v)
        for v in values
    ]
    values += ["010-6234 5678", "+1 212 555 0123", "+44 20 7946 0958", "+81 90 1234 5678",
               "+82 10 1234 5678", "+852 5123 4567", "N/A", "", None, 13800138000, 1.39e10,
               "13800138000 ext. 12", "13800138000 ext. 12"]  # fmt: skip
    # the documented steps the fast path takes itself (issue 17)
    values += [" 13900139000\t", "139\xa00013\u30009001", "13900139002.0", " 13900139003.00 ",
               "tel:+86-139-0013-9004", "TEL:+8613900139005;ext=12", "13900139006 (mobile)",
               "mobile 139 0013 9007 (home)", "13900139008（本人）", "13900139009转8001",
               "13900139010 x123", "13900139011#12", "13900139012 EXT: 7",
               "13900139013；13900139014", "13900139015 13900139016",
               "13900139017/13900139018"]  # fmt: skip
    assert_agrees(values, series=pd.Series(values, dtype=object))
    assert seen == []
    assert sorted(prepared) == ["N/A"]  # the documented steps, once


# --------------------------------------------------------------------------- properties
phone_characters = st.sampled_from(
    list("0123456789") * 4
    + list(" -.()/[]+＋()（）－．／\u3000\xa0\u2010\u2212\u30fc\u200b\u2060\u00ad")
    + list("０１２３４５６７８９٠١٢٣٤٥٦٧٨٩")
    + list("xX#*;,~:abcAZ电话\t\n\x00")
    + list("eEtTlL:：=.0转分机\u2002\u3000\t")
)
phone_pieces = st.one_of(
    st.sampled_from(PREFIXES + TEXTS + JUNK),
    st.text(phone_characters, max_size=8),
    st.integers(0, 10**12).map(str),
    st.sampled_from(
        [
            "13800138000",
            "13912345678",
            "1012345678",
            "2112345678",
            "17400001234",
            "16100001234",
            "4001234567",
            "8001234567",
            "95012345678",
        ]
    ),
)
phone_texts = st.lists(phone_pieces, max_size=5).map("".join)
cell_values = st.one_of(
    phone_texts,
    phone_texts,
    st.text(max_size=20),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.just(pd.NA),
    st.booleans(),
    st.binary(max_size=15),
    st.decimals(allow_nan=True),
)
regions = st.sampled_from(["CN", "CN", "CN", "US", "GB", "JP", "KR", "HK", "BR", "AR", "IT", "RU"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(cell_values, max_size=40), regions, st.booleans())
def test_any_values_agree_with_the_reference(values, region, dedupe):
    assert_agrees(values, region, dedupe, series=pd.Series(values, dtype=object))


@settings(max_examples=300, deadline=None)
@given(st.lists(phone_texts, min_size=1, max_size=40))
def test_phone_like_strings_agree_with_the_reference(values):
    assert_agrees(values, series=pd.Series(values, dtype=object))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(phone_texts, st.none(), st.text(max_size=12)), min_size=1, max_size=40))
def test_pyarrow_strings_agree_with_the_reference(values):
    pytest.importorskip("pyarrow")
    assert_agrees(values, series=pd.Series(values, dtype="string[pyarrow]"))


@settings(max_examples=150, deadline=None)
@given(st.lists(phone_texts, max_size=30))
def test_output_invariants(values):
    out = normalize(pd.Series(values, index=[f"r{i}" for i in range(len(values))], dtype=object))
    assert list(out.index) == [f"r{i}" for i in range(len(values))]
    assert list(out.columns) == ["sms_phone", "sms_e164", "sms_reason"]
    assert list(out["sms_reason"].cat.categories) == list(REASONS)
    phone, e164, reason = out["sms_phone"], out["sms_e164"], out["sms_reason"]
    sendable = reason.isna()
    assert phone[sendable].notna().all()  # every row gets a phone or a reason
    assert phone.dropna().str.fullmatch(r"1\d{10}").all()
    assert (("+86" + phone.dropna()) == e164[phone.notna()]).all()
    assert e164.dropna().str.fullmatch(r"\+[1-9]\d{2,16}").all()
    assert phone[reason.isin(["duplicate"])].notna().all()
    assert (
        e164[reason.isin(["empty", "not_a_number", "too_short", "too_long", "invalid"])]
        .isna()
        .all()
    )
    assert not phone[sendable].duplicated().any()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["13800138000", "+86 138 0013 8000", "139-0013-9000", "x"]), max_size=20
    )
)
def test_duplicates_are_later_rows_with_the_same_number(values):
    out = normalize(values)
    firsts = {}
    for i, (phone, reason) in enumerate(zip(out["sms_phone"], out["sms_reason"], strict=True)):
        if pd.isna(phone):
            continue
        if phone in firsts:
            assert reason == "duplicate"
        else:
            firsts[phone] = i
            assert pd.isna(reason)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(phone_texts, cell_values), max_size=40), regions, st.booleans())
def test_sendable_keys_are_the_keys_of_the_numbers_normalize_sends(values, region, arrow):
    """sendable_keys (no string per row) gives exactly the numbers normalize sends."""
    from smsframe.outcomes import number_keys

    if arrow:
        values = [v for v in values if isinstance(v, str) or v is None]
        series = pd.Series(values, dtype="string[pyarrow]")
    else:
        series = pd.Series(values, dtype=object)
    out = normalize(series, region)
    sent = out.loc[out["sms_reason"].isna(), "sms_phone"]
    assert sendable_keys(series, region).tolist() == sorted(number_keys(sent).tolist())


def test_sendable_keys_of_a_large_messy_corpus():
    from smsframe.outcomes import number_keys

    values = pd.Series(messy_corpus(50_000, seed=11), dtype=object)
    out = normalize(values)
    sent = number_keys(out.loc[out["sms_reason"].isna(), "sms_phone"])
    assert len(sent) > 5_000
    assert sendable_keys(values).tolist() == sorted(sent.tolist())


# --------------------------------------------------------------------------- automata
@pytest.mark.parametrize("region", [*sorted(phonenumbers.SUPPORTED_REGIONS)[::7], "CN", "US", "GB"])
def test_automata_match_like_re(region):
    """Each metadata pattern compiled to an automaton accepts exactly what re.fullmatch does."""
    rng = random.Random(region)
    table = _metadata._region(region)
    assert table.ok
    metadata = table.metadata
    patterns = [getattr(metadata, name) for name in _metadata._DESCS]
    samples = []
    for desc in patterns:
        if desc is not None and desc.example_number:
            samples.append(desc.example_number)
    for _ in range(300):
        base = rng.choice(samples) if samples and rng.random() < 0.7 else ""
        mutated = list(base) or list("0")
        for _ in range(rng.randint(0, 3)):
            op = rng.random()
            at = rng.randrange(len(mutated) + 1)
            if op < 0.4 and mutated:
                mutated[min(at, len(mutated) - 1)] = rng.choice("0123456789")
            elif op < 0.7:
                mutated.insert(at, rng.choice("0123456789"))
            elif mutated:
                del mutated[min(at, len(mutated) - 1)]
        samples.append("".join(mutated) or rng.choice("0123456789") * rng.randint(1, 12))
    samples += [
        "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 17))) for _ in range(200)
    ]
    for number in samples:
        state = 0
        for ch in number:
            state = table.types.table[state, int(ch)]
        bits = int(table.types.accept[state])
        for i, desc in enumerate(patterns):
            pattern = desc.national_number_pattern if desc is not None else None
            want = bool(pattern) and re.fullmatch(pattern, number) is not None
            assert bool(bits >> i & 1) == want, (region, _metadata._DESCS[i], number)


def test_every_region_compiles():
    """A phonenumbers upgrade with syntax the automata do not model would show here."""
    failed = [r for r in sorted(phonenumbers.SUPPORTED_REGIONS) if not _parse._engine(r).ok]
    assert failed == []


# --------------------------------------------------------------------------- behaviour
SAME_NUMBER = [
    "13800138000",
    "138 0013 8000",
    "138-0013-8000",
    "+86 138-0013-8000",
    "+8613800138000",
    "0086 13800138000",
    "86-13800138000",
    "8613800138000",
    "(+86)13800138000",
    "+86 (138) 0013 8000",
    "１３８００１３８０００",
    "＋８６ １３８ ００１３ ８０００",
    "手机：13800138000",
    "Tel: +86 138 0013 8000",
    "17951 13800138000",
    13800138000,
    13800138000.0,
    1.3800138e10,
    np.int64(13800138000),
    "  13800138000  ",
]


@pytest.mark.parametrize("value", SAME_NUMBER, ids=repr)
def test_every_shape_of_a_mobile_is_recognised(value):
    out = normalize([value], dedupe=False)
    assert out.loc[0, "sms_phone"] == "13800138000"
    assert out.loc[0, "sms_e164"] == "+8613800138000"
    assert pd.isna(out.loc[0, "sms_reason"])


def test_one_number_in_many_shapes_is_one_recipient():
    out = normalize(SAME_NUMBER)
    assert out["sms_reason"].isna().sum() == 1
    assert (out["sms_reason"].iloc[1:] == "duplicate").all()


@pytest.mark.parametrize(
    ("value", "reason", "e164"),
    [
        (None, "empty", None),
        (math.nan, "empty", None),
        (pd.NA, "empty", None),
        ("", "empty", None),
        ("   ", "empty", None),
        ("N/A", "not_a_number", None),
        ("无", "not_a_number", None),
        ("1380013800", "invalid", None),
        ("138001380001", "invalid", None),
        ("12", "too_short", None),
        ("1" * 20, "too_long", None),
        ("010-6234 5678", "not_mobile", "+861062345678"),
        ("(021) 6234-5678", "not_mobile", "+862162345678"),
        ("400 123 4567", "not_mobile", "+864001234567"),
        ("+1 212 555 0123", "foreign", "+12125550123"),
        ("+852 5123 4567", "foreign", "+85251234567"),
        ("00 44 20 7946 0958", "foreign", "+442079460958"),
        ("+999 1234", "invalid", None),
        ("1791200138000", "too_short", None),  # an international-call prefix: phonenumbers raises
    ],
)
def test_reasons(value, reason, e164):
    out = normalize([value])
    assert out.loc[0, "sms_reason"] == reason
    assert pd.isna(out.loc[0, "sms_phone"])
    got = out.loc[0, "sms_e164"]
    assert (pd.isna(got) and e164 is None) or got == e164
    assert reference([value]) == rows_of(out)


@pytest.mark.parametrize("repeat", [1, 3])
def test_lone_surrogates_are_read_as_phonenumbers_reads_them(repeat):
    """UTF-8 (Arrow's text) cannot hold a lone surrogate; a column holding one is still
    decided value by value as the reference decides it, never a crash."""
    values = ["\ud800", "1380013800\udfff", "13800138000\ud800", "138\udc0000138000",
              "+86 138 0013 8001", "\ud83d13800138002"] * repeat  # fmt: skip
    assert rows_of(normalize(pd.Series(values, dtype=object))) == reference(values)
    cells = pd.Series(["13800138000；13900139000\ud800", "\ud800"], dtype=object)
    assert details(cells, normalize(cells)).tolist()[0] == (
        "2 numbers in one cell (13800138000, 13900139000\\ud800): give each a row of its own"
    )


def test_keeps_the_index_and_accepts_many_containers():
    index = pd.Index(["b", "a", "b"], name="contact")
    values = ["13800138000", "x", "13800138000"]
    out = normalize(pd.Series(values, index=index))
    assert out.index.equals(index)
    assert list(out["sms_reason"].astype(object).fillna("ok")) == [
        "ok",
        "not_a_number",
        "duplicate",
    ]
    for container in (values, tuple(values), np.array(values, dtype=object), np.array(values),
                      pd.Index(values), pd.array(values, dtype="string"), iter(values),
                      (v for v in values)):  # fmt: skip
        assert rows_of(normalize(container)) == reference(values)
    mixed = ["13800138000", 13900139000, None, 1.3700137e10]  # read once, whatever the kinds
    assert rows_of(normalize(v for v in mixed)) == reference(mixed)
    assert len(normalize([])) == 0


@pytest.mark.parametrize(
    "dtype", ["object", "string", "str", "string[pyarrow]", "category", "Int64", "float64", "int64"]
)
def test_column_dtypes(dtype):
    if "pyarrow" in dtype:
        pytest.importorskip("pyarrow")
    if dtype in ("Int64", "float64", "int64"):
        values = [13800138000, 13900139000, 13800138000, 10, 862162345678]
        if dtype != "int64":
            values.append(None)
    else:
        values = ["13800138000", "+86 139 0013 9000", None, "x", "13800138000", "010-62345678"]
    series = pd.Series(values, dtype=dtype)
    assert rows_of(normalize(series)) == reference(list(series.astype(object)))


@pytest.mark.parametrize("repeat", [1, 20])
def test_pyarrow_strings_are_read_from_their_buffers(repeat):
    """Arrow-backed strings take their own path (digits read from the UTF-8 buffers,
    Arrow results); repetitive columns are dictionary-encoded first."""
    pa = pytest.importorskip("pyarrow")
    values = messy_corpus(40_000 // repeat, seed=11 + repeat) * repeat
    texts = [reference_text(v) for v in values]
    want = reference(texts)
    for dtype in (
        pd.StringDtype("pyarrow"),
        pd.ArrowDtype(pa.string()),
        pd.ArrowDtype(pa.large_string()),
    ):
        series = pd.Series(texts, dtype=dtype, index=range(5, 5 + len(texts)))
        out = normalize(series)
        assert out.index.equals(series.index)
        assert out["sms_phone"].dtype == dtype and out["sms_e164"].dtype == dtype
        assert rows_of(out) == want


@pytest.mark.parametrize("one_thread", [False, True])
def test_agrees_on_one_thread_and_on_several(one_thread, monkeypatch):
    """Work runs side by side (scan batches; values that are not ASCII beside the rest;
    E.164 texts beside the national ones) unless :func:`one_thread` asks for one thread
    (a Dask worker): the same rows either way. Output texts are written in blocks (here
    of 999 rows, so that their edges are crossed)."""
    from smsframe.phones import _output

    monkeypatch.setattr(_output, "_BLOCK", 999)
    texts = [reference_text(v) for v in messy_corpus(20_000, seed=13)]
    series = pd.Series(texts, dtype="string[pyarrow]")
    with _scan.one_thread() if one_thread else contextlib.nullcontext():
        assert_agrees(texts, series=series)


COMMON_SPELLINGS = ["{}", "{a} {b} {c}", "{a}-{b}-{c}", "+86{}", "+86 {}", "+86-{a}-{b}-{c}",
                    "0086{}", "0086 {a} {b} {c}", "0086-{}", "86{}", "86 {}",
                    "86-{a}-{b}-{c}", "(+86) {}", "(+86){a}-{b}-{c}", "{}.0", "{}.000", " {}\t",
                    "\t{}", "+86 {} ", " {a} {b} {c}\t", "\t{}.0 ", "\t \t{a}-{b}-{c}",
                    "{a}\xa0{b}\xa0{c}", "{a}\u3000{b}\u3000{c}", "\u3000{}\xa0",
                    "+86\xa0{a}\xa0{b}\xa0{c}\t", "{}" + "\t" * 8, " " * 8 + "{a}-{b}-{c}",
                    "\t" * 8 + "{}.0",
                    # what the documented steps turn into one of those: labels, extensions,
                    # tel: URIs, Excel's scientific text
                    "Tel: {}", "tel:+86-{a}-{b}-{c}", "TEL:{};ext=12", "tel: {} x12;a=b;c",
                    "mobile {a} {b} {c} (home)", "{} (mobile)", "手机：{}", "\t手机：{}\t",
                    "{}（本人）", "联系电话{a}-{b}-{c}", "{} ext. 12", "{} x1234567", "{}#12#",
                    "{}X12", "{}转8001", "{a} {b} {c} 分机：12", "{a}\xa0{b}\xa0{c} (home)",
                    "x{}", "ext{}", "(+86) {} (work)", "tel:{};ext=12 ;x", "{s}E+10",
                    " {s}00e10 ", "{s}E10", "手" * 300 + "：{}", "tel:{};" + "x" * 300]  # fmt: skip
NEAR_MISSES = ["{a} {b}-{c}", "{a}  {b} {c}", "{}0", "{a}{b}", "+86{}1", "+ 86 {}", "86{a}{b}",
               "0086--{}", "{a}{b} {c}", "+86 0{}", "0{}", "+860{}", "{}.", "{}.5", "{}.01",
               "{}.0.0", "+86{}.0", "{a} {b} {c}.0", "{}0.0", "(+86 {}", "+86) {}", "(86) {}",
               "{}\n", "\v{}", "{}\t\t\t\t\t\t\t\t\t", "{}.000000000", "{a}\xa0{b} {c}",
               "{a}\u2009{b}\u2009{c}", "{a}\u3000{b}-{c}", "\u3000" * 9 + "{}",
               # near those the steps turn into one
               "tel:{}.0", "{}.0 (home)", "{} x12345678", "{} x", "{} (home) x12", "(home) {}",
               "{} (mob1le)", "{} ()", "é{}", "{}é", "手机 : {}", "tel:{}x;", "{}ext.",
               "{};ext=12", "tel:tel:{}", "{s}E+11", "{s}E+010", "{s}5E+10", "{s}.0E+10",
               "{t}E+10", "mobile\n{}"]  # fmt: skip


def test_the_commonest_spellings_read_by_arrow_agree_with_the_reference(monkeypatch):
    """Arrow's regular expressions take a mobile's commonest spellings (_common) before
    the scan: for every 4-digit start of an 11-digit number, in each of them and in
    spellings close to them, the same rows as phonenumbers gives; and they are taken."""
    from smsframe.phones import _common
    from smsframe.phones._common import common_mobiles

    monkeypatch.setattr(_common, "_BLOCK", 1000)  # their digits are read in many blocks

    rng = random.Random(17)
    numbers = [f"{start}{rng.randrange(10**7):07d}" for start in range(1000, 2000)]
    texts = [
        spelling.format(d, a=d[:3], b=d[3:7], c=d[7:], s=f"{d[0]}.{d[1:]}", t=f"{d[0]}.{d[1:-1]}")
        for d in numbers
        for spelling in COMMON_SPELLINGS + NEAR_MISSES
    ]
    assert_agrees(texts, series=pd.Series(texts, dtype="string[pyarrow]"))
    taken = common_mobiles(pa.array(texts, type=pa.large_string())) >= 0
    out = normalize(pd.Series(texts, dtype="string[pyarrow]"), dedupe=False)
    common = np.isin(np.arange(len(texts)) % (len(COMMON_SPELLINGS) + len(NEAR_MISSES)),
                     np.arange(len(COMMON_SPELLINGS)))  # fmt: skip
    assert not taken[~common].any()  # near misses are the scan's
    assert (taken == common & out["sms_reason"].isna().to_numpy()).all()  # every mobile
    assert taken.sum() > 0.5 * common.sum()
    # the regular expression is written digit by digit: every 5-digit start, alone
    starts = [f"{start}{rng.randrange(10**6):06d}" for start in range(10000, 20000)]
    assert_agrees(starts, series=pd.Series(starts, dtype="string[pyarrow]"))


# Pieces around a number in a common spelling: what the steps take away (labels, marks,
# extensions, URI parameters) and what looks like it and is not.
AROUND = [" ", "\t", "\xa0", "\u3000", "  ", "", ":", "：", "Tel:", "tel:", "TEL: ", "tel:tel:",
          "手机", "手机：", "电话 ", "mobile", "é", "x", "X", "ext", "ext.", "ext. ", "extension",
          "extn", "#", "转", "分机", "分机：", "=", "12", "1234567", "12345678", "(home)", "(",
          ")", "（本人）", "（", "）", "(mob1le)", "()", ";", ";ext=12", ";x", ",", "、", "/",
          "\n", "\r", ".", ".0", "E+10", "e10", "+", "-", "0", "①", "٣"]  # fmt: skip


def test_numbers_among_pieces_the_steps_take_away_agree_with_the_reference():
    """A common spelling between random pieces (labels, extensions, tel: URIs and their
    parameters, and what looks like them): what Arrow's regular expressions take, and
    every other row, as the reference gives."""
    rng = random.Random(23)
    texts = []
    for _ in range(12_000):
        d = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        number = rng.choice(COMMON_SPELLINGS[:14]).format(d, a=d[:3], b=d[3:7], c=d[7:])
        before = "".join(rng.choice(AROUND) for _ in range(rng.choice([0, 1, 1, 2])))
        after = "".join(rng.choice(AROUND) for _ in range(rng.choice([0, 1, 1, 2, 3])))
        texts.append(before + number + after)
    assert_agrees(texts, series=pd.Series(texts, dtype="string[pyarrow]"))
    assert_agrees(texts, series=pd.Series(texts, dtype=object))


TWO_NUMBERS = ["{}/{}", "{};{}", "{}\n{}", "{} {}", "{}\t{}", " {} ; {}\t", "{}，{}", "{}、{}",
               "{}；{}", "{}／{}"]  # fmt: skip
NOT_TWO = ["{}/x{}", "{}; {};", "{}\r{}", "{}-{}", "{}\xa0{}", "{}//{}", "{}.0;{}"]  # fmt: skip


def test_cells_of_two_numbers_read_by_arrow_agree_with_the_reference():
    """Two runs of 7 digits or more, parted by spaces or one piece separator, are
    ``several_numbers`` by Arrow's regular expressions, before the scan; near those,
    what the reference gives, and not marked so."""
    from smsframe.phones._common import SEVERAL_NUMBERS, common_mobiles

    rng = random.Random(19)
    pairs = [(f"1{rng.randrange(10**10):010d}", f"{rng.randrange(10**(k - 1), 10**k)}")
             for k in (7, 8, 11, 12) for _ in range(100)]  # fmt: skip
    texts = [spelling.format(a, b) for a, b in pairs for spelling in TWO_NUMBERS + NOT_TWO]
    assert_agrees(texts, series=pd.Series(texts, dtype="string[pyarrow]"))
    marked = common_mobiles(pa.array(texts, type=pa.large_string())) == SEVERAL_NUMBERS
    two = np.arange(len(texts)) % (len(TWO_NUMBERS) + len(NOT_TWO)) < len(TWO_NUMBERS)
    assert (marked == two).all()


def test_pyarrow_sliced_and_chunked_arrays():
    pa = pytest.importorskip("pyarrow")
    texts = [reference_text(v) for v in messy_corpus(3000, seed=12)]
    chunked = pa.chunked_array([pa.array(texts[:1000]), pa.array(texts[1000:])])
    series = pd.Series(pd.arrays.ArrowExtensionArray(chunked))
    assert_agrees(texts, series=series)
    sliced = pa.array(texts).slice(700, 1500)
    assert_agrees(texts[700:2200], series=pd.Series(pd.arrays.ArrowExtensionArray(sliced)))


def test_large_repetitive_column_is_deduplicated_first():
    values = ["13800138000", "+86 139 0013 9000", "010-62345678", None] * 5000
    out = normalize(pd.Series(values, dtype=object))
    assert rows_of(out) == reference(values)


def test_rejects_unknown_region():
    with pytest.raises(ValueError, match="region"):
        normalize(["13800138000"], region="XX")


def test_normalize_frame_adds_columns_and_leaves_the_input_alone():
    frame = pd.DataFrame(
        {"name": ["王伟", "李娜", "张敏"], "tel": ["138 0013 8000", "x", 13800138000]}
    )
    before = frame.copy()
    out = normalize_frame(frame, phone="tel")
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.columns) == ["name", "tel", "sms_phone", "sms_e164", "sms_reason"]
    assert list(out["sms_reason"].astype(object).fillna("ok")) == [
        "ok",
        "not_a_number",
        "duplicate",
    ]
    again = normalize_frame(out, phone="tel", dedupe=False)  # replaces its own columns
    assert list(again.columns) == list(out.columns)
    assert again["sms_reason"].isna().sum() == 2
    with pytest.raises(KeyError, match="phone"):
        normalize_frame(frame)


def test_accessor():
    import smsframe  # noqa: F401  (registers df.sms)

    frame = pd.DataFrame({"phone": ["13800138000", "+86 138 0013 8000"]})
    out = frame.sms.normalize()
    assert list(out["sms_reason"].astype(object).fillna("ok")) == ["ok", "duplicate"]
    assert "sms_phone" not in frame


def test_values_that_refuse_to_be_text():
    class Hostile:
        def __str__(self):
            raise RuntimeError("no")

        def __eq__(self, other):
            raise RuntimeError("no")

        __hash__ = object.__hash__

    values = [Hostile(), decimal.Decimal("sNaN"), float("inf"), 10**40, -13800138000, b"\xff"]
    out = normalize(pd.Series(values, dtype=object))
    assert out.loc[0, "sms_reason"] == "not_a_number"
    assert rows_of(out) == reference(values)


def test_number_texts_keep_leading_zeros_and_country_codes_of_any_size():
    """The output texts are written from integers: an NSN's leading zeros, a country
    code of 1 to 3 digits and an NSN too long to share an int64 with its code all come
    out as the digits they stand for."""
    from smsframe.phones._output import _e164_texts, _national_texts

    numbers = [(86, "13800138000"), (39, "0669821234"), (1, "2125550123"), (None, None),
               (971, "00123"), (971, "12345678901234567"), (998, "0000000000000001")]  # fmt: skip
    key = np.array([-1 if n is None else len(n) * 10**17 + int(n) for _, n in numbers])
    cc = np.array([c or 0 for c, _ in numbers], dtype=np.int16)
    length, value = np.divmod(np.maximum(key, 0), 10**17)
    assert _national_texts(length, value, key >= 0).to_pylist() == [n for _, n in numbers]
    want = [None if n is None else f"+{c}{n}" for c, n in numbers]
    assert _e164_texts(length, value, cc).to_pylist() == want
