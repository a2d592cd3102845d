"""smsframe.phones: the decisions smsframe makes where phonenumbers misleads (issue 17),
one test per misleading case a new user meets, and the words a rejected row gets."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phone_reference import reference, reference_prepare

import smsframe  # noqa: F401  (registers df.sms)
from smsframe.phones import _scan, details, normalize, several_numbers
from smsframe.phones._steps import _prepare_one


@pytest.fixture(autouse=True)
def strict_fast_path(monkeypatch):
    monkeypatch.setattr(_scan, "_STRICT", True)


def one(value, region="CN"):
    out = normalize([value], region, dedupe=False)
    reason = out.loc[0, "sms_reason"]
    assert reference([value], region, dedupe=False) == [
        tuple(None if pd.isna(v) else v for v in out.iloc[0])
    ]
    phone = out.loc[0, "sms_phone"]
    return None if pd.isna(phone) else phone, None if pd.isna(reason) else reason


@pytest.mark.parametrize(
    ("value", "phone"),
    [
        ("13800138004.0", "13800138004"),  # read_csv(dtype=str) of a column Excel saved as numbers
        ("13800138004.00", "13800138004"),
        (" 13800138004.0 ", "13800138004"),
        ("1.3800138005E+10", "13800138005"),
        ("1.3800138005e10", "13800138005"),
        ("1.38E+10", "13800000000"),  # what Excel shows: the digits it kept, as the float value
    ],
)
def test_excel_float_text_is_its_integer(value, phone):
    assert one(value) == (phone, None)


def test_excel_float_text_is_the_integer_not_its_mantissa_digits():
    assert one("0.5E+1") == (None, "not_a_number")  # 5, not '05' (too_short)
    assert one("0.13800138004E+11") == ("13800138004", None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("13800138004.5", "invalid"),  # not integral: the text is read as written
        ("1.38000138005E+10", "not_a_number"),  # its letter removed: two runs of digits
        ("138.0", "too_short"),
        ("手机：13800138004.0", "invalid"),  # not exactly a float: as written
    ],
)
def test_text_that_is_not_exactly_an_integral_float_is_read_as_written(value, reason):
    assert one(value) == (None, reason)


@pytest.mark.parametrize(
    "value",
    [
        "13800138007 (mobile)",
        "mobile 138 0013 8007 (home)",
        "13800138007（本人）",
        "手机：138 0013 8007",
        "手机号码:13800138007 王伟",
        "tel:+86-138-0013-8007",
        "tel:+86-138-0013-8007;ext=12",
        "TEL:13800138007;phone-context=+86",
        "13800138007 ext. 12",
        "13800138007 x12",
        "13800138007#123",
        "13800138007转8001",
        "13800138007 分机 8001",
        " 13800138007\t",
        "\t138\xa00013\u30008007\t",
        "13800138007ー",
    ],
    ids=repr,
)
def test_labels_and_extensions_are_not_part_of_the_number(value):
    """For mainland China no letter stands for a digit: words are labels."""
    assert one(value) == ("13800138007", None)


def test_letters_are_never_digits_in_any_region():
    assert one("1-800-FLOWERS", "US")[1] is not None  # a vanity number is not read as digits
    assert reference_prepare("1-800-FLOWERS") == "1-800-"


@pytest.mark.parametrize(
    ("value", "numbers"),
    [
        ("13800138000;13900139000", ("13800138000", "13900139000")),
        ("13800138000; 13900139000", ("13800138000", "13900139000")),
        ("13800138000,13900139000", ("13800138000", "13900139000")),
        ("13800138000，13900139000", ("13800138000", "13900139000")),
        ("13800138000/13900139000", ("13800138000", "13900139000")),
        ("13800138000、13900139000", ("13800138000", "13900139000")),
        ("13800138000\n13900139000", ("13800138000", "13900139000")),
        ("138 0013 8000 / 139 0013 9000", ("138 0013 8000", "139 0013 9000")),
        ("13800138000 13900139000", ("13800138000", "13900139000")),
        ("+86 13800138000 +86 13900139000", ("13800138000", "13900139000")),
        ("010-62345678;13800138000", ("010-62345678", "13800138000")),
        # An extension mark before a line break is not an extension across it (the fast
        # path once read "#\n19" as extension 19; found by a random messy corpus).
        ("13800138000#\n19", ("13800138000#", "19")),
        ("13800138000 x\n19", ("13800138000 x", "19")),
    ],
)
def test_several_numbers_in_one_cell_are_never_sent_silently(value, numbers):
    assert one(value) == (None, "several_numbers")
    assert several_numbers([value]) == [numbers]


@pytest.mark.parametrize(
    "value",
    ["13800138000;", "; 13800138000", "N/A, 13800138000", "13800138000\n", "13800138000 / -"],
)
def test_one_number_among_separators_is_one_number(value):
    assert one(value) == ("13800138000", None)


def test_text_with_no_number_left_is_not_a_number():
    for value in ("ext. 12", "x12", "N/A", "无；空号"):
        assert one(value) == (None, "not_a_number")


def test_arrow_strings_take_the_same_decisions():
    pytest.importorskip("pyarrow")
    values = ["13800138004.0", "13800138007 (mobile)", "13800138000;13900139000", " 1390013\t9000 "]
    out = normalize(pd.Series(values, dtype="string[pyarrow]"))
    assert out["sms_reason"].astype(object).fillna("ok").tolist() == [
        "ok",
        "ok",
        "several_numbers",
        "ok",
    ]


def test_details_name_the_numbers_and_the_first_row():
    phone = pd.Series(
        ["13800138000", "13800138000；13900139000", "+86 138 0013 8000", "x", "138-0013-8000"],
        index=["wang", "li", "zhang", "liu", "chen"],
    )
    words = details(phone, normalize(phone))
    assert words.index.equals(phone.index)
    assert (
        words["li"]
        == "2 numbers in one cell (13800138000, 13900139000): give each a row of its own"
    )
    assert words["zhang"] == words["chen"] == "the same number as row 'wang'"
    assert words[["wang", "liu"]].isna().all()


def test_a_plan_says_which_row_a_duplicate_repeats_and_which_column_is_missing():
    frame = pd.DataFrame(
        {
            "name": ["王伟", None, "张敏", "李娜"],
            "phone": ["13800138000", "13700137000", "+86 138 0013 8000", "13800138000/13900139000"],
        },
        index=[101, 102, 103, 104],
    )
    plan = frame.sms.plan(message="{name}您好")
    detail = plan.rows["sms_detail"]
    assert plan.rows["sms_reason"].astype(object).fillna("ok").tolist() == [
        "ok",
        "template_missing",
        "duplicate",
        "several_numbers",
    ]
    assert detail[102] == "'name' has no value"
    assert detail[103] == "the same number as row 101"
    assert detail[104] == (
        "2 numbers in one cell (13800138000, 13900139000): give each a row of its own"
    )
    assert "several_numbers" in plan.rejected().index


_CELL_PIECES = st.one_of(
    st.from_regex(r"[0-9]{5,12}", fullmatch=True),
    st.sampled_from([" ", "\t", ";", "，", "/", "、", "\n", "\r\n", "  ", " ; ", "x", "#", "."]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_CELL_PIECES, max_size=5).map("".join), min_size=1, max_size=20))
def test_several_numbers_read_at_once_as_one_value_at_a_time(texts):
    """several_numbers reads the common cells (two runs of digits) with RE2, the others
    one by one: both ways agree on every text."""
    one_by_one = []
    for text in texts:
        prepared = _prepare_one(text) if text.strip() else None
        one_by_one.append(prepared if isinstance(prepared, tuple) else None)
    assert several_numbers(texts) == one_by_one
