"""Discoverable options: the accessor's signatures spell out every option, with the
defaults of the one options object; options are validated once, with errors that
name them; a plan is sent exactly as previewed."""

from __future__ import annotations

import dataclasses
import inspect
import time
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from frames import contacts

import smsframe  # noqa: F401  (registers df.sms)
from smsframe.accessor import SmsAccessor
from smsframe.codes import CHINA
from smsframe.options import PlanOptions, RunOptions
from smsframe.widgets import SchedulePanel

PLAN = {f.name: f.default for f in dataclasses.fields(PlanOptions)}
RUN = {f.name: f.default for f in dataclasses.fields(RunOptions)}
EXPECTED = {
    "plan": PLAN,
    "send": {**{k: v for k, v in PLAN.items() if k not in ("at", "margin")}, **RUN},
    # A schedule is not sent now: quiet hours reject its times, they do not move them.
    "schedule": {
        **{k: v for k, v in PLAN.items() if k != "at"},
        **{k: v for k, v in RUN.items() if k != "schedule_if_quiet"},
    },
}


def frame(n: int = 3) -> pd.DataFrame:
    return contacts(n, "139", name="客户{i}")


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_every_option_is_in_the_signature_with_the_options_default(method):
    parameters = inspect.signature(getattr(SmsAccessor, method)).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters.values())  # no **options
    for name, default in EXPECTED[method].items():
        assert name in parameters, (method, name)
        given = parameters[name].default
        assert given == default or (given is None and default == ()), (method, name)


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_the_docstring_documents_every_parameter(method):
    function = getattr(SmsAccessor, method)
    doc = inspect.getdoc(function)
    for heading in ("Parameters", "Returns", "Examples"):
        assert f"{heading}\n---" in doc, (method, heading)
    for name in inspect.signature(function).parameters:
        if name != "self":
            assert name in doc, (method, name)


def test_a_typo_names_the_method_the_user_called(sms_client):
    with pytest.raises(TypeError, match=r"SmsAccessor\.send\(\) got an unexpected .*'keyword'"):
        frame().sms.send(sms_client, "hi", campaign="c", keyword=["x"])


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"chunk_size": 0}, ValueError, "chunk_size must be between 1 and 1000"),
        ({"chunk_size": 1001}, ValueError, "chunk_size must be between 1 and 1000"),
        ({"chunk_size": 10.0}, TypeError, "chunk_size must be an int"),
        ({"chunk_size": True}, TypeError, "chunk_size must be an int"),
        ({"region": "XX"}, ValueError, "region must be an ISO 3166 code"),
        ({"phone": ""}, TypeError, "phone must be the name of a column"),
        ({"ext": "1", "at": "2030-01-01 09:00"}, ValueError, "extension"),
        ({"at": date(2030, 1, 1)}, TypeError, "a date without a time"),
        ({"margin": 120}, ValueError, "margin must be a timedelta"),
        ({"keywords": ["ok", ""]}, ValueError, "non-empty str"),
    ],
)
def test_a_bad_plan_option_is_refused_with_its_name(options, error, words):
    with pytest.raises(error, match=words):
        PlanOptions(**options)
    with pytest.raises(error, match=words):  # the same from the accessor
        frame().sms.plan("hi", **options)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_a_bad_run_option_is_refused_with_its_name(workers):
    with pytest.raises((ValueError, TypeError), match="workers must be"):
        RunOptions(workers=workers)


def test_options_are_frozen_and_replace_validates_again():
    options = PlanOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.chunk_size = 5  # type: ignore[misc]
    assert options.replace(chunk_size=5).chunk_size == 5
    with pytest.raises(ValueError, match="chunk_size"):
        options.replace(chunk_size=5000)


def test_keywords_from_a_file_one_per_line(tmp_path):
    words = tmp_path / "keywords.txt"
    words.write_text("# banned\n最低价\n\n免费 \n", encoding="utf-8")
    assert PlanOptions(keywords=str(words)).keywords == ("最低价", "免费")
    assert PlanOptions(keywords=words).keywords == ("最低价", "免费")
    plan = frame().assign(name=["最低价", "x", "免费"]).sms.plan("{name}", keywords=str(words))
    assert plan.rows["sms_reason"].tolist()[::2] == ["banned_keyword", "banned_keyword"]
    with pytest.raises(FileNotFoundError, match="looks like a file of keywords"):
        PlanOptions(keywords=str(tmp_path / "missing.txt"))
    assert PlanOptions(keywords="最低价").keywords == ("最低价",)  # one word is one word


def test_a_bad_option_of_the_panel_is_an_error_when_it_is_made(sms_client, journal):
    with pytest.raises(ValueError, match="chunk_size"):
        SchedulePanel(
            sms_client, frame(), message="hi", campaign="c", journal=journal, chunk_size=0
        )


def test_a_plan_is_sent_exactly_as_previewed(sim, sms_client, journal):
    contacts = frame(5)
    plan = contacts.sms.plan("您好{name}", chunk_size=2)
    contacts.loc[0, "name"] = "changed after the preview"  # the plan does not change
    out = plan.send(sms_client, campaign="c", journal=journal, progress=False)
    delivered = sim.deliveries().set_index("phone")["message"].sort_index()
    expected = plan.rows.set_index("sms_phone")["sms_message"].sort_index()
    assert delivered.to_dict() == expected.to_dict()
    assert delivered.iloc[0] == "您好客户0"
    assert len(journal.calls("c")) == len(plan.calls)  # the calls previewed
    assert out["sms_status"].tolist() == ["sent"] * 5
    assert out.index.equals(contacts.index)


def test_the_same_as_send(sim, sms_client, journal):
    a = frame(4).sms.plan("hi").send(sms_client, campaign="a", journal=journal, progress=False)
    b = frame(4).sms.send(sms_client, "hi", campaign="b", journal=journal, progress=False)
    columns = ["sms_phone", "sms_status", "sms_message", "sms_parts"]
    pd.testing.assert_frame_equal(a[columns], b[columns])


def test_a_scheduled_plan_gone_stale_is_refused_before_anything_is_sent(sim, sms_client, journal):
    soon = datetime.now(CHINA).replace(tzinfo=None) + timedelta(minutes=2, seconds=2)
    plan = frame(2).sms.plan("明早见", at=soon)
    assert plan.summary()["recipients"] == 2
    time.sleep(2.5)
    with pytest.raises(ValueError, match=r"2 rows of this plan .* plan it again"):
        plan.send(sms_client, campaign="s", journal=journal, progress=False)
    assert sim.deliveries().empty
