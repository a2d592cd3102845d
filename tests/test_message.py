"""smsframe.message: templates under str.format rules, parts per the contract,
pre-flight reasons, checked against a per-row reference and by properties."""

from __future__ import annotations

import math
import string

import numpy as np
import pandas as pd
import pytest
from frames import contacts
from hypothesis import given, settings
from hypothesis import strategies as st

import smsframe.message as message
from smsframe.message import MAX_LENGTH, REASONS, parts, render, render_frame, template_fields
from smsframe.phones import normalize_frame


# --------------------------------------------------------------------------- reference
def reference_parts(n: int) -> int:
    """docs/provider/contract.md: 70 characters in one SMS, then parts of 67."""
    if n == 0:
        return 0
    return 1 if n <= 70 else math.ceil(n / 67)


def roots(template: str) -> set[str]:
    """Columns a template uses, format specs included ({x:>{width}})."""
    found = set()
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is not None:
            found.add(name.split(".")[0].split("[")[0])
            found |= roots(spec or "")
    return found


def not_xml(c: str) -> bool:
    """A character XML 1.0 cannot carry."""
    code = ord(c)
    return (
        (code < 0x20 and c not in "\t\n\r") or 0xD800 <= code <= 0xDFFF or 0xFFFE <= code <= 0xFFFF
    )


def reference_row(template: str, row: dict, keywords: list[str]):
    """(sms_message, sms_parts, sms_reason, sms_detail) for one row, the plain way."""
    empty = sorted(repr(root) for root in roots(template) if pd.isna(row[root]))
    if empty:
        verb = "have" if len(empty) > 1 else "has"
        return None, None, "template_missing", f"{', '.join(empty)} {verb} no value"
    text = template.format(**row)
    n = len(text)
    bad = any(not_xml(c) for c in text)
    shown = "".join(c.encode("unicode_escape").decode() if not_xml(c) else c for c in text)
    if not text.strip():
        return shown, reference_parts(n), "message_empty", None
    if bad:  # shown escaped, as XML cannot carry them
        return shown, reference_parts(n), "bad_characters", None
    if n > 201:
        return text, reference_parts(n), "message_too_long", None
    found = [k for k in keywords if k in text]
    if found:
        return text, reference_parts(n), "banned_keyword", ";".join(found)
    return text, reference_parts(n), None, None


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    columns = ["sms_message", "sms_parts", "sms_reason", "sms_detail"]
    return [
        tuple(None if pd.isna(v) else v for v in row)
        for row in frame[columns].astype(object).itertuples(index=False)
    ]


def assert_agrees(frame: pd.DataFrame, template: str, keywords=()):
    got = rows_of(render(frame, template, keywords=list(keywords)))
    want = [reference_row(template, row, list(keywords)) for row in frame.to_dict("records")]
    assert got == want


# --------------------------------------------------------------------------- parts
@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, 0), (1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_parts_follow_the_contract(length, expected):
    assert parts(length) == expected == parts("字" * length) == reference_parts(length)


def test_every_code_point_counts_one():
    assert parts("😀" * 70) == 1  # an emoji is one code point
    assert parts("😀" * 71) == 2
    assert parts("👨‍👩‍👧") == 1 and len("👨‍👩‍👧") == 5  # a family emoji is 5 code points


@given(st.text(max_size=300))
def test_parts_of_any_text(text):
    assert parts(text) == reference_parts(len(text))


# --------------------------------------------------------------------------- templates
@pytest.fixture
def members() -> pd.DataFrame:
    """Five contacts with a field of every kind a template formats, some missing."""
    return contacts(
        5,
        prefix=None,
        name=["王伟", "李娜", None, "张敏", ""],
        points=pd.array([120, 4500, 80, None, 0], dtype="Int64"),
        amount=[12.5, 3.0, 1.25, 7.0, math.nan],
        city=pd.Categorical(["北京", "上海", "北京", "深圳", "上海"]),
        joined=pd.to_datetime(["2024-11-11", "2023-01-02", None, "2020-02-29", "2021-05-05"]),
        index=pd.Index([10, 20, 30, 40, 50], name="id"),
    )


@pytest.mark.parametrize(
    "template",
    [
        "国庆快乐！",
        "您好{name}，您的积分为{points}。",
        "{name}{name}{points:,}{amount:.2f}{city}",
        "{amount!r}|{name!s}|{city!a}",
        "{{退订回T}}{name}{{}}",
        "{joined:%m月%d日}会员日",
        "{joined.year}年{name}",
        "{amount:>{points}}",
        "",
        "   ",
    ],
)
def test_templates_render_like_str_format(members, template):
    assert_agrees(members, template)


def test_result_is_on_the_frame_index_and_the_frame_is_untouched(members):
    before = members.copy()
    out = render(members, "{name}")
    assert out.index.equals(members.index)
    assert list(out.columns) == ["sms_message", "sms_parts", "sms_reason", "sms_detail"]
    assert list(out["sms_reason"].cat.categories) == list(REASONS)
    assert str(out["sms_parts"].dtype) == "Int64"
    pd.testing.assert_frame_equal(members, before)


def test_missing_values_give_template_missing(members):
    out = render(members, "您好{name}，积分{points}")
    assert list(out["sms_reason"].astype(object).fillna("ok")) == [
        "ok",
        "ok",
        "template_missing",
        "template_missing",
        "ok",  # "" is a value, not a missing one
    ]
    assert out["sms_message"].isna().tolist() == [False, False, True, True, False]
    assert out["sms_parts"].isna().tolist() == [False, False, True, True, False]


@pytest.mark.parametrize("template", ["{naem}", "你好{name}{nmae.x}", "{x:{width}}", "{}", "{0}"])
def test_unknown_fields_are_an_error_before_anything(members, template):
    with pytest.raises(ValueError, match="field"):
        render(members, template)


@pytest.mark.parametrize("template", ["{", "}", "{name", "{name!x}"])
def test_malformed_templates_are_an_error(members, template):
    with pytest.raises(ValueError):
        render(members, template)


def test_message_must_be_text(members):
    with pytest.raises(TypeError, match="str"):
        render(members, 42)


def test_template_fields():
    assert template_fields("您好{name}，{points:,}分，{{退订}}{name}{x:{w}}") == [
        "name",
        "points",
        "x",
        "w",
    ]
    assert template_fields("国庆快乐") == []


def test_a_numeric_column_label():
    frame = pd.DataFrame({0: ["甲", "乙"], "0x": [1, 2]})
    assert render(frame, "{0}")["sms_message"].tolist() == ["甲", "乙"]


def test_object_column_of_mixed_values_is_not_hashed_together():
    frame = pd.DataFrame({"v": pd.Series([True, 1, 1.0, "1", None], dtype=object)})
    assert_agrees(frame, "[{v}]")
    assert render(frame, "{v}")["sms_message"].tolist()[:4] == ["True", "1", "1.0", "1"]


# --------------------------------------------------------------------------- checks
def test_empty_and_blank_messages(members):
    assert (render(members, "")["sms_reason"] == "message_empty").all()
    assert (render(members, " \u3000\n")["sms_reason"] == "message_empty").all()
    out = render(members, "{name}")
    assert out["sms_reason"].tolist()[4] == "message_empty"  # name is ""
    assert out["sms_parts"].tolist()[4] == 0


def test_length_limit(members):
    ok = render(members, "字" * MAX_LENGTH)
    assert ok["sms_reason"].isna().all() and (ok["sms_parts"] == 3).all()
    too_long = render(members, "字" * (MAX_LENGTH + 1))
    assert (too_long["sms_reason"] == "message_too_long").all()
    assert (too_long["sms_parts"] == 4).all()
    frame = pd.DataFrame({"x": ["a" * 190, "a" * 191, "a" * 192]})
    out = render(frame, "{x}0123456789")
    assert out["sms_reason"].astype(object).fillna("ok").tolist() == [
        "ok",
        "ok",
        "message_too_long",
    ]
    assert out["sms_parts"].tolist() == [3, 3, 4]


def test_banned_keywords_are_reported_in_the_order_given():
    frame = pd.DataFrame({"x": ["赌博", "发票", "正常", "代开发票赌", "价", "Casino"]})
    out = render(frame, "{x}格", keywords=["发票", "赌", "赌博", "价格", "casino"])
    assert out["sms_reason"].astype(object).fillna("ok").tolist() == [
        "banned_keyword",
        "banned_keyword",
        "ok",
        "banned_keyword",
        "banned_keyword",  # across the field and the literal
        "ok",  # case-sensitive
    ]
    assert out["sms_detail"].astype(object).fillna("").tolist() == [
        "赌;赌博",
        "发票",
        "",
        "发票;赌",
        "价格",
        "",
    ]


def test_keywords_never_match_across_rows():
    frame = pd.DataFrame({"x": ["ab", "cd", "a", "b"]})
    out = render(frame, "{x}", keywords=["bc", "ab", "ba", "b\x00"[:1] + "c"])
    assert out["sms_detail"].astype(object).fillna("").tolist() == ["ab", "", "", ""]


def test_a_keyword_in_a_constant_message(members):
    out = render(members, "发票代开", keywords=["代开", "赌"])
    assert (out["sms_reason"] == "banned_keyword").all()
    assert (out["sms_detail"] == "代开").all()


def test_precedence_of_reasons():
    frame = pd.DataFrame({"x": [None, " ", "赌" * 202, "赌"]})
    out = render(frame, "{x}", keywords=["赌"])
    assert out["sms_reason"].tolist() == [
        "template_missing",
        "message_empty",
        "message_too_long",  # the provider checks the length before keywords
        "banned_keyword",
    ]


@pytest.mark.parametrize("keywords", [[""], ["a\x00"], [3]])
def test_bad_keywords(members, keywords):
    with pytest.raises(ValueError, match="keyword"):
        render(members, "x", keywords=keywords)


def test_a_constant_message_does_no_per_row_work(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a constant message must not be rendered per row")

    monkeypatch.setattr(message, "_render", forbidden)
    monkeypatch.setattr(message, "_banned", forbidden)
    frame = pd.DataFrame({"phone": np.arange(200_000)})
    out = render(frame, "国庆快乐{{}}！", keywords=["赌"])
    assert (out["sms_message"] == "国庆快乐{}！").all()
    assert (out["sms_parts"] == 1).all() and out["sms_reason"].isna().all()


# --------------------------------------------------------------------------- frames
def test_render_frame_keeps_reasons_from_the_numbers():
    frame = pd.DataFrame(
        {
            "name": ["王伟", "李娜", None, "张敏"],
            "phone": ["13800138000", "010-62345678", "13900139000", "13800138000"],
        }
    )
    numbers = normalize_frame(frame)
    out = render_frame(numbers, "{name}，您好", keywords=["张"])
    assert out["sms_reason"].astype(object).fillna("ok").tolist() == [
        "ok",
        "not_mobile",
        "template_missing",
        "duplicate",  # the number's reason wins over banned_keyword
    ]
    assert out["sms_detail"].isna().tolist() == [True, True, False, True]
    assert out.loc[2, "sms_detail"] == "'name' has no value"  # names the column
    assert out["sms_message"].tolist()[:2] == ["王伟，您好", "李娜，您好"]
    categories = list(out["sms_reason"].cat.categories)
    assert set(categories) >= {"not_mobile", "duplicate", "template_missing", "banned_keyword"}
    again = render_frame(out, "新消息")
    assert again["sms_message"].eq("新消息").all()
    assert list(again.columns) == list(out.columns)
    assert "sms_message" not in numbers


def test_accessor_render():
    import smsframe  # noqa: F401  (registers df.sms)

    frame = pd.DataFrame({"name": ["王伟"], "phone": ["138 0013 8000"]})
    out = frame.sms.normalize().sms.render("{name}您好", keywords=["您好"])
    assert out.loc[0, "sms_reason"] == "banned_keyword"
    assert out.loc[0, "sms_detail"] == "您好"
    assert list(frame.columns) == ["name", "phone"]


# --------------------------------------------------------------------------- properties
literal_text = st.lists(
    st.sampled_from([*"您好，积分优惠退订回T赌发票 abc😀\n", "{{", "}}"]), max_size=12
).map("".join)
fields = st.sampled_from(
    ["{name}", "{points}", "{points:,}", "{amount:.1f}", "{amount}", "{name!r}", "{tag}", "{n:>5}"]
)
templates = st.lists(st.one_of(literal_text, fields), max_size=6).map("".join)
frames = st.integers(0, 12).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "name": st.lists(st.one_of(st.none(), st.text(max_size=80)), min_size=n, max_size=n),
            "points": st.lists(
                st.one_of(st.none(), st.integers(-(10**6), 10**9)), min_size=n, max_size=n
            ),
            "amount": st.lists(
                st.floats(allow_nan=True, allow_infinity=False), min_size=n, max_size=n
            ),
            "tag": st.lists(st.sampled_from(["VIP", "赌", "", " "]), min_size=n, max_size=n),
            "n": st.lists(st.integers(0, 99), min_size=n, max_size=n),
        }
    )
)


@settings(max_examples=300, deadline=None)
@given(frames, templates, st.lists(st.sampled_from(["赌", "发票", "VIP", "😀", "a"]), max_size=3))
def test_any_template_agrees_with_the_reference(data, template, keywords):
    frame = pd.DataFrame(data)
    frame["points"] = frame["points"].astype("Int64")
    frame["amount"] = frame["amount"].astype(float)
    assert_agrees(frame, template, dict.fromkeys(keywords))
