"""smsframe: send, schedule and audit SMS campaigns from pandas DataFrames.

Importing the package registers the ``df.sms`` accessor.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smsframe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
