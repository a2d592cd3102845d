"""Every result code of the provider, per operation: the single source of truth.

Each code carries the provider's own wording (Chinese, as its interface
document puts it), an English meaning, the status a row gets, whether it stops
a whole campaign (account-level), whether a resend is safe (the provider
certainly did not accept the call), what to do about it (``advice``, which
:class:`smsframe.errors.AccountError` says) and what to do with the rows it
refused (``action``, which an audit's ``resend`` table says). The row statuses
themselves, with their meaning, are :data:`STATUS_TEXT`.

Examples
--------
>>> from smsframe.codes import decode
>>> decode("SendMessage", -13).en
'the message contains a banned keyword'
>>> decode("SendMessage", -9).resend_safe
True
>>> decode("SendMessage", 42).en
'unknown code 42'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import pandas as pd

CHINA = ZoneInfo("Asia/Shanghai")  # the provider's clock: China Standard Time

Status = Literal["sent", "scheduled", "failed", "rejected", "unknown", "skipped", "pending"]
STATUSES: tuple[Status, ...] = get_args(Status)
STATUS_TEXT: dict[Status, str] = {
    "sent": "accepted by the provider for sending",
    "scheduled": "accepted by the provider, to go out at the scheduled time",
    "failed": "the provider did not accept it",
    "rejected": "refused before sending",
    "unknown": "the call may or may not have been processed",
    "skipped": "not sent: the campaign stopped first",
    "pending": "not sent yet (a plan, not a result)",
}

OPERATIONS = ("UserLogin", "UpdatePsw", "GetBalance", "SendMessage", "SendTimer", "SendMessageExt")
SEND_OPERATIONS = ("SendMessage", "SendTimer", "SendMessageExt")


@dataclass(frozen=True)
class Code:
    """One result code of one operation."""

    operation: str
    value: int
    zh: str
    en: str
    status: Status
    account_level: bool = False
    resend_safe: bool = True  # the provider certainly did not accept it (False once accepted)
    transient: bool = False  # worth an automatic retry after a pause
    advice: str = ""  # what to do about it (said by AccountError)
    action: str = ""  # what to do with the rows it refused (said by audits)

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "scheduled")

    def __str__(self) -> str:
        return f"{self.value}: {self.en} ({self.zh})"


# Codes shared by every operation: the account checks of UserLogin.
# (value, zh, en, advice); each is account-level, its rows resent by a rerun once fixed.
_ACCOUNT = [
    (
        0,
        "帐户处于禁止使用状态",
        "the account is disabled",
        "the account is disabled; ask the provider to enable it",
    ),
    (
        -2,
        "帐户信息错误：调用的参数有为空值",
        "a parameter is empty (Id, Name or password)",
        "set the account Id, Name and password (SMSFRAME_ID, SMSFRAME_NAME, SMSFRAME_PASSWORD)",
    ),
    (
        -3,
        "用户或密码错误：机构代码、用户名或密码错误",
        "wrong organisation code, account name or password",
        "check the organisation code, account name and password",
    ),
    (
        -4,
        "不是普通帐户：该帐户不能使用Web Service 接口模式",
        "not an ordinary account (agent and group accounts cannot use the web service)",
        "use an ordinary account; agent and group accounts cannot use the web service",
    ),
    (
        -30,
        "非绑定IP：访问IP非法",
        "the calling IP is not bound to the account",
        "call from the IP bound to the account, or ask the provider to bind this one",
    ),
]
_ACCOUNT_ACTION = {  # what to do with the rows an account refusal stopped
    0: "ask the provider to enable the account, then run the campaign again",
    -2: "set the account's Id, Name and password, then run the campaign again",
    -3: "fix the account's credentials, then run the campaign again",
    -4: "use an ordinary account, then run the campaign again",
    -30: "call from the bound IP (or have it bound), then run the campaign again",
}

# Codes of the three send operations: (value, zh, zh of SendTimer, en, action).
_SEND = [
    (
        -1,
        "发送失败",
        "定时失败",
        "the provider refused the call (over 1000 numbers or a bad Ext)",
        "check the extension number and the number of phones per call, then send these rows "
        "as a new campaign",
    ),
    (-5, "发送短信内容为空", "定时发送短信内容为空", "the message is empty", ""),
    (
        -6,
        "短信内容过长",
        "短信内容过长",
        "the message is longer than 3 SMS (201 characters)",
        "",
    ),
    (-7, "发送号码为空", "发送号码为空", "the phone list is empty", ""),
    (
        -10,
        "发送失败：号码错误",
        "定时发送失败：发送号码错误",
        "every number of the call is bad",
        "check the numbers, then send these rows as a new campaign",
    ),
    (
        -13,
        "内容信息含关键字",
        "内容信息含关键字",
        "the message contains a banned keyword",
        "remove the banned keyword (sms_detail) from the message, then send these rows "
        "as a new campaign",
    ),
]
_BALANCE = ("余额不足", "insufficient balance for this call")  # -8: account-level
_BALANCE_ADVICE = "recharge the account or send to fewer recipients"
_BALANCE_ACTION = "recharge the account, then run the campaign again: a rerun resends these rows"


def _build() -> dict[tuple[str, int], Code]:
    table: dict[tuple[str, int], Code] = {}
    for operation in OPERATIONS:
        for value, zh, en, advice in _ACCOUNT:
            table[operation, value] = Code(
                operation,
                value,
                zh,
                en,
                "failed",
                account_level=True,
                advice=advice,
                action=_ACCOUNT_ACTION[value],
            )
        # The provider's reserved codes; only a faulty provider answers them.
        table[operation, -9] = Code(
            operation,
            -9,
            "接收数据失败",
            "the provider failed to receive the data",
            "failed",
            transient=True,
        )
        table[operation, -100] = Code(
            operation,
            -100,
            "客户端获取状态失败(系统预留)",
            "the state could not be read: the call may or may not have been processed",
            "unknown",
            resend_safe=False,
        )
    table["UserLogin", 1] = Code(
        "UserLogin", 1, "帐户信息正确", "account OK", "sent", resend_safe=False
    )
    table["GetBalance", 1] = Code(
        "GetBalance", 1, "调用接口成功", "account OK", "sent", resend_safe=False
    )
    table["UpdatePsw", 1] = Code(
        "UpdatePsw", 1, "修改密码成功", "password changed", "sent", resend_safe=False
    )
    table["UpdatePsw", -1] = Code(
        "UpdatePsw",
        -1,
        "修改密码失败",
        "the password change failed",
        "failed",
        advice="choose another new password (different from the old one, no spaces)",
    )
    for operation in SEND_OPERATIONS:
        timer = operation == "SendTimer"
        for value, zh, zh_timer, en, action in _SEND:
            wording = zh_timer if timer else zh
            table[operation, value] = Code(operation, value, wording, en, "failed", action=action)
        table[operation, -8] = Code(
            operation,
            -8,
            *_BALANCE,
            "failed",
            account_level=True,
            advice=_BALANCE_ADVICE,
            action=_BALANCE_ACTION,
        )
        if timer:
            table[operation, 1] = Code(
                operation, 1, "定时短信成功", "scheduled", "scheduled", resend_safe=False
            )
        else:
            table[operation, 1] = Code(
                operation, 1, "发送短信成功", "accepted for sending", "sent", resend_safe=False
            )
    table["SendTimer", -11] = Code(
        "SendTimer",
        -11,
        "定时发送时间或格式错误",
        "the scheduled time is missing or badly formatted",
        "failed",
        action="check the schedule time, then send these rows as a new campaign",
    )
    table["SendTimer", -12] = Code(
        "SendTimer",
        -12,
        "定时发送时间失败：定时时间必须大于当前调用时间",
        "the scheduled time is not later than the time of the call",
        "failed",
        action="schedule for a later time, then send these rows as a new campaign",
    )
    return table


CODES = _build()


def decode(operation: str, value: int) -> Code:
    """The meaning of ``value`` answered by ``operation``; never raises for a value.

    A positive answer of UserLogin or GetBalance (the account ID) decodes as success.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; choose one of {', '.join(OPERATIONS)}")
    if value > 0 and operation in ("UserLogin", "GetBalance"):
        value = 1
    code = CODES.get((operation, value))
    if code is None:
        return Code(
            operation,
            value,
            f"未知代码 {value}",
            f"unknown code {value}",
            "unknown",
            resend_safe=False,
        )
    return code


def table() -> pd.DataFrame:
    """Every code as a frame, one row per operation and value."""
    return pd.DataFrame([vars(code) for code in CODES.values()]).sort_values(
        ["operation", "value"], ascending=[True, False], ignore_index=True
    )
