"""Ctrl-C (SIGINT, as JupyterLab's Stop sends) during a campaign: no new call after it,
the calls in flight finish and are journaled, and KeyboardInterrupt is raised again
(CampaignInterrupted, the partial result on it), so a loop over campaigns stops. A
second Ctrl-C stops the wait: the journal stays truthful and has the rest."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from frames import contacts
from truth import assert_true_to_deliveries, when

import smsframe  # noqa: F401 - registers df.sms
from smsframe import CampaignInterrupted, SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "interrupt-pw")


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Python's own SIGINT handler (KeyboardInterrupt), as in a terminal or a kernel: a
    test run started as a background job of a script inherits SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def ctrl_c(sim: Simulator, calls: int = 4) -> threading.Thread:
    """SIGINT to this process, as a terminal or Jupyter sends, once the campaign is
    sending: when the provider has had ``calls`` SendMessage requests (a timer could
    fire while a loaded machine is still planning, before the campaign began)."""
    return when(
        lambda: sim.requests["SendMessage"] >= calls, lambda: os.kill(os.getpid(), signal.SIGINT)
    )


def send(sim, url, campaign="c", rows=300, **options):
    client = SmsClient(sim.wsdl_url, *ACCOUNT)
    options = {"chunk_size": 10, "workers": 2, "progress": False, **options}
    return contacts(rows).sms.send(client, message="hi", campaign=campaign, journal=url, **options)


def test_ctrl_c_stops_cleanly_raises_and_keeps_the_partial_result(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with Simulator(latency_ms=40) as sim:
        sim.add_account(*ACCOUNT, balance=10_000)
        ctrl_c(sim)
        with pytest.raises(CampaignInterrupted, match=r"interrupted: .* rows not sent") as raised:
            send(sim, url)
        assert isinstance(raised.value, KeyboardInterrupt)  # a loop over campaigns stops too
        out = raised.value.result
        counts = out["sms_status"].value_counts()
        assert counts["sent"] > 0 and counts["skipped"] > 0
        assert counts["sent"] + counts["skipped"] == 300
        assert (out.loc[out["sms_status"] == "skipped", "sms_reason"] == "interrupted").all()
        assert_true_to_deliveries(out, sim.deliveries())
        # The journal agrees: every call has its outcome; a re-run finishes the job.
        journal = Journal(url)
        assert journal.calls("c")["outcome_at"].notna().all()
        journal.close()
        again = send(sim, url)
        assert (again["sms_status"] == "sent").all()
        assert_true_to_deliveries(again, sim.deliveries())
        assert len(sim.deliveries()) == 300


def test_ctrl_c_in_a_loop_over_campaigns_stops_the_loop(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with Simulator(latency_ms=40) as sim:
        sim.add_account(*ACCOUNT, balance=10_000)
        done = []
        ctrl_c(sim)
        with pytest.raises(KeyboardInterrupt):
            for campaign in ("first", "second", "third"):
                done.append(send(sim, url, campaign))
        assert done == []  # the first was interrupted; the others never started
        journal = Journal(url)
        assert journal.calls("second").empty and journal.calls("third").empty
        journal.close()
        assert len(sim.deliveries()) < 300


def test_a_second_ctrl_c_stops_the_wait_and_the_journal_stays_truthful(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with Simulator() as sim:
        sim.add_account(*ACCOUNT, balance=10_000)
        sim.inject("SendMessage", "delay", delay_ms=1500)  # calls in flight for 1.5 s

        def twice() -> None:  # both workers' first calls are in flight; then while waiting
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)

        when(lambda: sim.requests["SendMessage"] >= 2, twice)
        started = time.monotonic()
        with pytest.raises(CampaignInterrupted, match="not waited for") as raised:
            send(sim, url, rows=100)
        assert time.monotonic() - started < 1.4  # did not wait for the calls in flight
        out = raised.value.result
        status = out["sms_status"].astype(str)
        assert set(status) == {"unknown", "skipped"}
        assert (status == "unknown").sum() == 20  # the two calls in flight
        # They finish in the background and their outcomes land in the journal.
        journal = Journal(url)
        deadline = time.monotonic() + 10
        while journal.calls("c")["outcome_at"].isna().any() and time.monotonic() < deadline:
            time.sleep(0.1)
        recorded = journal.campaign("c")
        journal.close()
        assert (recorded["status"] == "sent").all() and len(recorded) == 20
        assert set(recorded["phone"]) == set(sim.deliveries()["phone"])
        assert_true_to_deliveries(out, sim.deliveries())
