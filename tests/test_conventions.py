"""Result frames follow pandas' conventions: the statuses a kind of frame can hold, one
text dtype, one time zone, no private columns, readable tables with units."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from frames import contacts

import smsframe  # noqa: F401  (registers df.sms)
from smsframe.codes import CHINA


def mixed() -> pd.DataFrame:
    """Three contacts, the second with no phone number (rejected)."""
    return contacts(3, name=["王伟", "李娜", "张敏"], phone=["13800138000", "hello", "13900139000"])


@pytest.fixture
def sent(sms_client, journal) -> pd.DataFrame:
    return mixed().sms.send(sms_client, "您好{name}", campaign="c", journal=journal, progress=False)


@pytest.fixture
def scheduled(sms_client, journal) -> pd.DataFrame:
    at = pd.Timestamp.now(tz=CHINA) + timedelta(days=1)
    return mixed().sms.schedule(
        sms_client, "明早见", at=at, campaign="s", journal=journal, progress=False
    )


def test_statuses_are_those_the_kind_of_frame_can_hold(sent, scheduled):
    assert list(sent["sms_status"].cat.categories) == [
        "sent",
        "failed",
        "rejected",
        "unknown",
        "skipped",
    ]
    assert list(scheduled["sms_status"].cat.categories) == [
        "scheduled",
        "failed",
        "rejected",
        "unknown",
        "skipped",
    ]
    plan = mixed().sms.plan("hi")
    assert list(plan.rows["sms_status"].cat.categories) == ["pending", "rejected"]
    assert "pending" not in sent["sms_status"].value_counts().index


def test_text_columns_share_one_dtype(sent):
    text = ["name", "sms_phone", "sms_message", "sms_detail"]
    assert len({str(sent[column].dtype) for column in text}) == 1
    plan = mixed().sms.plan("hi")
    assert str(plan.rows["sms_detail"].dtype) == str(plan.rows["sms_message"].dtype)


def test_every_time_is_in_china_time(scheduled):
    for column in ("sms_sent_at", "sms_scheduled_for"):
        assert str(scheduled[column].dt.tz) == "Asia/Shanghai", column


def test_an_audit_shows_no_private_columns(sent):
    audit = sent.sms.audit()
    assert not [column for column in audit.rows.columns if column.startswith("_")]
    assert len(audit.rows) == len(sent)


def test_a_call_table_reads_from_what_a_person_looks_for(sent):
    calls = mixed().sms.plan("hi").calls
    assert list(calls.columns[:5]) == ["operation", "message", "recipients", "parts", "cost"]
    assert list(calls.columns[-2:]) == ["group_key", "message_hash"]


def test_the_plans_html_gives_units():
    html = mixed().sms.plan("hi")._repr_html_()
    assert "messages charged at most" in html and "SMS parts per message" in html
