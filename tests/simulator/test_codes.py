"""Every code of the contract (docs/provider/contract.md), through zeep over HTTP, and the
order in which they are checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

pytestmark = pytest.mark.timeout(30)

GOOD, GOOD2, GOOD3 = "13800138000", "13912345678", "15000000001"
TS = 1_764_000_000
OPERATIONS = ("UserLogin", "UpdatePsw", "GetBalance", "SendMessage", "SendTimer", "SendMessageExt")
SEND_OPERATIONS = ("SendMessage", "SendTimer", "SendMessageExt")
SHANGHAI = "Asia/Shanghai"


def shanghai_wall(offset: timedelta) -> str:
    """Now + offset as a wall time in China Standard Time, in the provider's format."""
    return (pd.Timestamp.now(tz=SHANGHAI) + offset).strftime("%Y-%m-%d %H:%M:%S")


def send(service, operation, account, message="hello", phone=GOOD, *, when=None, ext="", ts=TS):
    """One call of a send operation with otherwise valid arguments; returns the SendState."""
    if operation == "SendMessage":
        return service.SendMessage(*account, message, phone, ts)
    if operation == "SendTimer":
        when = shanghai_wall(timedelta(days=1)) if when is None else when
        return service.SendTimer(*account, message, phone, when, ts)
    assert operation == "SendMessageExt"
    return service.SendMessageExt(*account, message, phone, ts, ext)


def state_of(service, operation, account):
    """The state code of one otherwise valid call of ``operation`` made as ``account``."""
    if operation == "UserLogin":
        return service.UserLogin(*account)
    if operation == "UpdatePsw":
        return service.UpdatePsw(*account, "brand-new-pw")
    if operation == "GetBalance":
        return service.GetBalance(*account).State
    return send(service, operation, account).State


@pytest.fixture
def zoo(sim):
    """Accounts of every kind next to the ordinary 101, and one banned keyword list."""
    sim.add_account(102, "off", "pw", 100, disabled=True)
    sim.add_account(103, "agent", "pw", 100, kind="agent")
    sim.add_account(104, "group", "pw", 100, kind="group")
    sim.add_account(105, "bound", "pw", 100, bound_ip="10.9.8.7")
    sim.add_account(106, "local", "pw", 100, bound_ip="127.0.0.1")
    sim.add_account(107, "broke", "pw", 0)
    sim.add_account(108, "offagent", "pw", 100, kind="agent", disabled=True)
    sim.add_account(109, "boundagent", "pw", 100, kind="group", bound_ip="10.9.8.7")
    sim.set_keywords(["赌博", "spam"])
    return sim


def assert_nothing_sent(sim, balance_of_101=1000):
    assert sim.deliveries().empty
    assert sim.balance(101) == {"Balance": balance_of_101, "Sended": 0, "Totaled": 1000}


# -- authentication codes, for every operation ---------------------------------------------

AUTH_CASES = {
    "ok": ((101, "demo", "secret"), "ok"),
    "empty-name": ((101, "", "secret"), -2),
    "blank-name": ((101, "   ", "secret"), -2),
    "no-name": ((101, None, "secret"), -2),
    "empty-psw": ((101, "demo", ""), -2),
    "no-psw": ((101, "demo", None), -2),
    "unknown-id": ((999, "demo", "secret"), -3),
    "wrong-name": ((101, "other", "secret"), -3),
    "name-case": ((101, "DEMO", "secret"), -3),
    "wrong-psw": ((101, "demo", "Secret"), -3),
    "id-of-other": ((102, "demo", "secret"), -3),
    "disabled": ((102, "off", "pw"), 0),
    "agent": ((103, "agent", "pw"), -4),
    "group": ((104, "group", "pw"), -4),
    "unbound-ip": ((105, "bound", "pw"), -30),
    "bound-here": ((106, "local", "pw"), "ok"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", list(AUTH_CASES))
def test_authentication_codes_for_every_operation(zoo, service, operation, case):
    account, expected = AUTH_CASES[case]
    if expected == "ok":
        expected = {"UserLogin": account[0], "GetBalance": account[0]}.get(operation, 1)
    assert state_of(service, operation, account) == expected
    if expected != 1:
        assert zoo.deliveries().empty


def test_user_login_answers_the_account_id(sim, service):
    sim.add_account(4242, "second", "pw2", 5)
    assert service.UserLogin(101, "demo", "secret") == 101
    assert service.UserLogin(4242, "second", "pw2") == 4242


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("id_xml", ["", "<Id/>", '<Id xsi:nil="true"/>'])
def test_missing_id_is_minus_2(sim, raw_post, raw_result, operation, id_xml):
    """zeep refuses to omit Id (an xsd:int with minOccurs=1), so the envelope is written raw."""
    rest = {
        "UserLogin": "<Name>demo</Name><Psw>secret</Psw>",
        "UpdatePsw": "<Name>demo</Name><OldPsw>secret</OldPsw><NewPsw>n3w</NewPsw>",
        "GetBalance": "<Name>demo</Name><Psw>secret</Psw>",
        "SendMessage": "<Name>demo</Name><Psw>secret</Psw><Message>hi</Message>"
        f"<Phone>{GOOD}</Phone><Timestamp>1</Timestamp>",
        "SendTimer": "<Name>demo</Name><Psw>secret</Psw><Message>hi</Message>"
        f"<Phone>{GOOD}</Phone><DateTime>{shanghai_wall(timedelta(days=1))}</DateTime>"
        "<Timestamp>1</Timestamp>",
        "SendMessageExt": "<Name>demo</Name><Psw>secret</Psw><Message>hi</Message>"
        f"<Phone>{GOOD}</Phone><Timestamp>1</Timestamp><Ext>1</Ext>",
    }[operation]
    xml = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        f'<{operation} xmlns="http://tempuri.org/">{id_xml}{rest}</{operation}>'
        "</soap:Body></soap:Envelope>"
    )
    result = raw_result(raw_post(sim, xml, action=f"http://tempuri.org/{operation}"), operation)
    state = result["State"] if isinstance(result, dict) else result
    assert int(state) == -2
    assert_nothing_sent(sim)
    assert sim.store.account(101).password == "secret"


def test_raw_envelope_with_id_is_accepted(sim, raw_post, raw_result, envelope):
    """The control for the test above: the same raw route with Id present logs in."""
    response = raw_post(sim, envelope("UserLogin", Id=101, Name="demo", Psw="secret"))
    assert raw_result(response, "UserLogin") == 101


# -- send codes, for every send operation ------------------------------------------------


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_accepted_send_is_1_with_batch_id(sim, service, auth, operation):
    answer = send(service, operation, auth, "hello", f"{GOOD};{GOOD2}")
    assert answer.State == 1
    assert answer.Id > 0
    assert not answer.FailPhone
    log = sim.deliveries()
    assert list(log.phone) == [GOOD, GOOD2]
    assert set(log.batch_id) == {answer.Id}
    assert set(log.operation) == {operation}
    assert sim.balance(101) == {"Balance": 998, "Sended": 2, "Totaled": 1000}


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
@pytest.mark.parametrize("message", ["", "   ", "\t\n", "\u3000", None])
def test_empty_or_blank_message_is_minus_5(sim, service, auth, operation, message):
    assert send(service, operation, auth, message).State == -5
    assert_nothing_sent(sim)


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_message_over_201_characters_is_minus_6(sim, service, auth, operation):
    assert send(service, operation, auth, "x" * 202).State == -6
    assert send(service, operation, auth, "短" * 202).State == -6
    assert_nothing_sent(sim)
    assert send(service, operation, auth, "x" * 201).State == 1


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
@pytest.mark.parametrize("phone", ["", ";", ";;;", " ; ; ", None])
def test_no_number_is_minus_7(sim, service, auth, operation, phone):
    assert send(service, operation, auth, "hello", phone).State == -7
    assert_nothing_sent(sim)


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_over_1000_numbers_is_minus_1(sim, service, auth, operation):
    numbers = [f"1380000{i:04d}" for i in range(1001)]
    answer = send(service, operation, auth, "hello", ";".join(numbers))
    assert answer.State == -1
    assert answer.Id == 0
    assert_nothing_sent(sim)


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_exactly_1000_numbers_are_accepted(sim, service, auth, operation):
    numbers = [f"1380000{i:04d}" for i in range(1000)]
    answer = send(service, operation, auth, "hello", ";".join(numbers) + ";;")
    assert answer.State == 1
    assert len(sim.deliveries()) == 1000
    assert sim.balance(101)["Balance"] == 0


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_banned_keyword_is_minus_13_with_keywords_in_failphone(sim, service, auth, operation):
    sim.set_keywords(["赌博", "spam", "unused"])
    answer = send(service, operation, auth, "spam: 来赌博吧", GOOD)
    assert answer.State == -13
    assert sorted(answer.FailPhone.split(";")) == ["spam", "赌博"]
    assert_nothing_sent(sim)
    assert send(service, operation, auth, "clean text", GOOD).State == 1


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_every_number_bad_is_minus_10_with_all_in_failphone(sim, service, auth, operation):
    sim.mark_unreachable(["13900000000"])
    bad = ["+8613800138000", "010-12345678", "12800138000", "1380013800", "phone", "13900000000"]
    answer = send(service, operation, auth, "hello", ";".join(bad))
    assert answer.State == -10
    assert answer.FailPhone.split(";") == bad
    assert_nothing_sent(sim)


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_cost_over_balance_is_minus_8(sim, service, operation):
    sim.add_account(200, "small", "pw", 2)
    answer = send(service, operation, (200, "small", "pw"), "hello", f"{GOOD};{GOOD2};{GOOD3}")
    assert answer.State == -8
    assert answer.Id == 0
    assert sim.deliveries().empty
    assert sim.balance(200) == {"Balance": 2, "Sended": 0, "Totaled": 2}


@pytest.mark.parametrize("operation", SEND_OPERATIONS)
def test_partial_failphone_accepts_the_good_numbers(sim, service, auth, operation):
    sim.mark_unreachable([GOOD3])
    phone = f"{GOOD};abc;{GOOD3};;{GOOD2};+8613800138000;"
    answer = send(service, operation, auth, "hello", phone)
    assert answer.State == 1
    assert answer.FailPhone.split(";") == ["abc", GOOD3, "+8613800138000"]
    assert list(sim.deliveries().phone) == [GOOD, GOOD2]
    assert sim.balance(101) == {"Balance": 998, "Sended": 2, "Totaled": 1000}


def test_unreachable_numbers_fail_while_the_same_pattern_succeeds(sim, service, auth):
    sim.mark_unreachable(["13700000001", "13700000002"])
    answer = service.SendMessage(*auth, "hi", "13700000001;13700000003;13700000002", TS)
    assert (answer.State, answer.FailPhone) == (1, "13700000001;13700000002")
    assert list(sim.deliveries().phone) == ["13700000003"]
    only_unreachable = service.SendMessage(*auth, "hi", "13700000002", TS)
    assert (only_unreachable.State, only_unreachable.FailPhone) == (-10, "13700000002")


@pytest.mark.parametrize(
    "phone",
    ["13012345678", "13912345678", "14712345678", "15912345678", "16612345678", "19912345678"],
)
def test_valid_mainland_mobile_prefixes_are_accepted(service, auth, phone):
    assert service.SendMessage(*auth, "hi", phone, TS).State == 1


@pytest.mark.parametrize(
    "phone", ["12345678901", "10012345678", "23812345678", "138001380001", "1380013800x", "８"]
)
def test_numbers_outside_the_simple_pattern_are_bad(service, auth, phone):
    answer = service.SendMessage(*auth, "hi", phone, TS)
    assert (answer.State, answer.FailPhone) == (-10, phone)


# -- SendTimer: DateTime in China Standard Time ----------------------------------------------


def test_send_timer_schedules_at_the_wall_time_in_shanghai(sim, service, auth):
    when = shanghai_wall(timedelta(days=2, hours=3))
    answer = service.SendTimer(*auth, "later", f"{GOOD};{GOOD2}", when, TS)
    assert answer.State == 1
    log = sim.deliveries()
    expected = pd.Timestamp(when, tz=SHANGHAI)
    assert list(log.scheduled_for) == [expected, expected]
    assert str(log.scheduled_for.dt.tz) == SHANGHAI
    # charged at acceptance, like a send
    assert sim.balance(101) == {"Balance": 998, "Sended": 2, "Totaled": 1000}


def test_send_timer_reads_datetime_as_utc_plus_8_not_utc(sim, service, auth):
    """A wall time 2 minutes ahead *in UTC* is ~8 hours in the past in Shanghai: -12."""
    utc_soon = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M:%S")
    assert service.SendTimer(*auth, "x", GOOD, utc_soon, TS).State == -12
    cst_soon = shanghai_wall(timedelta(minutes=2))
    assert service.SendTimer(*auth, "x", GOOD, cst_soon, TS).State == 1
    scheduled = sim.deliveries().scheduled_for.iloc[0]
    assert scheduled.tz_convert("UTC") == pd.Timestamp(cst_soon, tz=SHANGHAI).tz_convert("UTC")
    assert abs(scheduled - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(minutes=3)


@pytest.mark.parametrize(
    "when",
    [
        "",
        "   ",
        None,
        "2030/03/08 10:20:00",
        "2030-03-08T10:20:00",
        "2030-03-08",
        "10:20:00",
        "2030-3-8 10:20:00",
        "2030-03-08 10:20",
        "2030-02-30 10:20:00",
        "2030-03-08 24:00:00",
        "2030-13-01 10:20:00",
        "2030-03-08 10:20:00+08:00",
        "tomorrow",
    ],
)
def test_send_timer_bad_datetime_is_minus_11(sim, service, auth, when):
    assert service.SendTimer(*auth, "x", GOOD, when, TS).State == -11
    assert_nothing_sent(sim)


@pytest.mark.parametrize(
    "offset", [timedelta(seconds=-1), timedelta(minutes=-1), timedelta(days=-3650)]
)
def test_send_timer_not_in_the_future_is_minus_12(sim, service, auth, offset):
    assert service.SendTimer(*auth, "x", GOOD, shanghai_wall(offset), TS).State == -12
    assert_nothing_sent(sim)


def test_send_timer_document_example_is_in_the_past(service, auth):
    assert service.SendTimer(*auth, "x", GOOD, "2010-03-08 10:20:00", TS).State == -12


def test_send_timer_takes_a_long_timestamp(sim, service, auth):
    big = 2**33
    assert service.SendTimer(*auth, "x", GOOD, shanghai_wall(timedelta(hours=1)), big).State == 1
    assert sim.deliveries().timestamp.tolist() == [big]


# -- SendMessageExt: the Ext rules -------------------------------------------------------------


@pytest.mark.parametrize("ext", ["1234567", "12a", "abc", "１２", "-1", "1 2", "12.5"])
def test_ext_not_0_to_6_digits_is_minus_1(sim, service, auth, ext):
    assert service.SendMessageExt(*auth, "x", GOOD, TS, ext).State == -1
    assert_nothing_sent(sim)


@pytest.mark.parametrize("ext", ["", "0", "123456", "007"])
def test_ext_of_0_to_6_digits_is_recorded(sim, service, auth, ext):
    answer = service.SendMessageExt(*auth, "x", f"{GOOD};{GOOD2}", TS, ext)
    assert answer.State == 1
    log = sim.deliveries()
    assert log.ext.tolist() == [ext, ext]
    assert set(log.operation) == {"SendMessageExt"}


def test_send_message_records_no_ext(sim, service, auth):
    service.SendMessage(*auth, "x", GOOD, TS)
    assert sim.deliveries().ext.isna().all()


# -- UpdatePsw -------------------------------------------------------------------------------


def test_update_psw_changes_the_password(sim, service):
    assert service.UpdatePsw(101, "demo", "secret", "n3w-secret") == 1
    assert service.UserLogin(101, "demo", "n3w-secret") == 101
    assert service.UserLogin(101, "demo", "secret") == -3
    assert service.GetBalance(101, "demo", "secret").State == -3
    assert service.SendMessage(101, "demo", "secret", "x", GOOD, TS).State == -3
    assert service.SendMessage(101, "demo", "n3w-secret", "x", GOOD, TS).State == 1
    assert service.UpdatePsw(101, "demo", "secret", "again") == -3


@pytest.mark.parametrize("new", ["secret", "has space", "tab\there", "p" * 65])
def test_update_psw_refused_is_minus_1_and_keeps_the_old(service, new):
    assert service.UpdatePsw(101, "demo", "secret", new) == -1
    assert service.UserLogin(101, "demo", "secret") == 101


@pytest.mark.parametrize("new", ["", "  ", None])
def test_update_psw_empty_new_is_minus_2(service, new):
    assert service.UpdatePsw(101, "demo", "secret", new) == -2
    assert service.UserLogin(101, "demo", "secret") == 101


def test_update_psw_touches_only_its_account(sim, service):
    sim.add_account(300, "other", "secret", 10)
    assert service.UpdatePsw(101, "demo", "secret", "changed") == 1
    assert service.UserLogin(300, "other", "secret") == 300


# -- GetBalance ------------------------------------------------------------------------------


def test_get_balance_reports_balance_sended_totaled(sim, service, auth):
    state = service.GetBalance(*auth)
    assert (state.Balance, state.Sended, state.State, state.Totaled) == (1000, 0, 101, 1000)
    service.SendMessage(*auth, "x", f"{GOOD};{GOOD2};{GOOD3}", TS)
    sim.recharge(101, 50)
    state = service.GetBalance(*auth)
    assert (state.Balance, state.Sended, state.State, state.Totaled) == (1047, 3, 101, 1050)


def test_get_balance_refused_reports_zeroes(zoo, service):
    state = service.GetBalance(102, "off", "pw")
    assert (state.Balance, state.Sended, state.State, state.Totaled) == (0, 0, 0, 0)


# -- the order of checks ---------------------------------------------------------------------

ORDER_CASES = [
    # (operation, account, message, phone, extra kwargs, expected, the code it beats)
    ("SendMessage", (999, "", "pw"), "hi", GOOD, {}, -2, -3),
    ("SendMessage", (102, "off", "bad"), "hi", GOOD, {}, -3, 0),
    ("SendMessage", (101, "demo", "bad"), "", GOOD, {}, -3, -5),
    ("SendMessage", (108, "offagent", "pw"), "hi", GOOD, {}, 0, -4),
    ("SendMessage", (109, "boundagent", "pw"), "hi", GOOD, {}, -4, -30),
    ("SendMessage", (105, "bound", "pw"), "", GOOD, {}, -30, -5),
    ("SendMessage", (101, "demo", "secret"), " " * 300, GOOD, {}, -5, -6),
    ("SendMessage", (101, "demo", "secret"), "x" * 202, "", {}, -6, -7),
    ("SendMessage", (101, "demo", "secret"), "spam" * 60, GOOD, {}, -6, -13),
    ("SendMessage", (101, "demo", "secret"), "spam", ";;", {}, -7, -13),
    ("SendMessage", (101, "demo", "secret"), "spam", ";".join(["bad"] * 1001), {}, -1, -13),
    ("SendMessage", (101, "demo", "secret"), "hi", ";".join(["bad"] * 1001), {}, -1, -10),
    ("SendTimer", (101, "demo", "secret"), "hi", ";".join([GOOD] * 1001), {"when": "x"}, -1, -11),
    ("SendTimer", (101, "demo", "secret"), "spam", GOOD, {"when": "2030-13-01 00:00:00"}, -11, -13),
    ("SendTimer", (101, "demo", "secret"), "spam", GOOD, {"when": "2010-03-08 10:20:00"}, -12, -13),
    ("SendTimer", (107, "broke", "pw"), "hi", GOOD, {"when": "2010-03-08 10:20:00"}, -12, -8),
    ("SendTimer", (101, "demo", "secret"), "hi", "bad", {"when": "2010-03-08 10:20:00"}, -12, -10),
    ("SendMessageExt", (101, "demo", "secret"), "spam", GOOD, {"ext": "1234567"}, -1, -13),
    ("SendMessageExt", (101, "demo", "secret"), "hi", "bad", {"ext": "x"}, -1, -10),
    ("SendMessageExt", (107, "broke", "pw"), "hi", GOOD, {"ext": "x"}, -1, -8),
    ("SendMessage", (101, "demo", "secret"), "spam", "bad;worse", {}, -13, -10),
    ("SendMessage", (107, "broke", "pw"), "赌博", GOOD, {}, -13, -8),
    ("SendMessage", (107, "broke", "pw"), "hi", "bad;worse", {}, -10, -8),
]


@pytest.mark.parametrize(
    ("operation", "account", "message", "phone", "extra", "expected", "beaten"),
    ORDER_CASES,
    ids=[f"{c[0]}:{c[5]}-before-{c[6]}" for c in ORDER_CASES],
)
def test_order_of_checks(zoo, service, operation, account, message, phone, extra, expected, beaten):
    answer = send(service, operation, account, message, phone, **extra)
    assert answer.State == expected
    assert answer.State != beaten
    assert zoo.deliveries().empty
    assert zoo.balance(101)["Sended"] == 0


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ((999, "", "pw"), -2),
        ((102, "off", "bad"), -3),
        ((108, "offagent", "pw"), 0),
        ((109, "boundagent", "pw"), -4),
    ],
)
def test_order_of_checks_for_login_and_update_psw(zoo, service, account, expected):
    assert service.UserLogin(*account) == expected
    assert service.UpdatePsw(*account, "new-pw") == expected
    assert service.GetBalance(*account).State == expected


def test_minus_13_keywords_come_before_minus_10_bad_numbers_with_failphone(zoo, service, auth):
    answer = service.SendMessage(*auth, "no spam here", "bad;worse", TS)
    assert (answer.State, answer.FailPhone) == (-13, "spam")
