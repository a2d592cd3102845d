"""smsframe's exceptions. Each message says what to do next.

::

    SmsError
    ├── AccountError          the provider refused the account (.code, .meaning): fix it first
    ├── InsufficientBalance   the balance cannot pay for the whole plan: nothing was sent
    ├── CampaignBusy          another process is sending the same campaign right now
    ├── InvalidRequest        the request could not be built: nothing was sent
    ├── ProviderUnavailable   the request certainly did not reach the provider: safe to resend
    └── OutcomeUnknown        the request may have been processed: never resend blindly
"""

from __future__ import annotations

from smsframe.codes import Code


class SmsError(Exception):
    """Base of every error smsframe raises on purpose."""


class AccountError(SmsError):
    """The provider refused the account; nothing was sent."""

    def __init__(self, code: Code, advice: str = "") -> None:
        self.code = code.value
        self.meaning = code.en
        advice = advice or _ADVICE.get(code.value, "check the account with the provider")
        super().__init__(f"{code.operation} refused the account: {code} -> {advice}")


class InvalidRequest(SmsError):
    """The request could not be built (bad arguments or characters); nothing was sent."""


class ProviderUnavailable(SmsError):
    """The request certainly did not reach the provider; resending is safe."""


class OutcomeUnknown(SmsError):
    """The request reached the provider but its answer was lost or unreadable.

    It may have been processed (charged and delivered). Do not resend without
    checking, or messages may go out twice.
    """


_ADVICE = {
    0: "the account is disabled; ask the provider to enable it",
    -1: "choose another new password (different from the old one, no spaces)",
    -2: "set the account Id, Name and password (SMSFRAME_ID, SMSFRAME_NAME, SMSFRAME_PASSWORD)",
    -3: "check the organisation code, account name and password",
    -4: "use an ordinary account; agent and group accounts cannot use the web service",
    -30: "call from the IP bound to the account, or ask the provider to bind this one",
    -8: "recharge the account or send to fewer recipients",
}


class InsufficientBalance(SmsError):
    """The account cannot pay for the whole plan; nothing was sent."""

    def __init__(self, cost: int, balance: int) -> None:
        self.cost, self.balance = cost, balance
        super().__init__(
            f"the plan costs {cost} messages but the balance is {balance}: recharge at least "
            f"{cost - balance} or send to fewer recipients; nothing was sent"
        )


class CampaignBusy(SmsError):
    """Another process holds the campaign's lease in the journal; nothing was sent."""
