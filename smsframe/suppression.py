"""The suppression list: numbers no campaign may message (opted out, complained,
blocked), kept in the journal, so that a team on one PostgreSQL journal shares it.

Numbers are read with the same rules as contacts (:func:`smsframe.phones.normalize`)
and kept in E.164, so ``+86 138 0013 8000`` suppresses ``138-0013-8000``. A removal is
recorded as an event beside the addition, never a silent delete:
``suppressions(history=True)`` shows who changed what, and when.

Examples
--------
>>> import smsframe
>>> added = smsframe.suppress(["+86 138 0013 8000", "hello"], note="replied T")
>>> added[["phone", "status", "reason"]]
               phone        status        reason
0  +86 138 0013 8000    suppressed       opt_out
1              hello  not_a_number  not_a_number
>>> smsframe.suppressions()[["phone", "reason", "note"]]
            phone   reason       note
0  +8613800138000  opt_out  replied T
>>> smsframe.unsuppress(["13800138000"], note="opted in again")["status"].tolist()
['removed']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from smsframe import phones
from smsframe.errors import InvalidType, InvalidValue, MissingColumn, MissingFile, warn

if TYPE_CHECKING:
    from smsframe.journal import Journal

#: Why a number is suppressed: token -> meaning.
REASONS = {
    "opt_out": "the recipient asked for no more messages (回T退订, STOP)",
    "complaint": "the recipient complained (to the carrier, the provider or you)",
    "blocked": "the carrier or the provider blocked this number",
    "manual": "suppressed by hand (the note says why)",
}

Numbers = Sequence[str] | pd.Series | pd.DataFrame | str | Path


def suppress(
    numbers: Numbers,
    *,
    reason: str = "opt_out",
    note: str | None = None,
    journal: Journal | str | Path | None = None,
    column: str = "phone",
    region: str = "CN",
) -> pd.DataFrame:
    """Add ``numbers`` to the suppression list: no later plan, send or schedule on this
    journal sends to them (their rows are rejected ``suppressed``).

    Parameters
    ----------
    numbers : list, Series, DataFrame, or the path of a CSV file
        The numbers in any spelling a contact list has; of a frame or a CSV file, its
        ``column`` (or its only column).
    reason : str
        One of :data:`REASONS`: opt_out, complaint, blocked, manual.
    note : str, optional
        Free text kept with each number (the campaign it replied to, a ticket...).
    journal : Journal, str or Path, optional
        Whose list: default the user's journal (``smsframe.journal.default_url()``).
    region : str
        Where numbers without a country code are from.

    Returns
    -------
    DataFrame
        One row per number given: ``phone`` as given, ``sms_e164``, ``status``
        (suppressed, already_suppressed, not_a_number) and ``reason``.
    """
    if reason not in REASONS:
        raise InvalidValue(f"reason must be one of {', '.join(REASONS)}; got {reason!r}")
    return _change(numbers, "add", reason, note, journal, column, region)


def unsuppress(
    numbers: Numbers,
    *,
    note: str | None = None,
    journal: Journal | str | Path | None = None,
    column: str = "phone",
    region: str = "CN",
) -> pd.DataFrame:
    """Take ``numbers`` off the suppression list (recorded, with ``note``): campaigns may
    message them again. Arguments and result as :func:`suppress`; ``status`` is removed,
    not_suppressed or not_a_number."""
    return _change(numbers, "remove", None, note, journal, column, region)


def suppressions(
    journal: Journal | str | Path | None = None, *, history: bool = False
) -> pd.DataFrame:
    """The numbers suppressed now: phone (E.164), reason, note, since (UTC), by
    (user@host); ``history``: every addition and removal instead."""
    with opened(journal) as open_journal:
        return open_journal.suppressions(history=history)


@contextmanager
def opened(journal: Journal | str | Path | None) -> Iterator[Journal]:
    """``journal`` open for the block: a :class:`Journal` as it is, else the one at
    that address (default the user's), closed after."""
    from smsframe.journal import Journal

    if isinstance(journal, Journal):
        yield journal
        return
    own = Journal(journal)
    try:
        yield own
    finally:
        own.close()


@contextmanager
def readable(journal: Journal | str | Path | None) -> Iterator[Journal | None]:
    """``journal`` open to read for the block, or None when there is none yet (the
    user's first plan: nothing was sent, nothing suppressed; no file is made)."""
    from smsframe.journal import Journal, address, as_url, default_url, existing

    if isinstance(journal, Journal):
        yield journal
        return
    url = as_url(journal) if journal is not None else default_url()
    file = address(url).file
    if file is not None and not file.exists():
        yield None
        return
    own = existing(url) if file is not None else Journal(url)  # a server's: tables made
    try:
        yield own
    finally:
        own.close()


def _change(
    numbers: Numbers,
    action: str,
    reason: str | None,
    note: str | None,
    journal: Journal | str | Path | None,
    column: str,
    region: str,
) -> pd.DataFrame:
    given = _numbers(numbers, column, region)
    found = phones.normalize(given, region, dedupe=False)
    e164 = found["sms_e164"].astype(object)
    readable = e164.notna().to_numpy()
    first = readable & ~e164.duplicated().to_numpy()
    with opened(journal) as open_journal:
        changed = open_journal.record_suppressions(
            list(e164[first]), action, reason=reason, note=note
        )
    change = readable & e164.isin(changed).to_numpy()  # every row of a number it changed
    done, unchanged = (
        ("suppressed", "already_suppressed") if action == "add" else ("removed", "not_suppressed")
    )
    status = np.where(change, done, np.where(readable, unchanged, "not_a_number"))
    unread = found["sms_reason"].astype(object).where(~readable, None)
    result = pd.DataFrame(
        {
            "phone": given.to_numpy(dtype=object),
            "sms_e164": found["sms_e164"].to_numpy(),
            "status": status,
            "reason": unread.mask(readable, reason) if action == "add" else unread,
        },
        index=given.index,
    )
    if not readable.all():
        bad = given[~readable]
        warn(
            f"{len(bad)} of {len(given)} values are no phone number and were not "
            f"{'added' if action == 'add' else 'removed'} (e.g. {bad.iloc[0]!r}): the "
            "result's status is not_a_number for them, its reason says why"
        )
    return result


def numbers_in_csv(
    path: str | Path, column: str = "phone", region: str = "CN", *, hint: str = "column='...'"
) -> pd.Series:
    """The numbers of a CSV file: its ``column``, or its only column. A file of numbers
    alone, without a header, is read whole: its first number is no column's name.
    ``hint``: how the caller names another column, for the error when it is missing."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingFile(f"{path}: no such file: check the path")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        headless = len(frame.columns) == 1 and column not in frame.columns
        if headless and phones.normalize([frame.columns[0]], region)["sms_e164"].notna().all():
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, header=None)
    except pd.errors.EmptyDataError:
        raise InvalidValue(f"{path} is empty: no number to read in it") from None
    except (ValueError, UnicodeError) as error:  # not a CSV file pandas can read
        message = " ".join(str(error).split())
        raise InvalidValue(f"{path} cannot be read as CSV ({message})") from None
    return _column(frame, column, hint)


def _column(frame: pd.DataFrame, column: str, hint: str = "column='...'") -> pd.Series:
    """A frame's ``column``, or its only column."""
    if column in frame.columns:
        return frame[column]
    if len(frame.columns) == 1:
        return frame.iloc[:, 0]
    raise MissingColumn(
        f"no column {column!r} among {', '.join(map(repr, frame.columns))}: give {hint}"
    )


def _numbers(numbers: Numbers, column: str, region: str) -> pd.Series:
    """The numbers given, as a Series (a frame's or a CSV file's ``column``)."""
    if isinstance(numbers, str | Path):
        return numbers_in_csv(numbers, column, region)
    if isinstance(numbers, pd.DataFrame):
        return _column(numbers, column)
    if isinstance(numbers, pd.Series):
        return numbers
    if isinstance(numbers, Sequence):
        return pd.Series(list(numbers), dtype=object)
    raise InvalidType(
        f"numbers must be a list, a Series, a DataFrame or a CSV file's path; got "
        f"{type(numbers).__name__}"
    )
