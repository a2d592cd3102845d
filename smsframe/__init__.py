"""smsframe: send, schedule and audit SMS campaigns from pandas DataFrames.

Importing the package registers the ``df.sms`` accessor.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smsframe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from smsframe import accessor as _accessor  # noqa: F401  (registers df.sms)
from smsframe.audits import Audit, audit
from smsframe.client import Balance, SendResult, SmsClient
from smsframe.errors import (
    AccountError,
    CampaignBusy,
    CampaignInterrupted,
    CampaignMismatch,
    InsufficientBalance,
    JournalError,
    OutcomeUnknown,
    ProviderUnavailable,
    SmsError,
    UntrustedHost,
)
from smsframe.message import parts, render
from smsframe.phones import normalize
from smsframe.widgets import BalancePanel, SchedulePanel

__all__ = [
    "AccountError",
    "Audit",
    "Balance",
    "BalancePanel",
    "CampaignBusy",
    "CampaignInterrupted",
    "CampaignMismatch",
    "InsufficientBalance",
    "JournalError",
    "OutcomeUnknown",
    "ProviderUnavailable",
    "SchedulePanel",
    "SendResult",
    "SmsClient",
    "SmsError",
    "UntrustedHost",
    "__version__",
    "audit",
    "normalize",
    "parts",
    "render",
]
