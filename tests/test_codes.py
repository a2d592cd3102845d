"""codes.py against the contract (docs/provider/contract.md): every code of every
operation, decoded without surprises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsframe.codes import CODES, OPERATIONS, SEND_OPERATIONS, decode, table

# Written by hand from docs/provider/contract.md (and the Chinese original), not from codes.py.
# "> 0" (the account ID) of UserLogin and GetBalance is stored as 1.
_ACCOUNT = {0, -2, -3, -4, -30}
_SEND = {1, -1, -5, -6, -7, -8, -9, -10, -13, -100} | _ACCOUNT
CONTRACT = {
    "UserLogin": {1} | _ACCOUNT,
    "UpdatePsw": {1, -1} | _ACCOUNT,
    "GetBalance": {1} | _ACCOUNT,
    "SendMessage": _SEND,
    "SendTimer": _SEND | {-11, -12},
    "SendMessageExt": _SEND,
}
# The provider's reserved codes; the simulator can inject them on any operation,
# so codes.py decodes them everywhere.
RESERVED = {-9, -100}
ACCOUNT_LEVEL = {0, -2, -3, -4, -30, -8}

# The provider's own document, in Chinese.
ZH_DOCUMENT = Path(__file__).parents[1] / "docs" / "provider" / "webservice-interface.zh.txt"


def test_the_operations_are_the_contracts_six():
    assert set(OPERATIONS) == set(CONTRACT)
    assert set(SEND_OPERATIONS) == {"SendMessage", "SendTimer", "SendMessageExt"}


@pytest.mark.parametrize("operation", sorted(CONTRACT))
def test_the_table_holds_exactly_the_contracts_codes(operation):
    in_table = {value for op, value in CODES if op == operation}
    assert in_table == CONTRACT[operation] | RESERVED


def test_every_entry_is_keyed_by_its_own_operation_and_value():
    for (operation, value), code in CODES.items():
        assert (code.operation, code.value) == (operation, value)
        assert code.zh.strip() and code.en.strip()
        assert str(code) == f"{value}: {code.en} ({code.zh})"


def test_account_level_codes_are_exactly_the_six_that_stop_a_campaign():
    assert {value for (_, value), code in CODES.items() if code.account_level} == ACCOUNT_LEVEL
    for (operation, value), code in CODES.items():
        assert code.account_level == (value in ACCOUNT_LEVEL), (operation, value)
    for operation in OPERATIONS:
        assert decode(operation, -3).account_level
    for operation in SEND_OPERATIONS:
        assert decode(operation, -8).account_level


@pytest.mark.parametrize("operation", OPERATIONS)
def test_statuses(operation):
    success = "scheduled" if operation == "SendTimer" else "sent"
    for value in CONTRACT[operation] | RESERVED:
        code = decode(operation, value)
        if value == 1:
            assert code.status == success and code.ok
        elif value == -100:
            assert code.status == "unknown" and not code.ok
        else:
            assert code.status == "failed" and not code.ok, value


@pytest.mark.parametrize("operation", OPERATIONS)
def test_resend_is_safe_exactly_when_the_provider_certainly_did_not_accept(operation):
    for value in CONTRACT[operation] | RESERVED:
        code = decode(operation, value)
        # accepted (1) -> resending would send twice; unknown (-100) -> it may have been
        assert code.resend_safe == (code.status == "failed"), value


@pytest.mark.parametrize("operation", OPERATIONS)
def test_minus_9_failed_resend_safe_and_worth_a_retry(operation):
    code = decode(operation, -9)
    assert (code.status, code.resend_safe, code.transient) == ("failed", True, True)
    assert not code.account_level


@pytest.mark.parametrize("operation", OPERATIONS)
def test_minus_100_is_unknown_and_never_resent(operation):
    code = decode(operation, -100)
    assert (code.status, code.resend_safe, code.account_level) == ("unknown", False, False)


@pytest.mark.parametrize("operation", ["UserLogin", "GetBalance"])
def test_a_positive_answer_is_the_account_id_and_means_ok(operation):
    for account_id in (1, 101, 2**31 - 1):
        assert decode(operation, account_id).ok


@pytest.mark.parametrize("operation", OPERATIONS)
@given(value=st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_any_value_decodes_and_unknown_ones_say_so(operation, value):
    code = decode(operation, value)  # never a KeyError
    known = (operation, value) in CODES or (value > 0 and operation in ("UserLogin", "GetBalance"))
    if not known:
        assert code.en == f"unknown code {value}"
        assert str(value) in code.zh
        assert code.status == "unknown"
        assert not code.resend_safe and not code.account_level and not code.ok


@pytest.mark.parametrize("value", [42, -14, -99, -101, 2, 100])
def test_unknown_codes_of_send_operations(value):
    for operation in SEND_OPERATIONS:
        code = decode(operation, value)
        assert code.en == f"unknown code {value}"
        assert (code.status, code.resend_safe) == ("unknown", False)


def test_codes_of_other_operations_are_not_borrowed():
    assert decode("SendMessage", -11).en == "unknown code -11"  # only SendTimer has -11/-12
    assert decode("UserLogin", -8).en == "unknown code -8"
    assert decode("GetBalance", -1).en == "unknown code -1"  # only UpdatePsw has -1 of these


def test_an_unknown_operation_is_a_clear_value_error():
    with pytest.raises(ValueError, match="unknown operation 'SendSMS'"):
        decode("SendSMS", 1)


def test_table_is_one_row_per_code():
    frame = table()
    assert len(frame) == len(CODES)
    assert not frame.duplicated(["operation", "value"]).any()
    assert {"operation", "value", "zh", "en", "status", "account_level", "resend_safe"} <= set(
        frame.columns
    )


def _sections(text: str) -> dict[str, str]:
    """The Chinese document cut into one section per operation."""
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"[一二三四五六]、(\w+)\(", text)]
    ends = [start for start, _ in heads[1:]] + [len(text)]
    return {name: text[start:end] for (start, name), end in zip(heads, ends, strict=True)}


def test_the_chinese_meanings_are_worded_as_the_original_document():
    sections = _sections(ZH_DOCUMENT.read_text(encoding="utf-8"))
    assert set(sections) == set(OPERATIONS)
    for (operation, value), code in CODES.items():
        if value in _ACCOUNT or (value == 1 and operation == "UserLogin"):
            where = sections["UserLogin"]  # "其他值: 参考UserLogin()返回值说明"
        elif value in RESERVED and operation not in SEND_OPERATIONS:
            where = sections["SendMessage"]  # the reserved codes are worded there
        else:
            where = sections[operation]
        for piece in code.zh.split("："):
            assert piece in where, (operation, value, piece)


def test_every_account_level_code_says_what_to_do_and_what_to_do_with_its_rows():
    for (operation, value), code in CODES.items():
        if code.account_level:
            assert code.advice and code.action, (operation, value)
            assert "run the campaign again" in code.action, (operation, value)


def test_the_errors_and_the_audits_read_the_codes_own_words():
    from smsframe.audits import _action
    from smsframe.errors import AccountError

    for (operation, value), code in CODES.items():
        if code.account_level:
            assert str(AccountError(code)).endswith(f"-> {code.advice}")
            assert _action(None, value, operation, True) == code.action
        elif code.action:
            assert _action(None, value, operation, False) == code.action
    # -1 means "refused the call" to a send and "the change failed" to UpdatePsw.
    assert "new password" in decode("UpdatePsw", -1).advice
    assert "extension" in _action(None, -1, "SendMessageExt", False)
    # -11 and -12 are SendTimer's only.
    assert "later time" in _action(None, -12, "SendTimer", False)


def test_the_row_statuses_are_defined_once_with_their_meaning():
    from smsframe.codes import STATUS_TEXT, STATUSES
    from smsframe.outcomes import STATUS_DTYPE

    assert list(STATUS_TEXT) == list(STATUSES) == list(STATUS_DTYPE.categories)
    assert {code.status for code in CODES.values()} <= set(STATUSES)
