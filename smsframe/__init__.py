"""smsframe: send, schedule and audit SMS campaigns from pandas DataFrames.

Importing the package registers the ``df.sms`` accessor. The client (zeep), the
journal (SQLAlchemy), the panels (ipywidgets) and the charts (matplotlib) are
imported when first used, so that ``import smsframe`` costs little more than pandas.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("smsframe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from smsframe import accessor as _accessor  # noqa: F401  (registers df.sms)
from smsframe.errors import (
    AccountError,
    CampaignBusy,
    CampaignInterrupted,
    CampaignMismatch,
    InsufficientBalance,
    InvalidRequest,
    InvalidType,
    InvalidValue,
    JournalError,
    MissingColumn,
    MissingFile,
    OutcomeUnknown,
    ProviderUnavailable,
    QuietHoursError,
    SmsError,
    UntrustedHost,
    UsageError,
)
from smsframe.message import parts, render
from smsframe.phones import normalize

if TYPE_CHECKING:
    from smsframe.audits import Audit, audit
    from smsframe.client import Balance, SendResult, SmsClient
    from smsframe.suppression import suppress, suppressions, unsuppress
    from smsframe.widgets import BalancePanel, SchedulePanel

# Public names whose module is imported on first use: name -> module.
_LAZY = {
    "Audit": "smsframe.audits",
    "audit": "smsframe.audits",
    "Balance": "smsframe.client",
    "SendResult": "smsframe.client",
    "SmsClient": "smsframe.client",
    "BalancePanel": "smsframe.widgets",
    "SchedulePanel": "smsframe.widgets",
    "suppress": "smsframe.suppression",
    "suppressions": "smsframe.suppression",
    "unsuppress": "smsframe.suppression",
}
_SUBMODULES = {module.name for module in pkgutil.iter_modules(__path__)}


def __getattr__(name: str) -> Any:
    """``smsframe.SmsClient``, ``smsframe.journal``...: imported on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"smsframe.{name}")
    raise AttributeError(f"module 'smsframe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})


__all__ = [
    "AccountError",
    "Audit",
    "Balance",
    "BalancePanel",
    "CampaignBusy",
    "CampaignInterrupted",
    "CampaignMismatch",
    "InsufficientBalance",
    "InvalidRequest",
    "InvalidType",
    "InvalidValue",
    "JournalError",
    "MissingColumn",
    "MissingFile",
    "OutcomeUnknown",
    "ProviderUnavailable",
    "QuietHoursError",
    "SchedulePanel",
    "SendResult",
    "SmsClient",
    "SmsError",
    "UntrustedHost",
    "UsageError",
    "__version__",
    "audit",
    "normalize",
    "parts",
    "render",
    "suppress",
    "suppressions",
    "unsuppress",
]
