"""Every result code of the provider, per operation: the single source of truth.

Each code carries the provider's own wording (Chinese, as its interface
document puts it), an English meaning, the status a row gets, whether it stops
a whole campaign (account-level) and whether a resend is safe (the provider
certainly did not accept the call).

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
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd

CHINA = ZoneInfo("Asia/Shanghai")  # the provider's clock: China Standard Time

Status = Literal["sent", "scheduled", "failed", "rejected", "unknown"]

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

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "scheduled")

    def __str__(self) -> str:
        return f"{self.value}: {self.en} ({self.zh})"


# Codes shared by every operation: the account checks of UserLogin.
_ACCOUNT = [
    (0, "帐户处于禁止使用状态", "the account is disabled", True),
    (-2, "帐户信息错误：调用的参数有为空值", "a parameter is empty (Id, Name or password)", True),
    (
        -3,
        "用户或密码错误：机构代码、用户名或密码错误",
        "wrong organisation code, account name or password",
        True,
    ),
    (
        -4,
        "不是普通帐户：该帐户不能使用Web Service 接口模式",
        "not an ordinary account (agent and group accounts cannot use the web service)",
        True,
    ),
    (-30, "非绑定IP：访问IP非法", "the calling IP is not bound to the account", True),
]

# Codes of the three send operations: (value, zh, zh of SendTimer, en, account-level).
_SEND = [
    (
        -1,
        "发送失败",
        "定时失败",
        "the provider refused the call (over 1000 numbers or a bad Ext)",
        False,
    ),
    (-5, "发送短信内容为空", "定时发送短信内容为空", "the message is empty", False),
    (
        -6,
        "短信内容过长",
        "短信内容过长",
        "the message is longer than 3 SMS (201 characters)",
        False,
    ),
    (-7, "发送号码为空", "发送号码为空", "the phone list is empty", False),
    (-8, "余额不足", "余额不足", "insufficient balance for this call", True),
    (
        -10,
        "发送失败：号码错误",
        "定时发送失败：发送号码错误",
        "every number of the call is bad",
        False,
    ),
    (-13, "内容信息含关键字", "内容信息含关键字", "the message contains a banned keyword", False),
]


def _build() -> dict[tuple[str, int], Code]:
    table: dict[tuple[str, int], Code] = {}
    for operation in OPERATIONS:
        for value, zh, en, account_level in _ACCOUNT:
            table[operation, value] = Code(operation, value, zh, en, "failed", account_level)
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
        "UpdatePsw", -1, "修改密码失败", "the password change failed", "failed"
    )
    for operation in SEND_OPERATIONS:
        timer = operation == "SendTimer"
        for value, zh, zh_timer, en, account_level in _SEND:
            wording = zh_timer if timer else zh
            table[operation, value] = Code(operation, value, wording, en, "failed", account_level)
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
    )
    table["SendTimer", -12] = Code(
        "SendTimer",
        -12,
        "定时发送时间失败：定时时间必须大于当前调用时间",
        "the scheduled time is not later than the time of the call",
        "failed",
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
