"""SmsClient against a real Simulator over HTTP: every operation, every code, every fault."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import zeep.cache

import smsframe.client as client_module
from smsframe.client import Balance, SendResult, SmsClient
from smsframe.codes import CODES, SEND_OPERATIONS, decode
from smsframe.errors import AccountError, OutcomeUnknown, ProviderUnavailable, SmsError
from smsframe.simulator import Simulator, soap

GOOD = "13800138000"
GOOD2 = "13912345678"
UNREACHABLE = "13900000009"
KEYWORD = "违禁词"
FUTURE = datetime(2035, 6, 1, 9, 30)  # naive: China Standard Time
ACCOUNT_OPERATIONS = ("UserLogin", "UpdatePsw", "GetBalance")
_ids = itertools.count(1000)


@pytest.fixture(scope="module")
def provider():
    """One simulator for the module; every test opens its own accounts on it."""
    with Simulator() as simulator:
        simulator.set_keywords([KEYWORD])
        simulator.mark_unreachable([UNREACHABLE])
        yield simulator


@pytest.fixture(autouse=True)
def _no_faults_left(provider):
    provider.clear_faults()
    yield
    provider.clear_faults()


def open_account(provider, balance=1000, **options) -> tuple[int, str, str]:
    account_id = next(_ids)
    name, password = f"acct{account_id}", f"pw-{account_id}"
    provider.add_account(account_id, name, password, balance, **options)
    return account_id, name, password


def deliveries(provider, account_id):
    frame = provider.deliveries()
    return frame[frame.account_id == account_id]


@pytest.fixture
def account(provider):
    return open_account(provider)


@pytest.fixture
def smsclient(provider, account):
    return SmsClient(provider.wsdl_url, *account, operation_timeout=5)


def call(client: SmsClient, operation: str, **overrides):
    """Run ``operation`` through the client's public method with valid arguments."""
    args = {"message": "您好", "phones": [GOOD], "timestamp": 1_764_000_000, **overrides}
    if operation == "UserLogin":
        return client.login()
    if operation == "UpdatePsw":
        return client.update_password(overrides.get("new", "a-new-password"))
    if operation == "GetBalance":
        return client.balance()
    if operation == "SendMessage":
        return client.send(args["message"], args["phones"], timestamp=args["timestamp"])
    if operation == "SendTimer":
        at = args.get("at", FUTURE)
        return client.schedule(args["message"], args["phones"], at=at, timestamp=args["timestamp"])
    ext = args.get("ext", "12")
    return client.send_ext(args["message"], args["phones"], ext=ext, timestamp=args["timestamp"])


# -- every operation ---------------------------------------------------------------------
def test_every_operation(provider, account, smsclient):
    account_id = account[0]
    assert smsclient.login() == account_id
    assert smsclient.balance() == Balance(balance=1000, sent=0, total=1000, state=account_id)

    sent = smsclient.send("您好", [GOOD, GOOD2], timestamp=1)
    assert (sent.operation, sent.state, sent.status, sent.ok) == ("SendMessage", 1, "sent", True)
    assert sent.meaning == "accepted for sending" and sent.failed_phones == [] == sent.keywords
    assert sent.batch_id > 0

    scheduled = smsclient.schedule("提醒", GOOD, at=FUTURE, timestamp=2)  # a str of phones too
    assert (scheduled.state, scheduled.status, scheduled.meaning) == (1, "scheduled", "scheduled")

    ext = smsclient.send_ext("分机", [GOOD], ext="2024", timestamp=3)
    assert (ext.operation, ext.state, ext.status) == ("SendMessageExt", 1, "sent")
    assert len({sent.batch_id, scheduled.batch_id, ext.batch_id}) == 3

    smsclient.update_password("brand-new-pw")
    assert smsclient.balance() == Balance(balance=996, sent=4, total=1000, state=account_id)

    log = deliveries(provider, account_id)
    assert log.operation.tolist() == ["SendMessage"] * 2 + ["SendTimer", "SendMessageExt"]
    assert log.phone.tolist() == [GOOD, GOOD2, GOOD, GOOD]
    assert log.batch_id.tolist() == [sent.batch_id] * 2 + [scheduled.batch_id, ext.batch_id]
    assert log.ext.tolist()[-1] == "2024"
    assert log.message.tolist() == ["您好", "您好", "提醒", "分机"]


def test_one_batch_id_for_calls_sharing_timestamp_and_message(smsclient):
    first = smsclient.send("同一批", [GOOD], timestamp=77)
    second = smsclient.send("同一批", [GOOD2], timestamp=77)
    assert first.batch_id == second.batch_id


# -- every code of codes.py, produced by the simulator and decoded ----------------------
def recipe(operation: str, value: int) -> tuple[dict, dict, dict, str | None]:
    """How to make ``operation`` answer ``value``: account options, client overrides
    (name/password), call arguments and an injected fault."""
    account, client, args, fault = {}, {}, {}, None
    match value:
        case 1:
            pass
        case 0:
            account = {"disabled": True}
        case -2:
            client = {"name": ""}
        case -3:
            client = {"password": "not-the-password"}
        case -4:
            account = {"kind": "agent"}
        case -30:
            account = {"bound_ip": "10.1.2.3"}
        case -9:
            fault = "state-9"
        case -100:
            fault = "state-100"
        case -1 if operation == "UpdatePsw":
            args = {"new": "SAME"}  # the same password again
        case -1 if operation == "SendMessageExt":
            args = {"ext": "12a"}
        case -1:
            args = {"phones": [GOOD] * 1001}
        case -5:
            args = {"message": "  "}
        case -6:
            args = {"message": "长" * 202}
        case -7:
            args = {"phones": []}
        case -8:
            account = {"balance": 0}
        case -10:
            args = {"phones": ["12345", "+8613800138000"]}
        case -11:
            args = {"bad_datetime": "2035/06/01 09:30"}
        case -12:
            args = {"at": datetime(2020, 1, 1)}
        case -13:
            args = {"message": f"含{KEYWORD}的短信"}
        case _:
            raise LookupError(f"no recipe for {operation} {value}: add one")
    return account, client, args, fault


@pytest.mark.parametrize(("operation", "value"), sorted(CODES))
def test_every_code_is_produced_and_decoded(provider, monkeypatch, operation, value):
    account_options, client_options, args, fault = recipe(operation, value)
    balance = account_options.pop("balance", 1000)
    account_id, name, password = open_account(provider, balance, **account_options)
    if args.get("new") == "SAME":
        args["new"] = password
    if "bad_datetime" in args:  # schedule() always formats well: bend its formatter
        bad = args.pop("bad_datetime")
        monkeypatch.setattr(client_module, "china_time", lambda at: bad)
    client = SmsClient(
        provider.wsdl_url,
        account_id,
        client_options.get("name", name),
        client_options.get("password", password),
        operation_timeout=5,
    )
    if fault:
        provider.inject(operation, fault, times=1)
    before = provider.requests[operation]
    expected = decode(operation, value)

    if operation in ACCOUNT_OPERATIONS:
        if value == 1:
            answer = call(client, operation)
            assert answer == {"UserLogin": account_id, "UpdatePsw": None}.get(
                operation, Balance(balance, 0, balance, account_id)
            )
        else:
            error = {-9: ProviderUnavailable, -100: OutcomeUnknown}.get(value, AccountError)
            with pytest.raises(error) as raised:
                call(client, operation, **args)
            if error is AccountError:
                assert (raised.value.code, raised.value.meaning) == (value, expected.en)
            assert str(value) in str(raised.value)
    elif value == -100:
        with pytest.raises(OutcomeUnknown, match="-100"):
            call(client, operation, **args)
    else:
        result = call(client, operation, **args)
        assert isinstance(result, SendResult)
        assert (result.operation, result.state) == (operation, value)
        assert (result.status, result.meaning) == (expected.status, expected.en)
        assert result.code == expected and result.ok == (value == 1)
        charged = 1000 - provider.balance(account_id)["Balance"] if balance else 0
        delivered = len(deliveries(provider, account_id))
        if value == 1:
            assert result.batch_id > 0 and (charged, delivered) == (1, 1)
        else:  # nothing accepted, nothing charged
            assert result.batch_id is None and (charged, delivered) == (0, 0)
        if value == -13:
            assert result.keywords == [KEYWORD] and result.failed_phones == []
        if value == -10:
            assert result.failed_phones == ["12345", "+8613800138000"]
    assert provider.requests[operation] == before + 1  # it went over HTTP, exactly once


@pytest.mark.parametrize("kind", ["agent", "group"])
@pytest.mark.parametrize("operation", ACCOUNT_OPERATIONS)
def test_agent_and_group_accounts_are_refused(provider, operation, kind):
    account = open_account(provider, kind=kind)
    with pytest.raises(AccountError) as raised:
        call(SmsClient(provider.wsdl_url, *account), operation)
    assert raised.value.code == -4 and "ordinary account" in str(raised.value)


def test_account_errors_say_what_to_do_next(provider):
    account_id, name, _ = open_account(provider, bound_ip="10.1.2.3")
    with pytest.raises(AccountError, match="bind this one"):
        SmsClient(provider.wsdl_url, account_id, name, f"pw-{account_id}").login()
    with pytest.raises(AccountError, match="SMSFRAME_NAME"):
        SmsClient(provider.wsdl_url, account_id, "", "x").balance()


def test_partial_failure_lists_the_bad_numbers(provider, account, smsclient):
    phones = [GOOD, UNREACHABLE, "+8613800138000", "abc", GOOD2, ""]
    result = smsclient.send("您好", phones, timestamp=5)
    assert (result.state, result.status, result.ok) == (1, "sent", True)
    assert result.failed_phones == [UNREACHABLE, "+8613800138000", "abc"]
    assert result.keywords == []
    assert deliveries(provider, account[0]).phone.tolist() == [GOOD, GOOD2]
    assert provider.balance(account[0])["Balance"] == 998


def test_update_password_then_the_client_uses_the_new_one(provider, account, smsclient):
    account_id, name, old = account
    smsclient.update_password("the-new-one")
    assert smsclient.balance().state == account_id
    assert smsclient.send("您好", [GOOD], timestamp=9).state == 1
    assert smsclient.login() == account_id
    with pytest.raises(AccountError) as raised:
        SmsClient(provider.wsdl_url, account_id, name, old).balance()
    assert raised.value.code == -3
    assert SmsClient(provider.wsdl_url, account_id, name, "the-new-one").login() == account_id


def test_a_refused_password_change_keeps_the_old_password(provider, account, smsclient):
    with pytest.raises(AccountError) as raised:
        smsclient.update_password("has space")
    assert raised.value.code == -1
    assert smsclient.login() == account[0]


# -- scheduling times ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "shanghai"),
    [
        (datetime(2031, 5, 6, 7, 8, 9), "2031-05-06 07:08:09"),  # naive = China Standard Time
        (datetime(2031, 5, 6, 7, 8, 9, 999_999), "2031-05-06 07:08:09"),
        (datetime(2031, 1, 15, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")), "2031-01-15 19:00:00"),
        (datetime(2031, 7, 15, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")), "2031-07-15 18:00:00"),
        (datetime(2031, 1, 15, 8, 30, tzinfo=ZoneInfo("America/New_York")), "2031-01-15 21:30:00"),
        (datetime(2031, 7, 4, 20, 0, tzinfo=ZoneInfo("America/New_York")), "2031-07-05 08:00:00"),
        (datetime(2031, 12, 31, 20, 0, tzinfo=UTC), "2032-01-01 04:00:00"),
    ],
)
def test_schedule_times_arrive_as_shanghai_wall_time(provider, account, smsclient, at, shanghai):
    result = smsclient.schedule("定时", [GOOD], at=at, timestamp=11)
    assert result.status == "scheduled"
    scheduled_for = deliveries(provider, account[0]).scheduled_for.iloc[-1]
    assert str(scheduled_for.tz) == "Asia/Shanghai"
    assert scheduled_for.strftime("%Y-%m-%d %H:%M:%S") == shanghai


def test_schedule_in_the_past_of_china_although_future_elsewhere(smsclient):
    # 1 hour from now in Shanghai's wall time, written as a naive time in New York's
    # wall time, is hours in the past for the provider: naive means China.
    now_new_york = datetime.now(ZoneInfo("America/New_York")).replace(tzinfo=None)
    result = smsclient.schedule("定时", [GOOD], at=now_new_york + timedelta(hours=1), timestamp=12)
    assert result.state == -12


def test_minus_11_also_through_the_raw_service(provider, account, smsclient):
    answer = smsclient.service.SendTimer(
        Id=account[0],
        Name=account[1],
        Psw=account[2],
        Message="定时",
        Phone=GOOD,
        DateTime="2035-06-01T09:30:00",
        Timestamp=13,
    )
    assert answer.State == -11
    assert (
        decode("SendTimer", answer.State).en == "the scheduled time is missing or badly formatted"
    )


# -- injected faults ---------------------------------------------------------------------
@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_minus_9_is_failed_and_safe_to_resend(provider, account, smsclient, operation):
    provider.inject(operation, "state-9", times=1)
    result = call(smsclient, operation)
    assert (result.state, result.status, result.ok) == (-9, "failed", False)
    assert result.code.resend_safe and result.code.transient
    assert deliveries(provider, account[0]).empty
    assert call(smsclient, operation).state == 1  # and the resend goes through once


@pytest.mark.parametrize("operation", ACCOUNT_OPERATIONS)
def test_minus_9_on_account_operations_is_provider_unavailable(provider, smsclient, operation):
    provider.inject(operation, "state-9", times=1)
    with pytest.raises(ProviderUnavailable, match="safe to try again"):
        call(smsclient, operation)


UNKNOWN_FAULTS = ["state-100", "null", "http500", "drop-before", "drop-after", "delay"]


@pytest.mark.parametrize("operation", ["SendMessage", "SendTimer", "SendMessageExt", "GetBalance"])
@pytest.mark.parametrize("fault", UNKNOWN_FAULTS)
def test_faults_that_leave_the_outcome_unknown(provider, account, operation, fault):
    SmsClient(provider.wsdl_url, *account, operation_timeout=10).login()  # a slow CI's grace
    client = SmsClient(provider.wsdl_url, *account, operation_timeout=0.3)
    client.service  # noqa: B018 - the WSDL is loaded (cached): the fault hits the call itself
    provider.inject(operation, fault, times=1, delay_ms=700 if fault == "delay" else 0)
    before = provider.requests[operation]
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown) as raised:
        call(client, operation)
    assert time.monotonic() - started < 1.0
    assert provider.requests[operation] == before + 1
    assert "may" in str(raised.value) or "try again" in str(raised.value)
    if operation in SEND_OPERATIONS:
        processed = fault in ("drop-after", "delay")
        log = deliveries(provider, account[0])
        assert len(log) == int(processed)  # drop-after and delay: processed all the same
        assert provider.balance(account[0])["Balance"] == 1000 - int(processed)
    if fault == "delay":  # our deadline cut it: the error says so, not "connection closed"
        assert "no answer within 0.3 s" in str(raised.value)
    if fault == "delay":  # let the simulator answer into the closed socket within this test
        time.sleep(max(0.0, 0.75 - (time.monotonic() - started)))


@pytest.mark.parametrize("operation", ["UserLogin", "UpdatePsw"])
@pytest.mark.parametrize("fault", ["state-100", "null", "http500", "drop-before", "drop-after"])
def test_faults_on_int_operations(provider, smsclient, operation, fault):
    smsclient.login()
    provider.inject(operation, fault, times=1)
    with pytest.raises(OutcomeUnknown):
        call(smsclient, operation)


def test_a_dropped_password_change_may_have_happened(provider, account, smsclient):
    account_id, name, _ = account
    provider.inject("UpdatePsw", "drop-after", times=1)
    with pytest.raises(OutcomeUnknown):
        smsclient.update_password("maybe-new")
    # the provider did change it: only the new password works now
    assert SmsClient(provider.wsdl_url, account_id, name, "maybe-new").login() == account_id


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_closed_port_is_provider_unavailable():
    client = SmsClient(f"http://127.0.0.1:{_closed_port()}/Service.asmx?wsdl", 1, "a", "b")
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="provider is up"):
        client.send("您好", [GOOD], timestamp=1)
    assert time.monotonic() - started < 2


def test_a_provider_gone_after_the_wsdl_loaded_is_provider_unavailable():
    simulator = Simulator().start()
    try:
        simulator.add_account(1, "a", "b", 100)
        client = SmsClient(simulator.wsdl_url, 1, "a", "b")
        assert client.send("您好", [GOOD], timestamp=1).state == 1
    finally:
        simulator.stop()
    for operation in ("SendMessage", "GetBalance"):
        with pytest.raises(ProviderUnavailable, match="nothing was sent"):
            call(client, operation)


def test_a_connect_timeout_is_provider_unavailable():
    """A listener whose backlog is full drops new connections' SYNs: connecting times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = f"http://127.0.0.1:{listener.getsockname()[1]}/Service.asmx"
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(listener.getsockname())
            # the WSDL is in the process-wide cache already: only the call itself connects
            zeep.cache.InMemoryCache().add(address + "?wsdl", soap.wsdl(address).encode())
            client = SmsClient(address + "?wsdl", 1, "a", "b", timeout=0.3)
            started = time.monotonic()
            with pytest.raises(ProviderUnavailable, match="timed out connecting"):
                client.login()
            assert time.monotonic() - started < 2
        finally:
            for filler in fillers:
                filler.close()


@pytest.mark.parametrize("options", [{"timeout": None}, {"operation_timeout": 0}])
def test_timeouts_are_always_set(options):
    with pytest.raises(ValueError, match="seconds"):
        SmsClient("http://127.0.0.1:9/Service.asmx?wsdl", 1, "a", "b", **options)


# -- threads -----------------------------------------------------------------------------
def test_eight_threads_through_one_client(caplog):
    threads, calls = 8, 6
    with Simulator() as simulator:  # a fresh URL: the WSDL is first loaded by the threads
        simulator.add_account(7, "pool", "pool-pw", 10_000)
        client = SmsClient(simulator.wsdl_url, 7, "pool", "pool-pw")
        barrier = threading.Barrier(threads)
        results: list[SendResult] = []
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                barrier.wait()
                for i in range(calls):
                    phones = [f"138{worker:04d}{i:04d}", f"139{worker:04d}{i:04d}"]
                    results.append(client.send(f"线程{worker}", phones, timestamp=worker))
            except BaseException as error:
                errors.append(error)

        with caplog.at_level(logging.WARNING, logger="urllib3"):
            pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join(30)
        assert not errors
        assert len(results) == threads * calls
        assert all(r.state == 1 and r.failed_phones == [] for r in results)
        assert len({r.batch_id for r in results}) == threads  # one batch per worker
        log = simulator.deliveries()
        assert len(log) == threads * calls * 2
        assert log.phone.is_unique
        assert simulator.balance(7) == {"Balance": 10_000 - 96, "Sended": 96, "Totaled": 10_000}
        assert simulator.requests["SendMessage"] == threads * calls
        assert simulator.requests["wsdl"] == 1
        assert "pool is full" not in caplog.text


def test_the_wsdl_is_fetched_once_per_process():
    with Simulator() as simulator:
        simulator.add_account(1, "a", "b", 100)
        clients = [SmsClient(simulator.wsdl_url, 1, "a", "b") for _ in range(4)]
        for client in clients:
            assert client.login() == 1
        assert simulator.requests["wsdl"] == 1
        assert simulator.requests["UserLogin"] == 4


# -- from_env ----------------------------------------------------------------------------
ENV = ("SMSFRAME_WSDL", "SMSFRAME_ID", "SMSFRAME_NAME", "SMSFRAME_PASSWORD")


def test_from_env(provider, account, monkeypatch):
    for name, value in zip(ENV, (provider.wsdl_url, *map(str, account)), strict=True):
        monkeypatch.setenv(name, value)
    client = SmsClient.from_env(operation_timeout=7)
    assert (client.wsdl_url, client.account_id, client.name) == (provider.wsdl_url, *account[:2])
    assert client.login() == account[0]


@pytest.mark.parametrize("missing", [ENV, ("SMSFRAME_PASSWORD",), ("SMSFRAME_WSDL", "SMSFRAME_ID")])
def test_from_env_names_the_missing_variables(monkeypatch, missing):
    for name in ENV:
        monkeypatch.setenv(name, "1")
    for name in missing:
        monkeypatch.delenv(name)
    with pytest.raises(SmsError) as raised:
        SmsClient.from_env()
    for name in ENV:
        assert (name in str(raised.value)) == (name in missing)


def test_from_env_treats_an_empty_variable_as_missing(monkeypatch):
    for name in ENV:
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("SMSFRAME_NAME", "")
    with pytest.raises(SmsError, match="SMSFRAME_NAME"):
        SmsClient.from_env()


def test_from_env_wants_an_integer_id(monkeypatch):
    for name in ENV:
        monkeypatch.setenv(name, "hunter2-secret")
    with pytest.raises(SmsError, match="SMSFRAME_ID") as raised:
        SmsClient.from_env()
    assert "hunter2" not in str(raised.value)


# -- arguments checked before anything is sent -----------------------------------------
@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda c: c.send("x", [GOOD], timestamp=-1), ValueError),
        (lambda c: c.send("x", [GOOD], timestamp=True), ValueError),
        (lambda c: c.send("x", [GOOD], timestamp=1.5), ValueError),
        (lambda c: c.send(b"x", [GOOD], timestamp=1), TypeError),
        (lambda c: c.schedule("x", [GOOD], at="2035-01-01 09:00:00", timestamp=1), TypeError),
        (lambda c: c.update_password(" "), ValueError),
        (lambda c: c.send("x", [GOOD], timestamp=2**31), SmsError),  # Timestamp is an int
    ],
)
def test_bad_arguments_never_reach_the_provider(provider, smsclient, action, error):
    smsclient.login()
    before = sum(provider.requests.values())
    with pytest.raises(error):
        action(smsclient)
    assert sum(provider.requests.values()) == before


def test_a_client_is_not_picklable(smsclient):
    import pickle

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(smsclient)


def test_the_internals_we_rely_on_are_still_there(provider, smsclient):
    """client.py overrides zeep's Transport._load_remote_data, reads its ServiceProxy's
    _binding_options and fills requests' Response._content: a new zeep or requests that
    changes them must fail here, not silently bypass the bounds and host checks."""
    import inspect

    import requests
    import zeep

    assert list(inspect.signature(zeep.Transport._load_remote_data).parameters) == [
        "self",
        "url",
    ]
    assert "_load_remote_data" in inspect.getsource(zeep.Transport.load)
    assert smsclient.service._binding_options["address"] == provider.url
    assert "_content" in vars(requests.Response())
    assert "_content" in inspect.getsource(requests.Response.content.fget)
