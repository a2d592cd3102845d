"""Every fault of the provider during a campaign: no row lost, every outcome as
codes.py says, no silent resend, and the frame agrees with the journal."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from frames import contacts

import smsframe  # noqa: F401 - registers df.sms
from smsframe import OutcomeUnknown, ProviderUnavailable, SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "faults-pw")
CAMPAIGN_OPERATIONS = ["SendMessage", "SendTimer", "SendMessageExt"]

pytestmark = pytest.mark.sim(ACCOUNT, balance=1_000_000)


def run(df, client, journal, operation, **options):
    options = {
        "message": "hi",
        "campaign": "f",
        "journal": journal,
        "progress": False,
        "chunk_size": 10,
        "workers": 1,
        **options,
    }
    if operation == "SendTimer":
        return df.sms.schedule(client, at="2031-06-01 10:00", **options)
    if operation == "SendMessageExt":
        return df.sms.send(client, ext="66", **options)
    return df.sms.send(client, **options)


def check_consistency(out: pd.DataFrame, sim: Simulator, journal: Journal) -> None:
    """No row lost, nothing delivered twice, sent rows delivered, frame == journal."""
    done = {"sent", "scheduled"}
    assert out["sms_status"].notna().all()
    assert not out["sms_status"].isin(["pending"]).any()
    deliveries = sim.deliveries()
    assert not deliveries["phone"].duplicated().any(), "a number was delivered twice"
    delivered = out["sms_phone"].isin(deliveries["phone"])
    assert delivered[out["sms_status"].isin(done)].all()
    assert not delivered[out["sms_status"] == "failed"].any()
    recorded = journal.campaign("f").set_index("phone")
    pending = out[out["sms_status"] != "rejected"]
    assert recorded.loc[pending["sms_phone"], "status"].tolist() == (
        pending["sms_status"].astype(str).tolist()
    )


EXPECTED = {
    # fault -> (status of the faulted call's rows, was it processed by the provider?)
    "state-9": ("done", True),  # retried (resend is safe), then accepted
    "state-100": ("unknown", False),
    "null": ("unknown", False),
    "http500": ("unknown", False),
    "drop-before": ("unknown", False),
    "drop-after": ("unknown", True),
    "delay": ("unknown", True),
}


@pytest.mark.parametrize("operation", CAMPAIGN_OPERATIONS)
@pytest.mark.parametrize("fault", list(EXPECTED))
def test_one_fault_on_a_send_operation(sim, make_sms_client, journal, operation, fault):
    client = make_sms_client(operation_timeout=0.5 if fault == "delay" else 10)
    sim.inject(operation, fault, times=1, delay_ms=1200 if fault == "delay" else 0)
    df = contacts(30, "158")
    out = run(df, client, journal, operation)
    status, processed = EXPECTED[fault]
    done = "scheduled" if operation == "SendTimer" else "sent"
    faulted = out.iloc[:10]
    assert (faulted["sms_status"] == (done if status == "done" else status)).all()
    assert (out.iloc[10:]["sms_status"] == done).all()
    assert len(sim.deliveries()) == (30 if processed else 20)
    if status == "unknown":
        assert (faulted["sms_reason"] == "outcome_unknown").all()
        assert faulted["sms_detail"].str.contains("may").all()
    check_consistency(out, sim, journal)
    # A re-run sends nothing new: unknown stays unknown until the user says otherwise.
    calls = sim.requests[operation]
    again = run(df, client, journal, operation)
    assert sim.requests[operation] == calls
    pd.testing.assert_series_equal(again["sms_status"], out["sms_status"])


@pytest.mark.parametrize("fault", list(EXPECTED))
def test_a_fault_before_sending_is_a_clear_exception_and_nothing_is_sent(
    sim, make_sms_client, journal, fault
):
    # Only the delay needs a short deadline; the others get a slow machine's grace.
    client = make_sms_client(operation_timeout=0.5 if fault == "delay" else 10)
    # A campaign checks the account with one GetBalance (it answers the account ID, as
    # UserLogin does), then sends: a fault there stops it before anything is sent.
    sim.inject("GetBalance", fault, delay_ms=1200 if fault == "delay" else 0)
    error = ProviderUnavailable if fault == "state-9" else OutcomeUnknown
    with pytest.raises(error) as raised:
        run(contacts(5, "158"), client, journal, "SendMessage")
    assert "try again" in str(raised.value) or "may" in str(raised.value)
    assert sim.requests["SendMessage"] == 0 and sim.requests["UserLogin"] == 0
    assert sim.deliveries().empty


def test_a_fault_on_the_closing_balance_loses_nothing(journal):
    with Simulator(latency_ms=20) as sim:
        sim.add_account(*ACCOUNT, balance=1000)
        client = SmsClient(sim.wsdl_url, *ACCOUNT)

        def break_balance_once_sending():  # the pre-flight balance is read by then
            while sim.requests["SendMessage"] == 0:
                time.sleep(0.002)
            sim.inject("GetBalance", "http500")

        watcher = threading.Thread(target=break_balance_once_sending)
        watcher.start()
        out = run(contacts(30, "158"), client, journal, "SendMessage")
        watcher.join()
        assert (out["sms_status"] == "sent").all()
        check_consistency(out, sim, journal)
        campaign = journal.campaigns().set_index("name").loc["f"]
        assert campaign["balance_before"] == 1000 and pd.isna(campaign["balance_after"])


@pytest.mark.parametrize("seed", [11, 12])
def test_every_fault_mixed_at_random_over_a_whole_campaign(sim, make_sms_client, journal, seed):
    client = make_sms_client(operation_timeout=0.5)
    for index, fault in enumerate(EXPECTED):
        sim.inject(
            "SendMessage",
            fault,
            probability=0.04,
            seed=seed * 100 + index,
            delay_ms=800 if fault == "delay" else 0,
        )
    df = contacts(1500, "158")
    out = run(df, client, journal, "SendMessage", workers=4, chunk_size=20)
    statuses = set(out["sms_status"].astype(str))
    assert "unknown" in statuses and "sent" in statuses
    assert statuses <= {"sent", "unknown", "failed"}
    check_consistency(out, sim, journal)
    unknown = out["sms_status"] == "unknown"
    assert (out.loc[unknown, "sms_reason"] == "outcome_unknown").all()
    failed = out["sms_status"] == "failed"  # -9 three times in a row: safe to resend
    assert out.loc[failed, "sms_state"].eq(-9).all()

    # Re-run without faults: only the failed-but-safe rows go out; unknown ones never.
    sim.clear_faults()
    client = make_sms_client(operation_timeout=10)  # no delays left: a slow CI's grace
    before = len(sim.deliveries())
    again = run(df, client, journal, "SendMessage", workers=4, chunk_size=20)
    assert len(sim.deliveries()) == before + int(failed.sum())
    assert (again.loc[unknown, "sms_status"] == "unknown").all()
    assert (again.loc[~unknown, "sms_status"] == "sent").all()
    check_consistency(again, sim, journal)
