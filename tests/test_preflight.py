"""preflight.py on its own: the extension number and the schedule time of each row,
each failure a reason token of its own table. Plain frames in, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from smsframe import preflight
from smsframe.codes import CHINA
from smsframe.options import PlanOptions
from smsframe.plan import build

NOW = datetime(2030, 1, 1, 8, 0)  # China Standard Time


def reasons(series: pd.Series) -> list:
    return [None if pd.isna(value) else value for value in series]


def test_the_reason_tokens_are_the_tables_own():
    assert preflight.REASON_TEXT == {**preflight.EXT_REASONS, **preflight.SCHEDULE_REASONS}
    assert all(text for text in preflight.REASON_TEXT.values())


@pytest.mark.parametrize(
    ("value", "text", "reason"),
    [
        ("12", "12", None),
        (" 123456 ", "123456", None),
        (7, "7", None),
        ("1234567", None, "bad_ext"),
        ("12a", None, "bad_ext"),
        ("-1", None, "bad_ext"),
        (1.5, None, "bad_ext"),
        (True, None, "bad_ext"),  # a flag is not a number here
        (None, None, None),  # no ext: sent without one
        ("", None, None),
        (float("nan"), None, None),
    ],
)
def test_an_ext_is_one_to_six_digits_from_a_column(value, text, reason):
    ext, why = preflight.ext_column(pd.DataFrame({"e": [value]}), "e")
    assert ext.tolist() == [text]
    assert reasons(why) == [reason]
    assert ext.name == "sms_ext"


def test_an_ext_constant_applies_to_every_row():
    ext, why = preflight.ext_column(pd.DataFrame({"phone": ["a", "b"]}), "42")
    assert ext.tolist() == ["42", "42"] and reasons(why) == [None, None]


def test_an_ext_series_is_refused_with_what_to_pass_instead():
    frame = pd.DataFrame({"phone": ["a"]})
    with pytest.raises(TypeError, match="column name or one value"):
        preflight.ext_column(frame, pd.Series(["1"]))


def test_two_columns_of_one_name_are_refused():
    frame = pd.DataFrame([["1", "2"]], columns=["e", "e"])
    with pytest.raises(ValueError, match="several columns are named 'e'"):
        preflight.ext_column(frame, "e")


def test_schedule_times_are_checked_against_now_and_the_margin():
    frame = pd.DataFrame(
        {
            "t": [
                "2030-01-01 09:00",  # an hour ahead: fine
                "2030-01-01 08:01",  # within the 2 minute margin
                "2030-01-01 07:59",  # past
                "2030-01-01 08:00",  # now is not later than now
                "not a time",
                None,
            ]
        }
    )
    times, why = preflight.schedule_column(frame, "t", now=NOW)
    assert reasons(why) == [
        None,
        "schedule_too_soon",
        "schedule_in_past",
        "schedule_in_past",
        "bad_schedule_time",
        "bad_schedule_time",
    ]
    assert times.name == "sms_scheduled_for"
    assert str(times.dt.tz) == "Asia/Shanghai"
    assert times.iloc[0] == pd.Timestamp("2030-01-01 09:00", tz=CHINA)


def test_a_wider_margin_moves_the_line():
    frame = pd.DataFrame({"t": ["2030-01-01 08:30"]})
    assert reasons(preflight.schedule_column(frame, "t", now=NOW)[1]) == [None]
    late = preflight.schedule_column(frame, "t", now=NOW, margin=timedelta(hours=1))[1]
    assert reasons(late) == ["schedule_too_soon"]


def test_naive_times_are_china_time_and_aware_ones_are_converted():
    utc = datetime(2030, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in China
    frame = pd.DataFrame({"phone": ["a"]})
    aware, _ = preflight.schedule_column(frame, utc, now=NOW)
    naive, _ = preflight.schedule_column(frame, datetime(2030, 1, 1, 9, 0), now=NOW)
    assert aware.iloc[0] == naive.iloc[0] == pd.Timestamp("2030-01-01 09:00", tz=CHINA)


def test_a_text_that_is_neither_a_column_nor_a_time_is_a_clear_error():
    with pytest.raises(KeyError, match="neither a column nor a date and time"):
        preflight.schedule_column(pd.DataFrame({"phone": ["a"]}), "send_time", now=NOW)


def test_the_plan_rejects_rows_with_preflights_tokens_and_texts():
    frame = pd.DataFrame({"phone": ["13800138000", "13800138001"], "e": ["1", "1234567"]})
    plan = build(frame, "hi", PlanOptions(ext="e"))
    assert reasons(plan.rows["sms_reason"]) == [None, "bad_ext"]
    assert plan.rows["sms_detail"].iloc[1] == preflight.EXT_REASONS["bad_ext"]
    assert set(preflight.EXT_REASONS) <= set(plan.rows["sms_reason"].cat.categories)
