"""runner.py on its own: a call table in, calls made against the simulator over
HTTP, everything journaled; retries only where a resend is safe; the stops."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from smsframe.errors import ProviderUnavailable
from smsframe.journal import campaigns_table
from smsframe.options import PlanOptions
from smsframe.plan import build
from smsframe.runner import ATTEMPTS, OUTAGE_AFTER, Call, Run, run_calls


def call_table(n: int, chunk: int = 10, message: str = "您好") -> pd.DataFrame:
    """The calls of ``n`` recipients, as a campaign hands them to the runner."""
    frame = pd.DataFrame({"phone": [f"139{i:08d}" for i in range(n)]})
    calls = build(frame, message, PlanOptions(chunk_size=chunk)).calls
    calls["resent"] = [{} for _ in range(len(calls))]
    return calls


@pytest.fixture
def run(sms_client, journal) -> Iterator[Run]:
    with journal.lease("c") as lease:
        yield Run(sms_client, journal, lease, backoff_s=0.001)


def delivered(sim) -> pd.Series:
    """Deliveries per number."""
    return sim.deliveries()["phone"].value_counts()


def test_every_call_is_made_once_and_journaled(sim, run):
    calls = call_table(45)
    stopped = run_calls(run, calls, workers=3, progress=False)
    assert not stopped.interrupted and run.stop_token == "" and run.error is None
    counts = delivered(sim)
    assert len(counts) == 45 and (counts == 1).all()
    journaled = run.journal.calls("c")
    assert len(journaled) == len(calls) == 5
    assert set(journaled["status"]) == {"sent"}
    assert sorted(record["status"] for record in run.records.values()) == ["sent"] * 5


def test_a_call_is_a_typed_record_of_the_call_table():
    calls = call_table(3)
    (call,) = Call.all_of(calls)
    assert call.numbers == ("13900000000", "13900000001", "13900000002")
    assert call.operation == "SendMessage" and call.parts == 1 and call.resent == {}
    with pytest.raises(AttributeError):
        call.message = "other"  # frozen


def test_a_transient_refusal_is_retried_and_delivered_once(sim, run):
    sim.inject("SendMessage", "state-9", times=1)
    run_calls(run, call_table(10), workers=1, progress=False)
    assert (delivered(sim) == 1).all() and len(delivered(sim)) == 10
    statuses = run.journal.calls("c")["status"].tolist()
    assert statuses == ["failed", "sent"]  # the retry takes the numbers over


def test_an_unknown_outcome_is_never_retried(sim, run):
    sim.inject("SendMessage", "state-100")
    run_calls(run, call_table(20), workers=2, progress=False)
    journaled = run.journal.calls("c")
    assert len(journaled) == 2 and set(journaled["status"]) == {"unknown"}
    assert run.stop_token == ""  # an answer: the provider is up


def test_an_account_refusal_stops_the_campaign_before_the_next_call(sim, run):
    sim.inject("SendMessage", "state-8", times=1)  # balance: account-level
    run_calls(run, call_table(50), workers=1, progress=False)
    assert run.stop_token == "campaign_stopped" and "-8" in run.stop_reason
    assert len(run.journal.calls("c")) == 1  # no call after it
    assert sim.deliveries().empty


def test_a_provider_that_is_down_stops_the_campaign_after_a_few_calls(sim, run):
    sim.inject("SendMessage", "drop-before")
    run_calls(run, call_table(100), workers=1, progress=False)
    assert run.stop_token == "provider_unavailable"
    assert isinstance(run.error, ProviderUnavailable)
    # Each answer is lost on the way (unknown: never retried); OUTAGE_AFTER in a row stop it.
    assert len(run.records) == OUTAGE_AFTER
    assert {record["status"] for record in run.records.values()} == {"unknown"}
    assert sim.deliveries().empty


def test_an_answer_resets_the_outage_count(sim, run):
    sim.inject("SendMessage", "drop-before", times=OUTAGE_AFTER - 1)
    run_calls(run, call_table(100), workers=1, progress=False)
    assert run.stop_token == ""
    statuses = run.journal.calls("c")["status"].value_counts().to_dict()
    assert statuses == {"unknown": OUTAGE_AFTER - 1, "sent": 10 - (OUTAGE_AFTER - 1)}
    assert len(delivered(sim)) == 10 * (10 - (OUTAGE_AFTER - 1))


def test_a_call_that_certainly_did_not_reach_the_provider_is_tried_again(sim, run):
    sim.inject("SendMessage", "state-9", times=ATTEMPTS)
    run_calls(run, call_table(10), workers=1, progress=False)
    journaled = run.journal.calls("c")
    assert journaled["status"].tolist() == ["failed"] * ATTEMPTS  # then it gives up
    assert bool(journaled["resend_safe"].all())  # a rerun sends them
    assert sim.deliveries().empty


def test_a_bug_in_one_call_costs_that_calls_rows_not_the_campaign(sim, run, monkeypatch):
    send = run.client.send

    def broken(message, numbers, **options):
        if "13900000010" in numbers:
            raise RuntimeError("a bug")
        return send(message, numbers, **options)

    monkeypatch.setattr(run.client, "send", broken)
    run_calls(run, call_table(30), workers=2, progress=False)
    journaled = run.journal.calls("c").set_index("numbers")["status"]
    assert sorted(journaled) == ["sent", "sent", "unknown"]  # never resent blindly
    assert len(delivered(sim)) == 20


def test_no_call_is_made_once_the_lease_is_lost(sim, sms_client, journal):
    with journal.lease("c") as lease:
        run = Run(sms_client, journal, lease)
        lease.lost.set()  # its renewal failed
        run_calls(run, call_table(20), workers=2, progress=False)
    assert run.stop_token == "lease_lost"
    assert sim.deliveries().empty and journal.calls("c").empty


def test_a_lease_taken_over_refuses_the_intent_where_it_commits(sim, sms_client, journal):
    """The process still believes it holds the lease; the journal says otherwise."""
    with journal.lease("c") as lease:
        run = Run(sms_client, journal, lease)
        with journal.engine.begin() as db:  # a colleague took the campaign over
            db.execute(
                campaigns_table.update()
                .where(campaigns_table.c.name == "c")
                .values(lease_owner="colleague:1:x")
            )
        assert lease.held()
        run_calls(run, call_table(20), workers=2, progress=False)
    assert run.stop_token == "lease_lost"
    assert sim.deliveries().empty and journal.calls("c").empty


def test_the_first_cause_of_a_stop_is_the_one_reported(run):
    run.halt("interrupted", "first")
    run.halt("campaign_stopped", "second")
    assert (run.stop_token, run.stop_reason) == ("interrupted", "first")
    assert run.stop.is_set()
