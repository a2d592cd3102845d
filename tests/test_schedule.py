"""df.sms.schedule over SendTimer and ext over SendMessageExt, against the simulator."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from frames import contacts

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "schedule-pw")
CHINA = ZoneInfo("Asia/Shanghai")

CONTACTS = {"prefix": "186", "name": "客户{i}"}  # frames.contacts: 客户0, 18600000000, ...

pytestmark = pytest.mark.sim(ACCOUNT, balance=100_000)


def schedule(df, client, journal, **options):
    options = {"message": "明早见", "campaign": "s1", "progress": False, **options}
    return df.sms.schedule(client, journal=journal, **options)


def later(days: int = 3, hour: int = 9) -> datetime:
    """A naive China Standard Time wall time some days ahead."""
    return (datetime.now(CHINA) + timedelta(days=days)).replace(
        hour=hour, minute=30, second=0, microsecond=0, tzinfo=None
    )


def test_schedule_in_the_future_reaches_the_provider_in_china_time(sim, sms_client, journal):
    at = later()
    out = schedule(contacts(150, **CONTACTS), sms_client, journal, at=at)
    assert (out["sms_status"] == "scheduled").all()
    assert out["sms_scheduled_for"].dt.tz is not None
    assert (out["sms_scheduled_for"] == pd.Timestamp(at, tz=CHINA)).all()
    deliveries = sim.deliveries()
    assert len(deliveries) == 150
    assert (deliveries["operation"] == "SendTimer").all()
    assert (deliveries["scheduled_for"] == pd.Timestamp(at, tz=CHINA)).all()
    assert deliveries["batch_id"].nunique() == 1
    upcoming = journal.scheduled(upcoming=True)
    assert upcoming[["campaign", "recipients", "cost", "calls"]].values.tolist() == [
        ["s1", 150, 150, 2]
    ]
    assert upcoming["scheduled_for"].iloc[0] == pd.Timestamp(at, tz=CHINA)


@pytest.mark.parametrize(
    ("zone", "wall", "china_wall"),
    [
        ("Europe/Berlin", (1, 15, 8, 0), (1, 15, 15, 0)),  # CET, UTC+1
        ("Europe/Berlin", (7, 15, 8, 0), (7, 15, 14, 0)),  # CEST, UTC+2
        ("America/New_York", (1, 15, 20, 0), (1, 16, 9, 0)),  # EST, crosses midnight
        ("America/New_York", (7, 15, 20, 0), (7, 16, 8, 0)),  # EDT
    ],
)
def test_aware_times_are_converted_to_china_time(sim, sms_client, journal, zone, wall, china_wall):
    year = datetime.now().year + 2
    at = datetime(year, *wall[:2], *wall[2:], tzinfo=ZoneInfo(zone))
    schedule(contacts(2, **CONTACTS), sms_client, journal, at=at)
    expected = pd.Timestamp(datetime(year, *china_wall[:2], *china_wall[2:]), tz=CHINA)
    assert (sim.deliveries()["scheduled_for"] == expected).all()


def test_per_row_times_are_grouped_one_call_set_per_time(sim, sms_client, journal):
    df = contacts(30, **CONTACTS)
    times = [later(1), later(2), later(3)]
    df["send_at"] = [times[i % 3] for i in range(30)]
    out = schedule(df, sms_client, journal, at="send_at", chunk_size=4)
    assert (out["sms_status"] == "scheduled").all()
    assert sim.requests["SendTimer"] == 3 * 3  # 10 rows per time, chunks of 4
    deliveries = sim.deliveries()
    per_time = deliveries.groupby("scheduled_for")["batch_id"].nunique()
    assert len(per_time) == 3 and (per_time == 1).all()
    assert deliveries["batch_id"].nunique() == 3
    assert out.groupby("send_at")["sms_timestamp"].nunique().eq(1).all()


def test_past_too_soon_and_unreadable_times_are_rejected_without_a_call(sim, sms_client, journal):
    now = datetime.now(CHINA).replace(tzinfo=None)
    df = contacts(4, **CONTACTS)
    df["send_at"] = [
        now - timedelta(hours=1),
        now + timedelta(seconds=30),
        "not a time",
        now + timedelta(days=1),
    ]
    out = schedule(df, sms_client, journal, at="send_at")
    assert out["sms_status"].tolist() == ["rejected", "rejected", "rejected", "scheduled"]
    assert out["sms_reason"].tolist()[:3] == [
        "schedule_in_past",
        "schedule_too_soon",
        "bad_schedule_time",
    ]
    assert sim.requests["SendTimer"] == 1
    out = schedule(
        contacts(2, **CONTACTS), sms_client, journal, at=now - timedelta(minutes=1), campaign="s2"
    )
    assert (out["sms_reason"] == "schedule_in_past").all()
    assert sim.requests["SendTimer"] == 1


def test_margin_is_configurable(sim, sms_client, journal):
    at = datetime.now(CHINA) + timedelta(minutes=10)
    out = schedule(
        contacts(2, **CONTACTS), sms_client, journal, at=at, margin=timedelta(minutes=30)
    )
    assert (out["sms_reason"] == "schedule_too_soon").all()


@pytest.mark.parametrize("code", [-11, -12])
def test_provider_minus_11_and_12_fail_the_rows_with_the_meaning(sim, sms_client, journal, code):
    sim.inject("SendTimer", f"state{code}")
    out = schedule(contacts(3, **CONTACTS), sms_client, journal, at=later())
    assert (out["sms_status"] == "failed").all()
    assert out["sms_state"].eq(code).all()
    assert out["sms_detail"].str.contains("scheduled time").all()
    assert sim.deliveries().empty


def test_a_time_that_passes_in_flight_gets_minus_12_from_the_provider(tmp_path):
    with Simulator(latency_ms=1500) as sim:
        sim.add_account(*ACCOUNT, balance=100)
        client = SmsClient(sim.wsdl_url, *ACCOUNT)
        client.login()
        journal = Journal(f"sqlite:///{tmp_path / 'j.sqlite'}")
        at = datetime.now(CHINA) + timedelta(seconds=3)
        out = schedule(contacts(1, **CONTACTS), client, journal, at=at, margin=timedelta(0))
        assert out["sms_state"].tolist() == [-12]


def test_ext_is_grouped_and_sent_with_send_message_ext(sim, sms_client, journal):
    df = contacts(6, **CONTACTS)
    df["ext"] = ["12", "12", "345", None, "1234567", "ab"]
    out = df.sms.send(
        sms_client, message="hi", campaign="e1", journal=journal, ext="ext", progress=False
    )
    assert out["sms_status"].tolist() == ["sent"] * 4 + ["rejected"] * 2
    assert (out["sms_reason"].iloc[4:] == "bad_ext").all()
    deliveries = sim.deliveries().set_index("phone")
    assert deliveries.loc[df["phone"][:3], "ext"].tolist() == ["12", "12", "345"]
    assert deliveries.loc[df["phone"][:3], "operation"].eq("SendMessageExt").all()
    assert deliveries.loc[df["phone"][3], "operation"] == "SendMessage"
    assert sim.requests["SendMessageExt"] == 2
    # Same message, different ext: different Timestamps, so the provider keeps them apart.
    assert out["sms_timestamp"].iloc[:4].nunique() == 3
    assert out["sms_batch_id"].iloc[:4].nunique() == 3


def test_constant_ext(sim, sms_client, journal):
    out = contacts(3, **CONTACTS).sms.send(
        sms_client, message="hi", campaign="e2", journal=journal, ext=88, progress=False
    )
    assert (out["sms_status"] == "sent").all()
    assert (sim.deliveries()["ext"] == "88").all()


def test_ext_with_schedule_is_refused_before_anything_is_sent(sim, sms_client, journal):
    with pytest.raises(ValueError, match="extension"):
        schedule(contacts(2, **CONTACTS), sms_client, journal, at=later(), ext="12")
    assert sum(sim.requests.values()) == sim.requests["wsdl"]


def test_rerun_of_a_scheduled_campaign_schedules_nothing_twice(sim, sms_client, journal):
    df = contacts(40, **CONTACTS)
    sim.inject("SendTimer", "drop-after", times=1)
    first = schedule(df, sms_client, journal, at=later(), chunk_size=10, workers=1)
    assert (first["sms_status"] == "unknown").sum() == 10
    second = schedule(df, sms_client, journal, at=later(), chunk_size=10)
    assert len(sim.deliveries()) == 40
    assert not sim.deliveries()["phone"].duplicated().any()
    pd.testing.assert_series_equal(first["sms_status"], second["sms_status"])
