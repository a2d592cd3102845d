"""Billing by parts, atomic refusals, batch Ids and the delivery log."""

from __future__ import annotations

import time

import pandas as pd
import pytest

pytestmark = pytest.mark.timeout(30)

A, B, C, D = "13800138000", "13912345678", "15000000001", "18600000002"
TS = 1_764_000_000


def balance(sim, account_id=101):
    return sim.balance(account_id)


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (69, 1), (70, 1), (71, 2), (100, 2), (134, 2), (135, 3), (200, 3), (201, 3)],
)
@pytest.mark.parametrize("char", ["x", "短", "😀"], ids=["ascii", "chinese", "emoji"])
def test_cost_is_parts_times_accepted_numbers(sim, service, auth, length, parts, char):
    message = char * length
    answer = service.SendMessage(*auth, message, f"{A};bad;{B};{C}", TS)
    assert (answer.State, answer.FailPhone) == (1, "bad")
    assert balance(sim) == {"Balance": 1000 - 3 * parts, "Sended": 3 * parts, "Totaled": 1000}
    state = service.GetBalance(*auth)
    assert (state.Balance, state.Sended, state.Totaled) == (1000 - 3 * parts, 3 * parts, 1000)
    log = sim.deliveries()
    assert log.message.tolist() == [message] * 3  # stored intact, emoji included


@pytest.mark.parametrize("operation", ["SendMessage", "SendTimer", "SendMessageExt"])
def test_every_send_operation_bills_by_parts(sim, service, auth, operation):
    message = "y" * 150  # 3 parts
    args = {
        "SendMessage": (message, f"{A};{B}", TS),
        "SendTimer": (message, f"{A};{B}", "2099-01-01 08:00:00", TS),
        "SendMessageExt": (message, f"{A};{B}", TS, "12"),
    }[operation]
    assert getattr(service, operation)(*auth, *args).State == 1
    assert balance(sim) == {"Balance": 994, "Sended": 6, "Totaled": 1000}


def test_sended_accumulates_over_calls(sim, service, auth):
    service.SendMessage(*auth, "a", A, TS)  # 1
    service.SendMessage(*auth, "b" * 71, f"{A};{B}", TS)  # 4
    service.SendMessage(*auth, "c" * 201, f"{A};{B};{C};{D}", TS + 1)  # 12
    assert balance(sim) == {"Balance": 983, "Sended": 17, "Totaled": 1000}
    assert len(sim.deliveries()) == 7


def test_repeated_number_in_one_call_is_delivered_and_charged_per_occurrence(sim, service, auth):
    answer = service.SendMessage(*auth, "z" * 80, f"{A};{A};{B};{A}", TS)
    assert answer.State == 1
    log = sim.deliveries()
    assert log.phone.tolist() == [A, A, B, A]
    assert balance(sim) == {"Balance": 992, "Sended": 8, "Totaled": 1000}


def test_a_repeated_call_is_delivered_and_charged_again_in_the_same_batch(sim, service, auth):
    first = service.SendMessage(*auth, "again", f"{A};{B}", TS)
    second = service.SendMessage(*auth, "again", f"{A};{B}", TS)
    assert first.State == second.State == 1
    assert first.Id == second.Id
    log = sim.deliveries()
    assert log.phone.tolist() == [A, B, A, B]
    assert set(log.batch_id) == {first.Id}
    assert balance(sim) == {"Balance": 996, "Sended": 4, "Totaled": 1000}


# -- -8 is atomic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("funds", "message", "phone"),
    [
        (5, "hi", ";".join([A, B, C, D, A, B])),  # 6 numbers x 1 part > 5
        (5, "h" * 71, f"{A};{B};{C}"),  # 3 numbers x 2 parts = 6 > 5: parts count, not numbers
        (5, "h" * 135, f"{A};{B}"),  # 2 x 3 = 6 > 5
        (0, "hi", A),
        (5, "hi", ";".join([A, B, C, D, A, B, "bad"])),  # partial: 6 good numbers still cost 6
    ],
)
def test_insufficient_balance_charges_and_delivers_nothing(sim, service, funds, message, phone):
    sim.add_account(200, "small", "pw", funds)
    answer = service.SendMessage(200, "small", "pw", message, phone, TS)
    assert answer.State == -8
    assert answer.Id == 0
    assert sim.deliveries().empty
    assert balance(sim, 200) == {"Balance": funds, "Sended": 0, "Totaled": funds}
    assert service.GetBalance(200, "small", "pw").Balance == funds


def test_cost_equal_to_balance_is_accepted_and_empties_it(sim, service):
    sim.add_account(200, "small", "pw", 6)
    assert service.SendMessage(200, "small", "pw", "h" * 71, f"{A};{B};{C}", TS).State == 1
    assert balance(sim, 200) == {"Balance": 0, "Sended": 6, "Totaled": 6}
    assert service.SendMessage(200, "small", "pw", "h", A, TS).State == -8
    assert len(sim.deliveries()) == 3


def test_bad_numbers_are_not_charged_so_a_partial_call_can_fit(sim, service):
    sim.add_account(200, "small", "pw", 2)
    answer = service.SendMessage(200, "small", "pw", "hi", f"{A};x;y;{B};z", TS)
    assert (answer.State, answer.FailPhone) == (1, "x;y;z")
    assert balance(sim, 200) == {"Balance": 0, "Sended": 2, "Totaled": 2}


def test_recharge_after_minus_8_lets_the_same_call_through(sim, service):
    sim.add_account(200, "small", "pw", 1)
    assert service.SendMessage(200, "small", "pw", "hi", f"{A};{B}", TS).State == -8
    sim.recharge(200, 1)
    assert service.SendMessage(200, "small", "pw", "hi", f"{A};{B}", TS).State == 1
    assert balance(sim, 200) == {"Balance": 0, "Sended": 2, "Totaled": 2}


def test_refused_calls_create_no_batch(sim, service, auth):
    """A refused call leaves no batch behind: the next accepted one gets the first Id."""
    sim.add_account(200, "small", "pw", 0)
    assert service.SendMessage(200, "small", "pw", "hi", A, TS).State == -8
    assert service.SendMessage(*auth, "hi", "bad", TS).State == -10
    assert service.SendMessage(*auth, "", A, TS).State == -5
    first = service.SendMessage(*auth, "hi", A, TS)
    _, rows = sim.store.query("SELECT id, account_id FROM batches")
    assert rows == [(first.Id, 101)]


# -- batch Id: account + Timestamp + Message -------------------------------------------------


def test_batch_id_is_shared_by_account_timestamp_and_message(sim, service, auth):
    sim.add_account(200, "other", "pw", 100)
    base = service.SendMessage(*auth, "promo", A, TS).Id
    same = service.SendMessage(*auth, "promo", B, TS).Id
    other_message = service.SendMessage(*auth, "promo!", A, TS).Id
    other_ts = service.SendMessage(*auth, "promo", A, TS + 1).Id
    other_account = service.SendMessage(200, "other", "pw", "promo", A, TS).Id
    ext = service.SendMessageExt(*auth, "promo", C, TS, "9").Id
    timer = service.SendTimer(*auth, "promo", D, "2099-01-01 00:00:00", TS).Id
    assert base > 0
    assert same == base == ext == timer
    assert len({base, other_message, other_ts, other_account}) == 4
    log = sim.deliveries()
    assert log.loc[log.account_id == 101, "batch_id"].tolist() == [
        base,
        base,
        other_message,
        other_ts,
        base,
        base,
    ]
    assert log.loc[log.account_id == 200, "batch_id"].tolist() == [other_account]


def test_batch_of_more_than_1000_numbers_split_over_calls_shares_one_id(sim, service, auth):
    sim.recharge(101, 1000)
    numbers = [f"1390000{i:04d}" for i in range(1500)]
    first = service.SendMessage(*auth, "big", ";".join(numbers[:1000]), TS)
    second = service.SendMessage(*auth, "big", ";".join(numbers[1000:]), TS)
    assert first.State == second.State == 1
    assert first.Id == second.Id
    log = sim.deliveries()
    assert len(log) == 1500
    assert log.phone.tolist() == numbers
    assert set(log.batch_id) == {first.Id}
    assert balance(sim) == {"Balance": 500, "Sended": 1500, "Totaled": 2000}


# -- the delivery log ------------------------------------------------------------------------


def test_delivery_log_has_one_row_per_number_with_the_documented_columns(sim, service, auth):
    before = pd.Timestamp.now(tz="UTC")
    answer = service.SendMessage(*auth, "您好", f"{A};bad;{B}", TS)
    after = pd.Timestamp.now(tz="UTC")
    log = sim.deliveries()
    for column in (
        "account_id",
        "batch_id",
        "phone",
        "message",
        "timestamp",
        "scheduled_for",
        "received_at",
    ):
        assert column in log.columns
    assert log.account_id.tolist() == [101, 101]
    assert log.batch_id.tolist() == [answer.Id, answer.Id]
    assert log.phone.tolist() == [A, B]
    assert log.message.tolist() == ["您好", "您好"]
    assert log.timestamp.tolist() == [TS, TS]
    assert log.scheduled_for.isna().all()
    assert str(log.received_at.dt.tz) == "Asia/Shanghai"
    slack = pd.Timedelta(seconds=1)
    assert ((log.received_at >= before - slack) & (log.received_at <= after + slack)).all()


def test_delivery_log_is_empty_with_the_same_columns_before_any_send(sim):
    log = sim.deliveries()
    assert log.empty
    assert {"account_id", "batch_id", "phone", "message", "timestamp"} <= set(log.columns)
    assert {"scheduled_for", "received_at"} <= set(log.columns)


def test_whitespace_around_numbers_is_ignored(sim, service, auth):
    answer = service.SendMessage(*auth, "hi", f" {A} ;\t{B}\n;", TS)
    assert (answer.State, answer.FailPhone) == (1, None)
    assert sim.deliveries().phone.tolist() == [A, B]


def test_deliveries_reflect_every_accepted_call_quickly(sim, service, auth):
    started = time.perf_counter()
    for i in range(20):
        assert service.SendMessage(*auth, f"m{i}", A, TS).State == 1
    elapsed = time.perf_counter() - started
    assert len(sim.deliveries()) == 20
    # 20 calls on one keep-alive connection; Nagle + delayed ACK once cost ~40 ms each
    assert elapsed < 20 * 0.02, f"{elapsed / 20 * 1000:.1f} ms a call"
