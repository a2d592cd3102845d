"""Unambiguous times: a naive time on a machine whose clock is not China's says how it
was read; a bare date is refused; thresholds are stated; a schedule that sends nothing
says so."""

from __future__ import annotations

import time
import warnings
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from frames import contacts

import smsframe  # noqa: F401  (registers df.sms)
from smsframe.codes import CHINA
from smsframe.preflight import NaiveTimeWarning


@pytest.fixture
def clock_in(monkeypatch):
    """Set this process's local time zone (TZ), restored afterwards."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def test_a_naive_time_on_a_utc_machine_says_it_was_read_as_china_time(clock_in):
    clock_in("UTC")
    an_hour_from_now = datetime.now() + timedelta(hours=1)  # UTC wall clock
    with pytest.warns(NaiveTimeWarning, match="read as China Standard Time") as caught:
        plan = contacts(3, "139").sms.plan("明早见", at=an_hour_from_now)
    assert caught[0].filename == __file__  # points at the user's line
    assert "UTC" in str(caught[0].message)
    # An hour from now in UTC is seven hours ago in China: every row is in the past.
    assert set(plan.rows["sms_reason"]) == {"schedule_in_past"}


def test_a_text_time_is_naive_too(clock_in):
    clock_in("Europe/Berlin")
    with pytest.warns(NaiveTimeWarning, match="2031-01-01 09:00 in China is 2031-01-01 02:00"):
        contacts(3, "139").sms.plan("明早见", at="2031-01-01 09:00")


@pytest.mark.parametrize(
    "at",
    [
        datetime(2031, 1, 1, 9, tzinfo=CHINA),
        datetime(2031, 1, 1, 1, tzinfo=ZoneInfo("UTC")),
        pd.Timestamp("2031-01-01 09:00", tz="Asia/Shanghai"),
    ],
)
def test_an_aware_time_needs_no_warning(clock_in, at):
    clock_in("UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan = contacts(3, "139").sms.plan("明早见", at=at)
    assert plan.rows["sms_scheduled_for"].iloc[0] == pd.Timestamp("2031-01-01 09:00", tz=CHINA)


def test_no_warning_where_the_clock_is_chinas(clock_in):
    clock_in("Asia/Shanghai")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        contacts(3, "139").sms.plan("明早见", at=datetime(2031, 1, 1, 9))


def test_a_column_of_naive_times_warns_too(clock_in):
    clock_in("UTC")
    frame = contacts(2, "139").assign(t=["2031-01-01 09:00", "2031-01-02 09:00"])
    with pytest.warns(NaiveTimeWarning):
        contacts(2, "139").assign(t=frame["t"]).sms.plan("明早见", at="t")


def test_a_bare_date_is_refused_with_a_time_to_add():
    with pytest.raises(TypeError, match=r"a date without a time.*datetime\(2030, 1, 1, 9, 0\)"):
        contacts(3, "139").sms.plan("明早见", at=date(2030, 1, 1))


def test_too_soon_states_the_margin():
    soon = datetime.now(CHINA) + timedelta(minutes=1)
    plan = contacts(1, "139").sms.plan("明早见", at=soon)
    assert plan.rows["sms_reason"].iloc[0] == "schedule_too_soon"
    assert "less than 2 minutes ahead" in plan.rows["sms_detail"].iloc[0]
    plan = contacts(1, "139").sms.plan(
        "明早见", at=soon + timedelta(minutes=5), margin=timedelta(hours=1)
    )
    assert "less than 60 minutes ahead" in plan.rows["sms_detail"].iloc[0]


def test_a_schedule_that_sends_nothing_says_so(sim, sms_client, journal):
    past = datetime.now(CHINA) - timedelta(hours=1)
    with pytest.warns(UserWarning, match="nothing to send: all 3 rows .* 3 of them schedule_in"):
        out = contacts(3, "139").sms.schedule(
            sms_client, "明早见", at=past, campaign="late", journal=journal, progress=False
        )
    assert set(out["sms_status"]) == {"rejected"}
    assert sim.deliveries().empty
