"""smsframe's exceptions. Each message says what to do next.

::

    SmsError
    ├── AccountError          the provider refused the account (.code, .meaning): fix it first
    ├── InsufficientBalance   the balance cannot pay for the whole plan: nothing was sent
    ├── CampaignBusy          another process is sending the same campaign right now
    ├── CampaignMismatch      a campaign's name run again with other content: nothing sent
    ├── JournalError          the journal failed (locked, disk full, server down): .result
    ├── InvalidRequest        the request could not be built: nothing was sent
    ├── UntrustedHost         the provider points the password at another host: refused
    ├── ProviderUnavailable   the request certainly did not reach the provider: safe to resend;
    │                         raised by a campaign whose provider went down: .result
    └── OutcomeUnknown        the request may have been processed: never resend blindly

    KeyboardInterrupt
    └── CampaignInterrupted   Ctrl-C (or Stop) during a campaign: .result

A campaign that stops midway raises only once it has stopped cleanly: the calls in
flight are finished and journaled, and ``error.result`` is the partial result frame
(None when nothing was sent), as ``journal.campaign(name)`` also gives it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsframe.codes import Code

if TYPE_CHECKING:
    import pandas as pd


class SmsError(Exception):
    """Base of every error smsframe raises on purpose."""

    #: The partial result of a campaign that stopped with this error (else None).
    result: pd.DataFrame | None = None


class AccountError(SmsError):
    """The provider refused the account; nothing was sent."""

    def __init__(self, code: Code, advice: str = "") -> None:
        self.code = code.value
        self.meaning = code.en
        advice = advice or code.advice or "check the account with the provider"
        super().__init__(f"{code.operation} refused the account: {code} -> {advice}")


class InvalidRequest(SmsError):
    """The request could not be built (bad arguments or characters); nothing was sent."""


class UntrustedHost(SmsError):
    """The service description redirects, or names its service address, on another host
    (or from https to http); nothing was sent there."""


class ProviderUnavailable(SmsError):
    """The request certainly did not reach the provider; resending is safe."""


class OutcomeUnknown(SmsError):
    """The request reached the provider but its answer was lost or unreadable.

    It may have been processed (charged and delivered). Do not resend without
    checking, or messages may go out twice. ``transport``: the answer was lost on the
    way (timeout, dropped connection, HTTP error), not an answer saying so.
    """

    def __init__(self, message: str, *, transport: bool = False) -> None:
        super().__init__(message)
        self.transport = transport


class InsufficientBalance(SmsError):
    """The account cannot pay for the whole plan; nothing was sent."""

    def __init__(self, cost: int, balance: int) -> None:
        self.cost, self.balance = cost, balance
        super().__init__(
            f"the plan costs {cost} messages but the balance is {balance}: recharge at least "
            f"{cost - balance} or send to fewer recipients; nothing was sent"
        )


class JournalError(SmsError):
    """The journal could not be read or written: locked by another process, disk full,
    database server unreachable. A campaign stops cleanly first; nothing is sent twice."""


class CampaignInterrupted(KeyboardInterrupt):
    """The user interrupted a campaign (Ctrl-C, or Stop in Jupyter). No new call was
    made after it; ``result`` has every row, those not sent ``skipped``."""

    def __init__(self, message: str, result: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.result = result


class CampaignMismatch(SmsError):
    """A campaign run again under its name with other content (message, schedule time,
    ext, account) than it was sent with; nothing was sent."""


class CampaignBusy(SmsError):
    """Another process holds the campaign's lease in the journal; nothing was sent."""
