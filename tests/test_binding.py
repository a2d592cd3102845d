"""Campaigns that tell the truth: a campaign's name is bound to what it sends, the
result shows what the journal recorded for every row it knows, the journal is one per
user, the journal alone audits every row, and input columns are never overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta

import pandas as pd
import pytest
from frames import contacts

import smsframe
from smsframe import CampaignMismatch, SmsClient
from smsframe.codes import CHINA
from smsframe.demo import MESSAGE
from smsframe.journal import Journal, default_url
from smsframe.sample import contacts as demo_contacts
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "binding-pw")
OLD, NEW = "{name}您好，满200减30，回T退订", "{name}您好，满300减50，回T退订"
CONTACTS = {"prefix": "139", "name": "客户{i}"}  # frames.contacts: 客户0, 13900000000, ...

pytestmark = pytest.mark.sim(ACCOUNT, (102, "other", "binding-pw"), balance=100_000)


def send(frame, client, message, url, **options):
    return frame.sms.send(
        client, message=message, campaign="nov", journal=url, progress=False, **options
    )


def assert_matches_deliveries(out: pd.DataFrame, sim: Simulator) -> None:
    """Row by row, the frame shows what the provider holds: its text and its time."""
    delivered = sim.deliveries().set_index("phone")
    assert delivered.index.is_unique
    done = out[out["sms_status"].isin(["sent", "scheduled"])]
    assert set(done["sms_phone"]) == set(delivered.index)
    held = delivered.loc[done["sms_phone"]]
    assert done["sms_message"].tolist() == held["message"].tolist()
    if "sms_scheduled_for" in out:
        assert list(done["sms_scheduled_for"]) == list(held["scheduled_for"])


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'journal.sqlite'}"


def test_a_corrected_message_under_the_same_name_is_refused_before_any_call(sim, sms_client, url):
    send(contacts(5, **CONTACTS), sms_client, OLD, url)
    calls = sim.requests["SendMessage"]
    with pytest.raises(CampaignMismatch) as refused:
        send(contacts(5, **CONTACTS), sms_client, NEW, url)
    message = str(refused.value)
    assert OLD in message and NEW in message
    assert "new campaign name" in message and "extend=True" in message
    assert "Nothing was sent" in message
    assert sim.requests["SendMessage"] == calls


def test_extend_sends_the_new_content_only_to_rows_never_attempted(sim, sms_client, url):
    send(contacts(5, **CONTACTS), sms_client, OLD, url)
    out = send(contacts(8, **CONTACTS), sms_client, NEW, url, extend=True)  # three new contacts
    assert (out["sms_status"] == "sent").all()
    assert out["sms_message"].iloc[:5].str.contains("满200减30").all()  # what they got
    assert out["sms_message"].iloc[5:].str.contains("满300减50").all()
    assert_matches_deliveries(out, sim)


def test_new_rows_with_the_same_content_extend_the_campaign(sim, sms_client, url):
    send(contacts(5, **CONTACTS), sms_client, OLD, url)
    out = send(contacts(8, **CONTACTS), sms_client, OLD, url)
    assert (out["sms_status"] == "sent").all()
    assert len(sim.deliveries()) == 8
    assert_matches_deliveries(out, sim)


def test_a_row_whose_rendered_text_changed_is_refused_and_named(sim, sms_client, url):
    send(contacts(5, **CONTACTS), sms_client, OLD, url)
    renamed = contacts(5, **CONTACTS)
    renamed.loc[2, "name"] = "王伟"
    with pytest.raises(CampaignMismatch, match=r"1 row\(s\) it attempted .*13900000002"):
        send(renamed, sms_client, OLD, url)


def test_another_account_under_the_same_name_is_refused(sim, sms_client, url):
    send(contacts(3, **CONTACTS), sms_client, OLD, url)
    other = SmsClient(sim.wsdl_url, 102, "other", "binding-pw")
    with pytest.raises(CampaignMismatch, match="account 101 then, 102 now"):
        send(contacts(3, **CONTACTS), other, OLD, url)


def test_a_rescheduled_campaign_with_a_new_text_shows_what_the_provider_holds(sim, sms_client, url):
    first_at, later_at = datetime(2031, 1, 1, 9), datetime(2032, 2, 2, 10)
    frame = contacts(4, **CONTACTS)
    options = dict(campaign="jan", journal=url, progress=False)
    first = frame.sms.schedule(sms_client, message="九点开抢", at=first_at, **options)
    with pytest.raises(CampaignMismatch, match=r"九点开抢.*改成十点开抢"):
        frame.sms.schedule(sms_client, message="改成十点开抢", at=later_at, **options)
    out = frame.sms.schedule(
        sms_client, message="改成十点开抢", at=later_at, extend=True, **options
    )
    assert (out["sms_status"] == "scheduled").all()
    assert (out["sms_message"] == "九点开抢").all()
    assert (out["sms_scheduled_for"] == pd.Timestamp(first_at, tz=CHINA)).all()
    pd.testing.assert_series_equal(out["sms_batch_id"], first["sms_batch_id"])
    assert_matches_deliveries(out, sim)


def test_a_preflight_rule_added_on_a_rerun_does_not_relabel_rows_that_went_out(
    sim, sms_client, url
):
    first = send(contacts(6, **CONTACTS), sms_client, OLD, url)
    assert (first["sms_status"] == "sent").all()
    again = send(
        contacts(6, **CONTACTS), sms_client, OLD, url, keywords=["满200"]
    )  # would reject them now
    assert (again["sms_status"] == "sent").all()
    assert again["sms_reason"].isna().all()
    pd.testing.assert_series_equal(again["sms_batch_id"], first["sms_batch_id"])
    assert_matches_deliveries(again, sim)


def test_a_scheduled_campaign_rerun_later_keeps_its_scheduled_rows(sim, sms_client, url):
    at = datetime.now(CHINA).replace(tzinfo=None, microsecond=0) + timedelta(hours=2)
    options = dict(message="两小时后开抢", at=at, campaign="soon", journal=url, progress=False)
    first = contacts(3, **CONTACTS).sms.schedule(sms_client, **options)
    assert (first["sms_status"] == "scheduled").all()
    # Later, closer to the time than the margin: new rows would be schedule_too_soon.
    again = contacts(3, **CONTACTS).sms.schedule(sms_client, margin=timedelta(hours=3), **options)
    assert (again["sms_status"] == "scheduled").all()
    assert again["sms_reason"].isna().all()


def test_input_columns_named_like_outputs_are_refused_before_anything_runs(sim, sms_client, url):
    out = send(contacts(3, **CONTACTS), sms_client, OLD, url)
    calls = sim.requests["SendMessage"]
    for frame in (out, contacts(3, **CONTACTS).assign(sms_message="mine")):
        for run in (
            lambda f: f.sms.plan(message=OLD),
            lambda f: f.sms.normalize(),
            lambda f: send(f, sms_client, OLD, url),
        ):
            with pytest.raises(ValueError, match="rename or drop them first"):
                run(frame)
    assert sim.requests["SendMessage"] == calls


SEND_HERE = textwrap.dedent(
    """
    import sys
    import pandas as pd
    import smsframe
    from smsframe import SmsClient

    df = pd.DataFrame({"phone": ["13900000001", "13900000002"]})
    client = SmsClient(sys.argv[1], 101, "demo", "binding-pw")
    out = df.sms.send(client, message="hi", campaign="two-folders", progress=False)
    print(out["sms_status"].astype(str).tolist())
    """
)


def test_two_working_directories_share_one_journal_by_default(sim, tmp_path):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        done = subprocess.run(
            [sys.executable, "-c", SEND_HERE, sim.wsdl_url],
            cwd=tmp_path / folder,
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == "['sent', 'sent']"
        assert not list((tmp_path / folder).iterdir())  # nothing in the working directory
    assert len(sim.deliveries()) == 2  # the second folder sent nothing again
    assert default_url().startswith(f"sqlite:///{os.environ['XDG_DATA_HOME']}")
    listed = subprocess.run(
        [sys.executable, "-m", "smsframe.cli", "campaigns"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"journal: {default_url()}" in listed and "two-folders" in listed


def test_the_journal_is_a_url_or_a_path_and_smsframe_journal_chooses_it(tmp_path, monkeypatch):
    path = tmp_path / "team.sqlite"
    monkeypatch.setenv("SMSFRAME_JOURNAL", str(path))
    assert default_url() == f"sqlite:///{path}"
    Journal().close()
    assert path.is_file()
    monkeypatch.chdir(tmp_path)
    assert Journal("relative.sqlite").url == f"sqlite:///{tmp_path / 'relative.sqlite'}"


def test_the_journal_alone_audits_every_row_of_the_demo_campaign(tmp_path):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    with Simulator() as sim:
        sim.add_account(*ACCOUNT, balance=10_000)
        client = SmsClient(sim.wsdl_url, *ACCOUNT)
        out = demo_contacts().sms.send(
            client, message=MESSAGE, campaign="demo", journal=url, progress=False
        )
    from_frame, from_journal = out.sms.audit(), smsframe.audit(url, "demo")
    assert (out["sms_status"] == "rejected").sum() > 0
    pd.testing.assert_frame_equal(from_journal.to_frame("status"), from_frame.to_frame("status"))
    columns = ["status", "reason", "count"]
    pd.testing.assert_frame_equal(
        from_journal.to_frame("reasons")[columns].reset_index(drop=True),
        from_frame.to_frame("reasons")[columns].reset_index(drop=True),
    )
