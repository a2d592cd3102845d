"""The password never shows: not in logs (zeep's and urllib3's DEBUG included), reprs,
exceptions or warnings, over a full session against the simulator."""

from __future__ import annotations

import copy
import logging
import os
import pickle
import socket
import time
import traceback
import warnings
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import zeep
from IPython.core.ultratb import VerboseTB

from smsframe.client import SmsClient
from smsframe.errors import AccountError, OutcomeUnknown, ProviderUnavailable, SmsError
from smsframe.simulator import Simulator

# ASCII letters, digits and dashes only: they read the same in XML, bytes reprs and URLs.
OLD = "OldPass-3f9a1c77e2-QZXW"
NEW = "NewPass-b41d08e6c5-JKVR"
FRAGMENTS = [OLD, NEW, "3f9a1c77e2", "b41d08e6c5"]  # a truncated leak is a leak too
PHONE = "13800138000"
NAMED_LOGGERS = ("zeep", "zeep.transports", "zeep.wsdl", "zeep.xsd", "urllib3", "requests")
NAMED_LOGGERS += ("urllib3.connectionpool", "smsframe", "smsframe.client", "smsframe.simulator")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.lines.append(self.format(record))  # message, args, exc_info and stack


@contextmanager
def everything_logged():
    """Every logger at DEBUG, into one handler on the root; warnings recorded too."""
    capture = Capture()
    root = logging.getLogger()
    names = set(logging.root.manager.loggerDict) | set(NAMED_LOGGERS)
    saved = {name: logging.getLogger(name) for name in names}
    state = {name: (lg.level, lg.disabled, lg.propagate) for name, lg in saved.items()}
    root_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for lg in saved.values():
        lg.setLevel(logging.DEBUG)
        lg.disabled, lg.propagate = False, True
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield capture, caught
    finally:
        logging.captureWarnings(False)
        root.removeHandler(capture)
        root.setLevel(root_level)
        for name, lg in saved.items():
            lg.level, lg.disabled, lg.propagate = state[name]


def exception_texts(error: BaseException) -> list[str]:
    """str, repr, args, attributes and formatted traceback of ``error`` and its whole
    chain, the traceback also with every frame's locals (``capture_locals=True``, and
    IPython's ``%xmode Verbose``, as a notebook or a debugger shows them)."""
    texts, seen, todo = [], set(), [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        texts.append("".join(traceback.format_exception(current)))
        ours = _from_smsframe(current.__traceback__)
        with_locals = traceback.StackSummary.extract(traceback.walk_tb(ours), capture_locals=True)
        texts.append("".join(with_locals.format()))
        texts.append(VerboseTB().text(type(current), current, ours))
        todo += [current.__cause__, current.__context__]
    return texts


def _from_smsframe(tb):
    """The traceback from its first frame in smsframe on: the test's own frames hold the
    test's passwords (and IPython shows the globals a line names)."""
    while tb is not None and f"{os.sep}smsframe{os.sep}" not in tb.tb_frame.f_code.co_filename:
        tb = tb.tb_next
    return tb


def leaks(texts) -> list[str]:
    return [text for text in texts if any(fragment in text for fragment in FRAGMENTS)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def full_session(sim: Simulator) -> tuple[list[object], list[BaseException]]:
    """Everything a client does; returns the objects it produced and the errors raised."""
    objects: list[object] = []
    errors: list[BaseException] = []

    def expect(error_type, action):
        with pytest.raises(error_type) as raised:
            action()
        errors.append(raised.value)

    client = SmsClient(sim.wsdl_url, 101, "demo", OLD, operation_timeout=1.0)
    objects.append(client)
    objects.append(client.login())
    objects.append(client.balance())
    objects.append(client.send("您好", [PHONE, "13912345678", "bad"], timestamp=1))
    objects.append(client.send("含违禁词", [PHONE], timestamp=2))
    objects.append(client.schedule("提醒", [PHONE], at=datetime(2035, 1, 1, 9), timestamp=3))
    at = datetime(2035, 1, 1, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    objects.append(client.schedule("提醒", [PHONE], at=at, timestamp=4))
    objects.append(client.send_ext("分机", [PHONE], ext="88", timestamp=5))
    for fault in ("state-9", "state-100", "null", "http500", "drop-before", "drop-after"):
        sim.inject("SendMessage", fault, times=1)
        try:
            objects.append(client.send("您好", [PHONE], timestamp=6))
        except SmsError as error:
            errors.append(error)
    sim.inject("GetBalance", "delay", times=1, delay_ms=1500)
    expect(OutcomeUnknown, client.balance)
    time.sleep(0.6)  # the simulator answers into the closed socket before we go on
    sim.inject("UpdatePsw", "http500", times=1)
    expect(OutcomeUnknown, lambda: client.update_password(NEW))  # with both in flight
    sim.inject("UpdatePsw", "drop-before", times=1)
    expect(OutcomeUnknown, lambda: client.update_password(NEW))

    client.update_password(NEW)
    objects.append(client.balance())
    objects.append(client.send("新密码", [PHONE], timestamp=7))
    expect(AccountError, lambda: client.update_password(NEW))  # -1: the same one again
    stale = SmsClient(sim.wsdl_url, 101, "demo", OLD)  # the old, now wrong, password
    objects.append(stale)
    expect(AccountError, stale.login)
    expect(AccountError, stale.balance)
    objects.append(stale.send("旧密码", [PHONE], timestamp=8))  # -3 as a SendResult
    expect(SmsError, lambda: client.send("x", [PHONE], timestamp=2**40))  # invalid request
    expect(TypeError, lambda: pickle.dumps(client))
    expect(TypeError, lambda: copy.deepcopy(client))
    nowhere = SmsClient(f"http://127.0.0.1:{_closed_port()}/Service.asmx?wsdl", 101, "d", NEW)
    objects.append(nowhere)
    expect(ProviderUnavailable, nowhere.login)
    sim.stop()
    expect(ProviderUnavailable, lambda: client.send("停了", [PHONE], timestamp=9))
    return objects, errors


def test_a_full_session_never_shows_a_password():
    sim = Simulator().start()
    sim.add_account(101, "demo", OLD, balance=1000)
    sim.set_keywords(["违禁词"])
    try:
        with everything_logged() as (capture, caught):
            objects, errors = full_session(sim)
    finally:
        sim.stop()

    # the capture did capture: zeep, urllib3 and the client all logged at DEBUG
    assert {"urllib3.connectionpool", "smsframe.client"} <= capture.names
    assert any(name.startswith("zeep") for name in capture.names)
    assert len(capture.lines) > 50
    assert len(errors) >= 14

    assert leaks(capture.lines) == []
    assert leaks(str(w.message) for w in caught) == []
    shown = [repr(o) for o in objects] + [str(o) for o in objects]
    shown += [repr(vars(o)) for o in objects if isinstance(o, SmsClient)]
    assert leaks(shown) == []
    for error in errors:
        assert leaks(exception_texts(error)) == [], error


def test_the_checks_above_can_see_a_leak():
    """A control: bare zeep logs whole envelopes at DEBUG, so the same capture finds OLD."""
    with Simulator() as sim:
        sim.add_account(101, "demo", OLD, balance=10)
        with everything_logged() as (capture, _):
            zeep.Client(sim.wsdl_url).service.UserLogin(101, "demo", OLD)
    assert leaks(capture.lines)
    error = OutcomeUnknown("x")
    error.__context__ = ValueError(f"<Psw>{OLD}</Psw>")
    assert leaks(exception_texts(error))

    # A call made with the password as a plain string, as the client's own calls once
    # were: the frames' locals show it.
    nowhere = SmsClient(f"http://127.0.0.1:{_closed_port()}/Service.asmx?wsdl", 101, "d", NEW)
    with pytest.raises(ProviderUnavailable) as raised:
        nowhere._call("GetBalance", Psw=str.__str__(OLD))
    texts = exception_texts(raised.value)
    assert leaks(texts[-2:-1]) and leaks(texts[-1:])  # captured locals, IPython Verbose
    assert not leaks(texts[:-2])
