"""Errors that are the user's are short: raised from the call the user made, with the
message saying what to change; smsframe's own failures keep their whole traceback."""

from __future__ import annotations

import traceback

import pandas as pd
import pytest
from frames import contacts

import smsframe
from smsframe import phones
from smsframe.errors import InvalidType, InvalidValue, MissingColumn, UsageError


def lines_of(error: BaseException) -> list[str]:
    return "".join(traceback.format_exception(error)).splitlines()


def frames_of(error: BaseException) -> list[str]:
    return [summary.filename for summary in traceback.extract_tb(error.__traceback__)]


def raised(call) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


USER_ERRORS = {
    "template typo": lambda df: df.sms.plan("您好{nmae}"),
    "option value": lambda df: df.sms.plan("hi", chunk_size=0),
    "option type": lambda df: df.sms.plan("hi", chunk_size="100"),
    "no such column": lambda df: df.sms.plan("hi", phone="tel"),
    "bare date": lambda df: df.sms.plan("hi", at=pd.Timestamp("2030-01-01").date()),
    "normalize": lambda df: df.sms.normalize(phone="tel"),
    "render": lambda df: df.sms.render("{"),
}


@pytest.mark.parametrize("case", sorted(USER_ERRORS))
def test_a_users_error_is_raised_from_the_call_with_a_short_traceback(case):
    df = contacts(2, "139", name="客户{i}")
    error = raised(lambda: USER_ERRORS[case](df))
    assert isinstance(error, UsageError)
    assert error.__cause__ is None and error.__suppress_context__  # no chain
    assert_short(error)


def assert_short(error: BaseException) -> None:
    inside = [f for f in frames_of(error) if "/smsframe/" in f]
    assert len(inside) <= 1, inside  # the public call's line, not smsframe's insides
    shown = [line for line in lines_of(error) if "/smsframe/" in line]
    assert len(shown) <= 1


def test_usage_errors_are_still_the_builtin_kinds():
    assert issubclass(InvalidValue, ValueError) and issubclass(InvalidType, TypeError)
    assert issubclass(MissingColumn, KeyError)
    assert str(MissingColumn("no column 'x'")) == "no column 'x'"  # not KeyError's quotes


def test_a_template_typo_names_the_users_columns_and_the_likely_one():
    df = contacts(2, "139", name="客户{i}", city=["北京"])
    error = raised(lambda: df.sms.plan("您好{nmae}"))
    message = str(error)
    assert "did you mean {name}?" in message
    assert "['name', 'phone', 'city']" in message
    assert "sms_" not in message  # smsframe's own columns are not the user's


def test_smsframes_own_failures_keep_their_whole_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(phones, "normalize_frame", broken)
    error = raised(lambda: contacts(2, "139").sms.plan("hi"))
    assert isinstance(error, RuntimeError)
    assert any(f.endswith("plan.py") for f in frames_of(error))  # where it happened


def test_audits_are_short_too(sim, sms_client, journal):
    out = contacts(2, "139").sms.send(
        sms_client, "hi", campaign="c", journal=journal, progress=False
    )
    error = raised(lambda: out.sms.audit(by="city"))
    assert "no column 'city'" in str(error)
    assert_short(error)
    error = raised(lambda: smsframe.audit(journal, "other"))
    assert "no campaign 'other'" in str(error)
    assert_short(error)


def test_http_500_is_said_in_words(sim, sms_client):
    sim.inject("SendMessage", "http500", times=1)
    error = raised(lambda: sms_client.send("hi", ["13900000000"], timestamp=1))
    message = str(error)
    assert "HTTP 500 (Internal Server Error)" in message
    assert "may have been processed" in message
    for raw in ("invalid XML", "b'", "Start tag"):
        assert raw not in message


def test_a_dropped_connection_is_said_in_words(sim, sms_client):
    sim.inject("SendMessage", "drop-after", times=1)
    message = str(raised(lambda: sms_client.send("hi", ["13900000000"], timestamp=1)))
    assert "closed the connection without answering" in message
    assert "RemoteDisconnected(" not in message
