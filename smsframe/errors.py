"""smsframe's exceptions. Each message says what to do next.

::

    SmsError
    ├── UsageError            the call cannot run as written (an option, a column, a template)
    │   ├── InvalidValue      ... also a ValueError
    │   ├── InvalidType       ... also a TypeError
    │   ├── MissingColumn     ... also a KeyError
    │   └── MissingFile       ... also a FileNotFoundError
    ├── AccountError          the provider refused the account (.code, .meaning): fix it first
    ├── InsufficientBalance   the balance cannot pay for the whole plan: nothing was sent
    ├── CampaignBusy          another process is sending the same campaign right now
    ├── CampaignMismatch      a campaign's name run again with other content: nothing sent
    ├── QuietHoursError       a send inside its quiet hours: nothing sent (.next_allowed)
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

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from smsframe.codes import Code

if TYPE_CHECKING:
    from types import FrameType

    import pandas as pd


class SmsError(Exception):
    """Base of every error smsframe raises on purpose."""

    #: The partial result of a campaign that stopped with this error (else None).
    result: pd.DataFrame | None = None


class UsageError(SmsError):
    """The call cannot run as written: an option, a column or a template is wrong; nothing
    was read or sent. Raised from the public call with a short traceback (the error is
    the caller's, not smsframe's); the message says what to change."""


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the caller's line: the first frame outside smsframe (a notebook cell)."""
    level = 2  # warn's caller
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


P = ParamSpec("P")
R = TypeVar("R")


def raises_usage_errors_short(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a public call: a :class:`UsageError` it raises is raised from it, its
    traceback trimmed to the caller's line and this one (a notebook shows the message,
    not smsframe's insides). Any other error keeps its whole traceback."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except UsageError as error:
            raise error.with_traceback(None) from None

    return call


class InvalidValue(UsageError, ValueError):
    """An argument has a value smsframe cannot use."""


class InvalidType(UsageError, TypeError):
    """An argument is of a type smsframe cannot use."""


class MissingColumn(UsageError, KeyError):
    """A column the call names is not in the frame."""

    def __str__(self) -> str:  # a message, not KeyError's quoted key
        return str(self.args[0]) if self.args else ""


class MissingFile(UsageError, FileNotFoundError):
    """A file the call names does not exist."""


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


class QuietHoursError(SmsError):
    """A send inside its quiet hours (``quiet_hours=``, China Standard Time): nothing was
    sent. ``next_allowed`` is when they end; ``schedule_if_quiet=True`` schedules the
    campaign for then instead."""

    def __init__(self, message: str, next_allowed: pd.Timestamp) -> None:
        super().__init__(message)
        self.next_allowed = next_allowed
