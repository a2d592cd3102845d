"""smsframe: send, schedule and audit SMS campaigns from pandas DataFrames.

Importing the package registers the ``df.sms`` accessor.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smsframe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from smsframe import accessor as _accessor  # noqa: F401  (registers df.sms)
from smsframe.client import Balance, SendResult, SmsClient
from smsframe.errors import AccountError, OutcomeUnknown, ProviderUnavailable, SmsError
from smsframe.message import parts, render
from smsframe.phones import normalize

__all__ = [
    "AccountError",
    "Balance",
    "OutcomeUnknown",
    "ProviderUnavailable",
    "SendResult",
    "SmsClient",
    "SmsError",
    "__version__",
    "normalize",
    "parts",
    "render",
]
