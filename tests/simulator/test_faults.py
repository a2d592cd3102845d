"""Fault injection: every fault kind, times=K, seeded probability, every operation, clearing."""

from __future__ import annotations

import contextlib
import time

import pytest
import requests
import zeep.exceptions

from smsframe.simulator import Simulator

pytestmark = pytest.mark.timeout(30)

A, B = "13800138000", "13912345678"
TS = 1_764_000_000
OPERATIONS = ("UserLogin", "UpdatePsw", "GetBalance", "SendMessage", "SendTimer", "SendMessageExt")
UNTOUCHED = {"Balance": 1000, "Sended": 0, "Totaled": 1000}


def call(service, operation):
    """One valid call of ``operation`` as account 101; the raw zeep answer."""
    account = (101, "demo", "secret")
    return {
        "UserLogin": lambda: service.UserLogin(*account),
        "UpdatePsw": lambda: service.UpdatePsw(*account, "changed"),
        "GetBalance": lambda: service.GetBalance(*account),
        "SendMessage": lambda: service.SendMessage(*account, "hi", f"{A};{B}", TS),
        "SendTimer": lambda: service.SendTimer(
            *account, "hi", f"{A};{B}", "2099-01-01 00:00:00", TS
        ),
        "SendMessageExt": lambda: service.SendMessageExt(*account, "hi", f"{A};{B}", TS, "7"),
    }[operation]()


def state(answer):
    return answer if answer is None or isinstance(answer, int) else answer.State


def healthy(answer, operation):
    return state(answer) == {"UserLogin": 101, "GetBalance": 101}.get(operation, 1)


def assert_not_processed(sim):
    assert sim.deliveries().empty
    assert sim.balance(101) == UNTOUCHED
    assert sim.store.account(101).password == "secret"


def assert_processed_once(sim, operation):
    if operation in ("SendMessage", "SendTimer", "SendMessageExt"):
        log = sim.deliveries()
        assert log.phone.tolist() == [A, B]
        assert set(log.operation) == {operation}
        assert sim.balance(101) == {"Balance": 998, "Sended": 2, "Totaled": 1000}
    elif operation == "UpdatePsw":
        assert sim.store.account(101).password == "changed"


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("fault", "code"), [("state-9", -9), ("state-100", -100)])
def test_state_faults_answer_the_code_and_process_nothing(sim, service, operation, fault, code):
    sim.inject(operation, fault)
    assert state(call(service, operation)) == code
    assert state(call(service, operation)) == code  # without times: every call until cleared
    assert_not_processed(sim)
    sim.clear_faults()
    assert healthy(call(service, operation), operation)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_null_fault_leaves_the_result_out(sim, service, raw_post, raw_result, envelope, operation):
    sim.inject(operation, "null")
    assert call(service, operation) is None
    assert_not_processed(sim)
    if operation in ("UserLogin", "GetBalance"):
        response = raw_post(sim, envelope(operation, Id=101, Name="demo", Psw="secret"))
        assert raw_result(response, operation) is None  # the Response element, no Result in it


@pytest.mark.parametrize("operation", OPERATIONS)
def test_http500_fault_raises_a_transport_error(sim, service, operation):
    sim.inject(operation, "http500", times=1)
    with pytest.raises(zeep.exceptions.TransportError) as caught:
        call(service, operation)
    assert caught.value.status_code == 500
    assert_not_processed(sim)
    assert healthy(call(service, operation), operation)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_drop_before_processing(sim, service, operation):
    sim.inject(operation, "drop-before", times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        call(service, operation)
    assert_not_processed(sim)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_drop_after_processing_delivers_and_charges_once(sim, service, operation):
    sim.inject(operation, "drop-after", times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        call(service, operation)
    assert_processed_once(sim, operation)
    password = "changed" if operation == "UpdatePsw" else "secret"
    assert service.UserLogin(101, "demo", password) == 101  # the server still answers


def test_drop_after_then_a_retry_sends_twice(sim, service):
    """The provider does not de-duplicate: the client's blind retry is a double send."""
    sim.inject("SendMessage", "drop-after", times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        call(service, "SendMessage")
    assert call(service, "SendMessage").State == 1
    assert sim.deliveries().phone.tolist() == [A, B, A, B]
    assert sim.balance(101)["Sended"] == 4


def test_delay_fault_answers_after_at_least_delay_ms(sim, service):
    sim.inject("SendMessage", "delay", delay_ms=400, times=1)
    started = time.perf_counter()
    answer = call(service, "SendMessage")
    elapsed = time.perf_counter() - started
    assert answer.State == 1
    assert elapsed >= 0.4
    started = time.perf_counter()
    assert call(service, "SendMessage").State == 1
    assert time.perf_counter() - started < 0.3  # times=1: the second call is not delayed


def test_delay_beyond_the_client_timeout_still_processes(sim, make_zeep_client, capfd):
    sim.inject("SendMessage", "delay", delay_ms=1000, times=1)
    impatient = make_zeep_client(sim, operation_timeout=0.3).service
    started = time.perf_counter()
    with pytest.raises(requests.exceptions.Timeout):
        call(impatient, "SendMessage")
    assert time.perf_counter() - started < 0.9
    deadline = time.monotonic() + 5
    while sim.deliveries().empty and time.monotonic() < deadline:
        time.sleep(0.02)
    assert_processed_once(sim, "SendMessage")
    assert impatient.UserLogin(101, "demo", "secret") == 101
    # the late answer meets a closed socket: the server shrugs, no traceback on stderr
    time.sleep(max(0.0, started + 1.2 - time.perf_counter()))
    assert "Traceback" not in capfd.readouterr().err


def test_delay_only_on_the_injected_operation(sim, service):
    sim.inject("GetBalance", "delay", delay_ms=600)
    started = time.perf_counter()
    assert service.UserLogin(101, "demo", "secret") == 101
    assert time.perf_counter() - started < 0.4
    started = time.perf_counter()
    assert service.GetBalance(101, "demo", "secret").State == 101
    assert time.perf_counter() - started >= 0.6


def test_times_k_affects_exactly_k_calls(sim, service):
    sim.inject("SendMessage", "state-9", times=3)
    states = [call(service, "SendMessage").State for _ in range(5)]
    assert states == [-9, -9, -9, 1, 1]
    assert len(sim.deliveries()) == 4  # two accepted calls of two numbers


def test_times_are_consumed_only_by_the_injected_operation(sim, service):
    sim.inject("SendMessage", "http500", times=2)
    for _ in range(3):
        assert service.UserLogin(101, "demo", "secret") == 101
        assert service.GetBalance(101, "demo", "secret").State == 101
    for _ in range(2):
        with pytest.raises(zeep.exceptions.TransportError):
            call(service, "SendMessage")
    assert call(service, "SendMessage").State == 1


def pattern(service, n=40):
    return [service.UserLogin(101, "demo", "secret") == -9 for _ in range(n)]


def test_probability_with_a_seed_is_reproducible(sim, service):
    sim.inject("UserLogin", "state-9", probability=0.5, seed=1234)
    first = pattern(service)
    sim.clear_faults()
    sim.inject("UserLogin", "state-9", probability=0.5, seed=1234)
    second = pattern(service)
    assert first == second
    assert 5 < sum(first) < 35  # a real mix, not all or nothing
    sim.clear_faults()
    sim.inject("UserLogin", "state-9", probability=0.5, seed=4321)
    assert pattern(service) != first


def test_same_seed_gives_the_same_pattern_on_another_simulator(sim, service, make_zeep_client):
    sim.inject("UserLogin", "state-9", probability=0.3, seed=99)
    expected = pattern(service)
    with Simulator() as other:
        other.add_account(101, "demo", "secret", 10)
        other.inject("UserLogin", "state-9", probability=0.3, seed=99)
        assert pattern(make_zeep_client(other).service) == expected


def test_probability_zero_and_one(sim, service):
    sim.inject("UserLogin", "state-100", probability=0.0, seed=1)
    assert not any(pattern(service, 10))
    sim.inject("GetBalance", "state-100", probability=1.0, seed=1)
    assert [service.GetBalance(101, "demo", "secret").State for _ in range(5)] == [-100] * 5


def test_probability_and_times_together(sim, service):
    sim.inject("UserLogin", "state-9", probability=0.5, seed=5, times=3)
    assert sum(pattern(service, 60)) == 3


def test_operation_none_affects_every_operation(sim, service):
    sim.inject(None, "state-9")
    for operation in OPERATIONS:
        assert state(call(service, operation)) == -9, operation
    assert_not_processed(sim)


def test_operation_none_with_times_counts_across_operations(sim, service):
    sim.inject(None, "null", times=2)
    assert call(service, "UserLogin") is None
    assert call(service, "GetBalance") is None
    assert call(service, "SendMessage").State == 1


def test_clear_faults_removes_every_rule(sim, service):
    sim.inject(None, "state-100")
    sim.inject("SendMessage", "drop-before", times=5)
    sim.inject("GetBalance", "http500", probability=1.0, seed=3)
    sim.clear_faults()
    for operation in sorted(OPERATIONS, key=lambda op: op == "UpdatePsw"):  # it changes Psw
        assert healthy(call(service, operation), operation), operation


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("SendMessage", "explode"), {}),
        (("SendSomething", "state-9"), {}),
        (("SendMessage", "delay"), {}),
        (("SendMessage", "state-9"), {"times": 0}),
        (("SendMessage", "state-9"), {"probability": 1.5}),
        (("SendMessage", "state-9"), {"probability": -0.1}),
    ],
)
def test_inject_rejects_bad_arguments(sim, service, args, kwargs):
    with pytest.raises(ValueError):
        sim.inject(*args, **kwargs)
    assert call(service, "SendMessage").State == 1  # nothing half-registered


def test_faults_do_not_break_the_next_calls_on_the_same_connection(sim, service):
    for fault in ("drop-before", "http500", "drop-after", "null", "state-9"):
        sim.inject("GetBalance", fault, times=1)
        with contextlib.suppress(
            requests.exceptions.ConnectionError, zeep.exceptions.TransportError
        ):
            service.GetBalance(101, "demo", "secret")
        assert service.GetBalance(101, "demo", "secret").State == 101, fault
