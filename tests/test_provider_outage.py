"""A provider that goes down mid-campaign: after a short run of calls that cannot reach
it, the campaign stops making calls within seconds, marks the rest ``skipped``
(``provider_unavailable``) and raises ProviderUnavailable with the partial result; a
re-run once it is back resumes with no number sent twice."""

from __future__ import annotations

import time

import pytest
from frames import contacts
from truth import assert_true_to_deliveries, when

import smsframe  # noqa: F401 - registers df.sms
from smsframe import ProviderUnavailable, SmsClient
from smsframe.runner import OUTAGE_AFTER
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "outage-pw")
ROWS = 3000


def send(wsdl, url, **options):
    client = SmsClient(wsdl, *ACCOUNT, operation_timeout=2)
    options = {"chunk_size": 5, "workers": 4, "progress": False, **options}
    return contacts(ROWS).sms.send(client, message="hi", campaign="c", journal=url, **options)


def check_stopped(error: ProviderUnavailable, deliveries) -> None:
    out = error.result
    assert out is not None and len(out) == ROWS
    assert "stopped answering" in str(error) and "nothing is sent twice" in str(error)
    assert_true_to_deliveries(out, deliveries)
    status = out["sms_status"].astype(str)
    assert set(status) <= {"sent", "failed", "unknown", "skipped"}
    skipped = out[status == "skipped"]
    assert len(skipped) > ROWS / 2 and (skipped["sms_reason"] == "provider_unavailable").all()
    not_reached = out[status.isin(["failed", "unknown"])]
    assert len(not_reached) <= (OUTAGE_AFTER + 4) * 5  # the calls that told it was down


def check_rerun(wsdl, url, deliveries_of) -> None:
    again = send(wsdl, url)
    deliveries = deliveries_of()
    assert_true_to_deliveries(again, deliveries)
    assert set(again["sms_status"].astype(str)) <= {"sent", "unknown"}
    assert (again["sms_status"] == "sent").sum() >= ROWS - (OUTAGE_AFTER + 4) * 5


def test_a_provider_that_goes_down_is_noticed_within_seconds(tmp_path):
    url, store = f"sqlite:///{tmp_path / 'j.sqlite'}", tmp_path / "provider.sqlite"
    sim = Simulator(store, latency_ms=5).start()
    sim.add_account(*ACCOUNT, balance=10 * ROWS)
    wsdl, port = sim.wsdl_url, sim.address[1]
    stopper = when(lambda: sim.requests["SendMessage"] >= 40, sim.stop)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as raised:
        send(wsdl, url)
    stopper.join()
    assert time.monotonic() - started < 10  # not a crawl through every remaining call
    with Simulator(store, port=port) as back:  # the provider is back, same address
        check_stopped(raised.value, back.deliveries())
        check_rerun(wsdl, url, back.deliveries)


def test_a_provider_answering_only_errors_stops_the_campaign(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with Simulator(latency_ms=5) as sim:
        sim.add_account(*ACCOUNT, balance=10 * ROWS)
        sim.inject("SendMessage", "http500", probability=None)  # every call from now on
        with pytest.raises(ProviderUnavailable) as raised:
            send(sim.wsdl_url, url)
        check_stopped(raised.value, sim.deliveries())
        unknown = raised.value.result["sms_status"] == "unknown"
        assert unknown.sum() >= OUTAGE_AFTER * 5  # HTTP 500: processed or not, nobody knows
        sim.clear_faults()
        check_rerun(sim.wsdl_url, url, sim.deliveries)
