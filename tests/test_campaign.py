"""df.sms.send against the simulator over HTTP: outcomes per row, exactly once."""

from __future__ import annotations

import threading
import time
from functools import partial

import pandas as pd
import pytest
from frames import contacts

import smsframe  # noqa: F401 - registers df.sms
from smsframe import AccountError, SmsClient
from smsframe.errors import InsufficientBalance
from smsframe.journal import Journal, campaigns_table
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "campaign-pw")
# frames.contacts: contact_id 1000, 1003, ...; 客户0, 13900000000 (from ``start``), segment a/b.
CONTACTS = {
    "prefix": "139",
    "name": "客户{k}",
    "segment": ["a", "b"],
    "index": "contact_id",
    "index_start": 1000,
    "index_step": 3,
}

pytestmark = pytest.mark.sim(ACCOUNT, balance=100_000)


def send(df, client, journal, **options):
    options = {"message": "您好{name}", "campaign": "c1", "progress": False, **options}
    return df.sms.send(client, journal=journal, **options)


def test_happy_path_writes_outcomes_back_without_touching_the_input(sim, sms_client, journal):
    df = contacts(250, **CONTACTS)
    before = df.copy()
    out = send(df, sms_client, journal, message="双十一优惠", chunk_size=100)
    pd.testing.assert_frame_equal(df, before)
    assert out.index.equals(df.index)
    pd.testing.assert_frame_equal(out[df.columns], df)
    assert (out["sms_status"] == "sent").all()
    assert out["sms_state"].eq(1).all()
    # One group, one Timestamp, one batch Id, three calls of <= 100 numbers.
    assert out["sms_timestamp"].nunique() == 1
    assert out["sms_batch_id"].nunique() == 1
    deliveries = sim.deliveries()
    assert sorted(deliveries["phone"]) == sorted(df["phone"])
    assert deliveries["batch_id"].iloc[0] == out["sms_batch_id"].iloc[0]
    assert sim.requests["SendMessage"] == 3
    assert out["sms_sent_at"].notna().all()
    assert isinstance(out["sms_status"].dtype, pd.CategoricalDtype)


def test_templates_make_one_group_per_rendered_message(sim, sms_client, journal):
    df = contacts(10, **CONTACTS)
    out = send(df, sms_client, journal)
    assert (out["sms_status"] == "sent").all()
    assert out["sms_message"].tolist() == [f"您好{n}" for n in df["name"]]
    # Each rendered message is its own batch.
    assert out["sms_batch_id"].nunique() == 10
    assert set(sim.deliveries()["message"]) == set(out["sms_message"])


def test_rejected_rows_are_data_and_never_sent(sim, sms_client, journal):
    df = pd.DataFrame(
        {
            "name": list("abcde"),
            "phone": ["13900000001", "hello", None, "010-12345678", "13900000001"],
        }
    )
    out = send(df, sms_client, journal)
    assert out["sms_status"].tolist() == ["sent", "rejected", "rejected", "rejected", "rejected"]
    assert out["sms_reason"].tolist()[1:] == ["not_a_number", "empty", "not_mobile", "duplicate"]
    assert sim.deliveries()["phone"].tolist() == ["13900000001"]


def test_partial_fail_phone_fails_only_the_listed_numbers(sim, sms_client, journal):
    df = contacts(20, **CONTACTS)
    unreachable = df["phone"].iloc[[3, 7]].tolist()
    sim.mark_unreachable(unreachable)
    out = send(df, sms_client, journal, message="hi")
    failed = out[out["sms_status"] == "failed"]
    assert failed["phone"].tolist() == unreachable
    assert (failed["sms_reason"] == "fail_phone").all()
    assert (out["sms_status"] == "sent").sum() == 18
    assert set(sim.deliveries()["phone"]) == set(df["phone"]) - set(unreachable)


def test_banned_keyword_fails_the_rows_with_the_keyword_in_detail(sim, sms_client, journal):
    sim.set_keywords(["赌博"])
    out = send(contacts(4, **CONTACTS), sms_client, journal, message="赌博优惠")
    assert (out["sms_status"] == "failed").all()
    assert out["sms_state"].eq(-13).all()
    assert out["sms_detail"].str.contains("赌博").all()
    assert sim.deliveries().empty


def test_transient_minus_9_is_retried_and_then_sent(sim, sms_client, journal):
    sim.inject("SendMessage", "state-9", times=2)
    out = send(contacts(5, **CONTACTS), sms_client, journal, message="hi")
    assert (out["sms_status"] == "sent").all()
    assert len(sim.deliveries()) == 5


def test_persistent_minus_9_fails_safe_to_resend_and_a_rerun_sends_it(sim, sms_client, journal):
    sim.inject("SendMessage", "state-9")
    out = send(contacts(5, **CONTACTS), sms_client, journal, message="hi")
    assert (out["sms_status"] == "failed").all() and out["sms_state"].eq(-9).all()
    assert sim.deliveries().empty
    sim.clear_faults()
    again = send(contacts(5, **CONTACTS), sms_client, journal, message="hi")
    assert (again["sms_status"] == "sent").all()
    assert len(sim.deliveries()) == 5


def test_unreachable_provider_mid_campaign_fails_the_rows_safe_to_resend(sim, sms_client, journal):
    sim.inject("SendMessage", "drop-before")  # the provider never sees the calls ...
    out = send(contacts(3, **CONTACTS), sms_client, journal, message="hi")
    # ... but a dropped connection looks the same as after processing: unknown, never resent.
    assert (out["sms_status"] == "unknown").all()
    assert (out["sms_reason"] == "outcome_unknown").all()


def test_drop_after_is_unknown_not_resent_and_resend_unknown_resends_only_those(
    sim, sms_client, journal
):
    df = contacts(30, **CONTACTS)
    sim.inject("SendMessage", "drop-after", times=1)
    out = send(df, sms_client, journal, message="hi", chunk_size=10, workers=1)
    assert (out["sms_status"] == "unknown").sum() == 10
    assert (out["sms_status"] == "sent").sum() == 20
    assert len(sim.deliveries()) == 30  # the dropped call was processed

    rerun = send(df, sms_client, journal, message="hi", chunk_size=10)
    assert len(sim.deliveries()) == 30
    pd.testing.assert_series_equal(rerun["sms_status"], out["sms_status"])

    unknown = out.index[out["sms_status"] == "unknown"]
    resent = send(df, sms_client, journal, message="hi", chunk_size=10, resend_unknown=True)
    deliveries = sim.deliveries()
    assert len(deliveries) == 40
    twice = deliveries["phone"].value_counts()
    assert set(twice[twice == 2].index) == set(df.loc[unknown, "phone"])
    assert (resent["sms_status"] == "sent").all()


def test_rerun_sends_nothing_new_and_returns_the_recorded_outcomes(sim, sms_client, journal):
    df = contacts(120, **CONTACTS)
    first = send(df, sms_client, journal, message="hi")
    calls = sim.requests["SendMessage"]
    second = send(df, sms_client, journal, message="hi")
    assert sim.requests["SendMessage"] == calls
    assert len(sim.deliveries()) == 120
    columns = ["sms_status", "sms_state", "sms_batch_id", "sms_timestamp", "sms_reason"]
    pd.testing.assert_frame_equal(first[columns], second[columns])
    # Added rows are sent; the others are not sent again.
    grown = pd.concat([df, contacts(5, start=500, **CONTACTS).set_axis(range(1, 6))])
    third = send(grown, sms_client, journal, message="hi")
    assert (third["sms_status"] == "sent").all()
    assert len(sim.deliveries()) == 125
    assert not sim.deliveries()["phone"].duplicated().any()


def test_journal_gives_the_campaign_back_from_another_connection(
    sim, sms_client, journal, tmp_path
):
    out = send(contacts(12, **CONTACTS), sms_client, journal, message="hi")
    again = Journal(journal.url).campaign("c1")
    assert sorted(again["phone"]) == sorted(out["sms_phone"])
    assert (again["status"] == "sent").all()
    assert set(again["batch_id"]) == set(out["sms_batch_id"])


def test_insufficient_balance_raises_before_anything_is_sent(tmp_path):
    with Simulator() as sim:
        sim.add_account(*ACCOUNT, balance=5)
        client = SmsClient(sim.wsdl_url, *ACCOUNT)
        journal = Journal(f"sqlite:///{tmp_path / 'j.sqlite'}")
        with pytest.raises(InsufficientBalance) as error:
            send(contacts(10, **CONTACTS), client, journal, message="hi")
        assert (error.value.cost, error.value.balance) == (10, 5)
        assert "recharge" in str(error.value)
        assert sim.requests["SendMessage"] == 0


def test_wrong_password_raises_account_error_before_anything_is_sent(sim, journal):
    client = SmsClient(sim.wsdl_url, ACCOUNT[0], ACCOUNT[1], "wrong")
    with pytest.raises(AccountError) as error:
        send(contacts(3, **CONTACTS), client, journal, message="hi")
    assert error.value.code == -3
    assert sim.requests["SendMessage"] == 0


def send_stopped_midway(sim, journal, stop, match: str, reason: str) -> pd.Series:
    """Send 400 rows, 10 a call, one call at a time (60 ms each) while ``stop`` runs
    once the first call is delivered: the campaign stops with a warning matching
    ``match``, what was not sent comes back ``skipped`` for ``reason``. Returns the
    counts by status."""
    client = SmsClient(sim.wsdl_url, *ACCOUNT)

    def stop_once_sending() -> None:  # not on a clock: a loaded machine plans slowly
        deadline = time.monotonic() + 30
        while sim.deliveries().empty and time.monotonic() < deadline:
            time.sleep(0.01)
        stop()

    timer = threading.Thread(target=stop_once_sending)
    timer.start()
    with pytest.warns(UserWarning, match=match):
        out = send(
            contacts(400, **CONTACTS), client, journal, message="hi", chunk_size=10, workers=1
        )
    timer.join()
    counts = out["sms_status"].value_counts()
    assert counts["sent"] > 0 and counts["skipped"] > 0
    assert (out.loc[out["sms_status"] == "skipped", "sms_reason"] == reason).all()
    assert len(sim.deliveries()) == counts["sent"]
    failed = out.loc[out["sms_status"] == "failed"]
    assert failed["sms_state"].eq(0).all()  # only from the account's refusal
    return counts


def test_account_level_refusal_mid_campaign_stops_and_skips_the_rest(journal):
    with Simulator(latency_ms=60) as sim:
        sim.add_account(*ACCOUNT, balance=10_000)
        disable = partial(sim.update_account, ACCOUNT[0], disabled=True)
        counts = send_stopped_midway(sim, journal, disable, "stopped", "campaign_stopped")
        assert counts["failed"] == 10  # the one call that got the refusal
        # Once the account is fixed, a re-run sends the refused and the skipped rows.
        sim.update_account(ACCOUNT[0], disabled=False)
        client = SmsClient(sim.wsdl_url, *ACCOUNT)
        again = send(contacts(400, **CONTACTS), client, journal, message="hi", chunk_size=10)
        assert (again["sms_status"] == "sent").all()
        assert len(sim.deliveries()) == 400
        assert not sim.deliveries()["phone"].duplicated().any()


def test_a_campaign_that_loses_its_lease_stops_sending(tmp_path):
    """A process paused past its lease, or whose journal stopped answering, may have
    lost the campaign to another process: it makes no new call."""
    journal = Journal(f"sqlite:///{tmp_path / 'journal.sqlite'}")
    journal.lease_ttl = 0.9  # renewed every 0.3 s

    def take_over() -> None:
        with journal.engine.begin() as db:
            db.execute(
                campaigns_table.update()
                .where(campaigns_table.c.name == "c1")
                .values(lease_owner="elsewhere:1:other")
            )

    with Simulator(latency_ms=60) as sim:
        sim.add_account(*ACCOUNT, balance=10_000)
        counts = send_stopped_midway(sim, journal, take_over, "lost its hold on 'c1'", "lease_lost")
        assert counts["sent"] + counts["skipped"] == 400
    journal.close()
