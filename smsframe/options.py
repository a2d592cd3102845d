"""The options of a campaign, each defined, defaulted and validated in one place.

:class:`PlanOptions` says how rows become calls (``df.sms.plan``, and the planning
half of ``send``, ``schedule`` and :class:`~smsframe.widgets.SchedulePanel`);
:class:`RunOptions` says how the calls are made. Both are frozen and checked when
made, so a bad value is refused before anything is read or sent, with a message
naming the option.

Examples
--------
>>> PlanOptions(chunk_size=500).chunk_size
500
>>> PlanOptions(chunk_size=5000)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
smsframe.errors.InvalidValue: chunk_size must be between 1 and 1000 ..., got 5000
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from smsframe.errors import InvalidType, InvalidValue
from smsframe.hygiene import Cap, QuietHours, caps, quiet_hours
from smsframe.message import banned_keywords
from smsframe.phones import check_region

if TYPE_CHECKING:
    from smsframe.journal import Journal

MAX_CHUNK = 1000  # the provider's limit of numbers per call
DEFAULT_MARGIN = timedelta(minutes=2)  # a schedule time must be at least this far ahead


@dataclass(frozen=True)
class PlanOptions:
    """How rows become calls.

    Parameters
    ----------
    phone : str
        The column of phone numbers.
    region : str
        Where numbers without a country code are from (ISO 3166 code), e.g. ``"CN"``.
    chunk_size : int
        Numbers per provider call, 1 to 1000.
    keywords : list of str, or the path of a text file with one per line
        Banned words: a row whose message contains one is rejected ``banned_keyword``.
    ext : str or int, optional
        An extension number (1-6 digits) for every row, or the name of a column of them.
    at : datetime or str, optional
        When to schedule: a datetime (naive means China Standard Time), a text such as
        ``"2030-01-01 09:00"``, or the name of a column of times.
    margin : timedelta
        A schedule time must be at least this far in the future.
    cap : (int, str) or list of them, optional
        Frequency caps across campaigns, e.g. ``(3, "7D")``: a row whose number had 3
        messages within 7 days is rejected ``capped`` (:mod:`smsframe.hygiene`); kept
        as a tuple of :class:`~smsframe.hygiene.Cap`.
    quiet_hours : (str, str), str or False, optional
        Clock times, China Standard Time, between which nothing goes out, e.g.
        ``("21:00", "08:00")``; default ``$SMSFRAME_QUIET_HOURS``, else off. Kept as a
        :class:`~smsframe.hygiene.QuietHours`, or False when off.
    """

    phone: str = "phone"
    region: str = "CN"
    chunk_size: int = 100
    keywords: Iterable[str] | str | Path | None = ()  # kept as a tuple of words
    ext: object = None
    at: object = None
    margin: timedelta = DEFAULT_MARGIN
    cap: object = None
    quiet_hours: object = None

    def __post_init__(self) -> None:
        if not isinstance(self.phone, str) or not self.phone:
            raise InvalidType(f"phone must be the name of a column, got {self.phone!r}")
        check_region(self.region)
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int):
            raise InvalidType(f"chunk_size must be an int, got {self.chunk_size!r}")
        if not 1 <= self.chunk_size <= MAX_CHUNK:
            raise InvalidValue(
                f"chunk_size must be between 1 and {MAX_CHUNK} (the provider's limit of "
                f"numbers per call), got {self.chunk_size}"
            )
        object.__setattr__(self, "keywords", tuple(banned_keywords(self.keywords)))
        if self.ext is not None and self.at is not None:
            raise InvalidValue(
                "the provider has no operation that schedules a send with an extension "
                "number: send with ext=..., or schedule with at=..., not both"
            )
        if isinstance(self.at, date) and not isinstance(self.at, datetime):
            raise InvalidType(
                f"at={self.at!r} is a date without a time: pass a datetime, e.g. "
                f"datetime({self.at.year}, {self.at.month}, {self.at.day}, 9, 0)"
            )
        if not isinstance(self.margin, timedelta) or self.margin < timedelta(0):
            raise InvalidValue(f"margin must be a timedelta >= 0, got {self.margin!r}")
        if not (isinstance(self.cap, tuple) and all(isinstance(c, Cap) for c in self.cap)):
            object.__setattr__(self, "cap", caps(self.cap))
        if self.quiet_hours is not False and not isinstance(self.quiet_hours, QuietHours):
            object.__setattr__(self, "quiet_hours", quiet_hours(self.quiet_hours) or False)

    def replace(self, **changes: object) -> PlanOptions:
        """A copy with ``changes``, validated again."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunOptions:
    """How a campaign's calls are made.

    Parameters
    ----------
    journal : Journal or str, optional
        Where every call is recorded: a :class:`~smsframe.journal.Journal`, a SQLAlchemy
        URL or a file path; default the user's journal (``smsframe.journal.default_url()``).
    workers : int
        Calls in flight at once.
    progress : bool
        Show a progress bar.
    resend_unknown : bool
        Send again the rows whose earlier call may or may not have gone out.
    extend : bool
        Accept other content than the campaign was sent with, for the rows it never
        attempted (else :class:`~smsframe.errors.CampaignMismatch`).
    schedule_if_quiet : bool
        A send inside its plan's quiet hours is scheduled for when they end (SendTimer)
        instead of refused with :class:`~smsframe.errors.QuietHoursError`.
    """

    journal: Journal | str | Path | None = None
    workers: int = 4
    progress: bool = True
    resend_unknown: bool = False
    extend: bool = False
    schedule_if_quiet: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int):
            raise InvalidType(f"workers must be an int, got {self.workers!r}")
        if self.workers < 1:
            raise InvalidValue(f"workers must be >= 1, got {self.workers}")
