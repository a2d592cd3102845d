"""Contact hygiene across campaigns: rows no campaign should send, whatever it says,
decided from the journal's record of every campaign. Each rule rejects rows with a
reason before anything is sent; the plan counts the rows each one removes.

- **Suppression list** (:mod:`smsframe.suppression`), always: ``suppressed``.
- **Frequency caps**, ``cap=(3, "7D")``: at most 3 messages to one number within 7
  days of each other, counting every campaign in the journal (sent, scheduled, and
  unknown, which may have gone out; not failed), but not the campaign being run, whose
  own rows the journal already keeps from being sent twice: ``capped``.
- **Quiet hours**, ``quiet_hours=("21:00", "08:00")`` China Standard Time: a send
  inside them is refused before any call (:class:`~smsframe.errors.QuietHoursError`),
  a schedule time inside them rejects its row, ``quiet_hours``. Off unless asked for,
  or set for a team by ``SMSFRAME_QUIET_HOURS="21:00-08:00"``.

The journal holds what was sent, so a rule is only as good as the journal it reads:
give every campaign of a team the same one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smsframe.codes import CHINA
from smsframe.errors import InvalidType, InvalidValue, QuietHoursError
from smsframe.outcomes import number_keys, text_column

if TYPE_CHECKING:
    from smsframe.journal import Journal
    from smsframe.plan import Plan

QUIET_HOURS_ENV = "SMSFRAME_QUIET_HOURS"  # a team's default, e.g. "21:00-08:00"

#: Why a row is rejected by a hygiene rule: token -> text.
REASON_TEXT = {
    "suppressed": "the number is on the suppression list (sms_detail: why and since when)",
    "capped": "the number has had as many messages as the frequency cap allows "
    "(sms_detail: the latest)",
    "quiet_hours": "the schedule time falls in the quiet hours (China Standard Time)",
}
_FROM_JOURNAL = ("suppressed", "capped")  # decided again whenever the journal is read


@dataclass(frozen=True)
class Cap:
    """At most ``messages`` to one number within ``window`` of each other."""

    messages: int
    window: pd.Timedelta

    def __str__(self) -> str:
        return f"{self.messages} per {_span(self.window)}"


def caps(value: object) -> tuple[Cap, ...]:
    """``cap=`` read: None, one ``(messages, window)`` pair or a list of them; the window
    a timedelta or a text pandas reads (``"7D"``, ``"24h"``, ``"10min"``).

    >>> caps((3, "7D"))
    (Cap(messages=3, window=Timedelta('7 days 00:00:00')),)
    """
    if value is None:
        return ()
    pairs = [value] if isinstance(value, tuple) and len(value) == 2 and _count(value[0]) else value
    if not isinstance(pairs, list | tuple):
        raise InvalidType(f'cap must be a pair such as (3, "7D"), or a list of them; got {value!r}')
    found = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and _count(pair[0])):
            raise InvalidValue(
                f'cap must be (messages, window) pairs such as (3, "7D"): messages a whole '
                f"number >= 1, window a span; got {pair!r}"
            )
        try:
            window = pd.Timedelta(pair[1])
        except (ValueError, TypeError):
            window = pd.Timedelta(0)
        if pd.isna(window) or window <= pd.Timedelta(0):
            raise InvalidValue(
                f'the window of cap={pair!r} must be a positive span, e.g. "7D", "24h", '
                '"10min" or a timedelta'
            )
        found.append(Cap(int(pair[0]), window))
    return tuple(found)


def _count(value: object) -> bool:
    return bool(isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1)


@dataclass(frozen=True)
class QuietHours:
    """The clock times (China Standard Time) no marketing message should go out between:
    from ``start`` to ``end``, across midnight when ``end`` is earlier."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} China Standard Time"

    def contains(self, times: pd.Series) -> np.ndarray:
        """Per time (tz-aware), whether it falls in the quiet hours; NaT does not."""
        china = times.dt.tz_convert(CHINA)
        minutes = (china.dt.hour * 60 + china.dt.minute).to_numpy(dtype=float)
        start, end = _minutes(self.start), _minutes(self.end)
        inside = (
            (minutes >= start) & (minutes < end)
            if start < end
            else (minutes >= start) | (minutes < end)
        )
        return inside & times.notna().to_numpy()

    def next_allowed(self, at: pd.Timestamp) -> pd.Timestamp:
        """The first time at or after ``at`` outside the quiet hours (China time)."""
        at = at.tz_convert(CHINA)
        if not self.contains(pd.Series([at]))[0]:
            return at
        end = at.normalize() + pd.Timedelta(hours=self.end.hour, minutes=self.end.minute)
        return end if end > at else end + pd.Timedelta(days=1)


def quiet_hours(value: object) -> QuietHours | None:
    """``quiet_hours=`` read: ``("21:00", "08:00")``, ``"21:00-08:00"``, a pair of
    :class:`datetime.time`, or False (off); None takes ``$SMSFRAME_QUIET_HOURS``.

    >>> str(quiet_hours(("21:00", "08:00")))
    '21:00-08:00 China Standard Time'
    """
    if value is None:
        value = os.environ.get(QUIET_HOURS_ENV) or False
    if value is False or value in ("", "off"):
        return None
    try:
        pair = value.split("-") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        start, end = (_clock(t) for t in pair)
    except (TypeError, ValueError):
        raise InvalidValue(
            f'quiet_hours must be two clock times such as ("21:00", "08:00") or '
            f'"21:00-08:00" (China Standard Time), or False; got {value!r}'
        ) from None
    if start == end:
        raise InvalidValue(f"quiet_hours={value!r} starts when it ends: give two times")
    return QuietHours(start, end)


def _clock(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        return datetime.strptime(value.strip(), "%H:%M").time()
    raise TypeError(value)


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


# --------------------------------------------------------------------------- rules
def _quiet_now(plan: Plan, now: pd.Timestamp) -> QuietHours | None:
    """``plan``'s quiet hours if it sends (not schedules) and ``now`` is inside them."""
    quiet = plan.options.quiet_hours
    if not isinstance(quiet, QuietHours) or plan.kind != "send":
        return None
    return quiet if quiet.contains(pd.Series([now]))[0] else None


def refuse_if_quiet(plan: Plan, now: pd.Timestamp | None = None) -> None:
    """Raise :class:`QuietHoursError` if ``plan`` sends now, inside its quiet hours."""
    now = now or pd.Timestamp.now(tz=CHINA)
    quiet = _quiet_now(plan, now)
    if quiet is None:
        return
    allowed = quiet.next_allowed(now)
    raise QuietHoursError(
        f"it is {now.tz_convert(CHINA):%H:%M} China Standard Time, inside the quiet hours "
        f"{quiet}: nothing was sent. Send after {quiet.end:%H:%M}, or pass "
        f"schedule_if_quiet=True to schedule the campaign for {allowed:%Y-%m-%d %H:%M} "
        "(SendTimer)",
        allowed,
    )


def scheduled_when_quiet(plan: Plan, now: pd.Timestamp | None = None) -> Plan:
    """``plan`` made a schedule for the end of its quiet hours, if it sends inside them."""
    now = now or pd.Timestamp.now(tz=CHINA)
    quiet = _quiet_now(plan, now)
    if quiet is None:
        return plan
    if "sms_ext" in plan.rows.columns:
        raise InvalidValue(
            "schedule_if_quiet=True cannot schedule this campaign: the provider has no "
            "operation that schedules a send with an extension number"
        )
    # the pending rows, and those the journal's rules rejected: apply() decides them again
    rows = plan.rows
    sendable = (rows["sms_status"] == "pending").to_numpy() | rows["sms_reason"].isin(
        _FROM_JOURNAL
    ).to_numpy()
    at = pd.Series(pd.NaT, index=rows.index, dtype=pd.DatetimeTZDtype("us", CHINA))
    at = at.mask(sendable, quiet.next_allowed(now))
    return replace(plan, rows=plan.rows.assign(sms_scheduled_for=at))


def reject_quiet_times(rows: pd.DataFrame, quiet: object) -> pd.DataFrame:
    """Reject the pending rows whose schedule time falls in ``quiet`` (a
    :class:`QuietHours`; anything else, e.g. False, is none)."""
    if not isinstance(quiet, QuietHours) or "sms_scheduled_for" not in rows.columns:
        return rows
    times = rows["sms_scheduled_for"]
    inside = quiet.contains(times) & (rows["sms_status"] == "pending").to_numpy()
    if not inside.any():
        return rows
    clocks = times[inside].dt.tz_convert(CHINA).dt.strftime("%H:%M")
    detail = (
        "scheduled for " + clocks + f", inside the quiet hours {quiet}: schedule it at "
        f"{quiet.end:%H:%M} or later"
    )
    return reject(rows, inside, "quiet_hours", detail.to_numpy(dtype=object))


def apply(plan: Plan, journal: Journal, campaign: str | None = None) -> Plan:
    """``plan`` with the rules that read the journal applied afresh: its pending rows
    whose number is suppressed, or over a cap (not counting ``campaign``'s own
    messages), rejected."""
    rows = _reopened(plan.rows)
    pending = (rows["sms_status"] == "pending").to_numpy()
    rows = _suppress(rows, pending, journal.suppressions())
    limits = cast(tuple[Cap, ...], plan.options.cap)  # PlanOptions made them Caps
    if limits:
        pending = (rows["sms_status"] == "pending").to_numpy()
        rows = _cap(rows, pending, limits, journal, campaign)
    return replace(plan, rows=rows) if rows is not plan.rows else plan


def _reopened(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the rejections of the journal's rules undone, to be decided again."""
    reason = rows["sms_reason"]
    again = reason.isin(_FROM_JOURNAL).to_numpy()
    if not again.any():
        return rows
    rows = rows.copy(deep=False)
    rows["sms_reason"] = reason.where(~again)
    rows["sms_status"] = rows["sms_status"].where(~again, "pending")
    rows["sms_detail"] = rows["sms_detail"].where(~again)
    return rows


def _suppress(rows: pd.DataFrame, pending: np.ndarray, listed: pd.DataFrame) -> pd.DataFrame:
    if listed.empty or not pending.any():
        return rows
    keys = number_keys(rows["sms_e164"])
    where = pd.Index(number_keys(listed["phone"])).get_indexer(keys)
    hit = pending & (where >= 0) & (keys >= 0)
    if not hit.any():
        return rows
    entry = listed.iloc[where[hit]]
    since = entry["since"].dt.tz_convert(CHINA).dt.strftime("%Y-%m-%d %H:%M")
    note = entry["note"].where(entry["note"].notna(), "").astype(str)
    detail = (
        "suppressed since "
        + since.to_numpy(dtype=object)
        + " China time: "
        + entry["reason"].fillna("manual").astype(str).to_numpy(dtype=object)
        + np.where(note.to_numpy() != "", " (" + note.to_numpy(dtype=object) + ")", "")
        + ", by "
        + entry["by"].fillna("?").astype(str).to_numpy(dtype=object)
    )
    return reject(rows, hit, "suppressed", detail)


def _cap(
    rows: pd.DataFrame,
    pending: np.ndarray,
    limits: tuple[Cap, ...],
    journal: Journal,
    campaign: str | None,
) -> pd.DataFrame:
    """Reject the pending rows whose number has a cap's ``messages`` or more messages in
    the journal within its ``window`` of the row's own time (now, or its schedule time).
    All in integers: number keys and nanoseconds, no object per row."""
    positions = np.flatnonzero(pending)
    if not len(positions):
        return rows
    if "sms_scheduled_for" in rows.columns:
        stamps = rows["sms_scheduled_for"].to_numpy()[positions]
        times = pd.DatetimeIndex(stamps).tz_convert("UTC").as_unit("ns").asi8
    else:
        times = np.full(len(positions), pd.Timestamp.now(tz="UTC").value, dtype=np.int64)
    keys = number_keys(rows["sms_phone"].to_numpy()[positions])
    widest = max(cap.window for cap in limits)
    first, last = pd.Timestamp(times.min(), tz="UTC"), pd.Timestamp(times.max(), tz="UTC")
    history = _History.read(journal, first - widest, last + widest, campaign, keys)
    capped = np.full(len(positions), -1)  # per pending row, the first cap it exceeds
    counts = np.zeros(len(positions), dtype=np.int64)
    for i, cap in enumerate(limits):
        count = history.counts(keys, times, cap.window.value)
        over = (count >= cap.messages) & (capped < 0)
        capped[over], counts[over] = i, count[over]
    hit_rows = np.flatnonzero(capped >= 0)
    if not len(hit_rows):
        return rows
    when, who = history.latest(keys[hit_rows], times[hit_rows], capped[hit_rows], limits)
    # The words of each (count, cap) once: capped rows share a few.
    said, words = pd.factorize(counts[hit_rows] * len(limits) + capped[hit_rows])
    heads = np.array(
        [
            f"{n} message{'s' if n != 1 else ''} within {_span(limits[c].window)} of this one "
            f"(cap: {limits[c]}); the latest "
            for n, c in zip(words // len(limits), words % len(limits), strict=True)
        ],
        dtype=object,
    )
    campaigns, names = pd.factorize(who)
    quoted = np.array([f" China time, campaign {name!r}" for name in names], dtype=object)
    detail = heads[said] + when.astype(object) + quoted[campaigns]
    hit = np.zeros(len(rows), dtype=bool)
    hit[positions[hit_rows]] = True
    return reject(rows, hit, "capped", detail)


@dataclass(frozen=True)
class _History:
    """The journal's messages to some numbers, one per (message, number), sorted by
    number key then time: ``key``, ``at`` (ns since the epoch, UTC), ``call`` (index
    into ``campaigns``, the campaign of each call read)."""

    key: np.ndarray
    at: np.ndarray
    call: np.ndarray
    campaigns: np.ndarray

    @classmethod
    def read(
        cls,
        journal: Journal,
        start: pd.Timestamp,
        end: pd.Timestamp,
        campaign: str | None,
        keys: np.ndarray,
    ) -> _History:
        """The messages between ``start`` and ``end`` (not ``campaign``'s) to ``keys``.
        A number its call's FailPhone listed got no message."""
        calls = journal.messages_between(start.to_pydatetime(), end.to_pydatetime(), campaign)
        lists = pc.split_pattern(pa.array(calls["numbers"], pa.string()), ";")
        call = pc.list_parent_indices(lists).to_numpy()
        key = number_keys(pc.list_flatten(lists))
        mine = pd.Series(key).isin(keys).to_numpy()  # only the plan's numbers
        call, key = call[mine], key[mine]
        failed = np.flatnonzero(calls["fail_phone"].fillna("").to_numpy(dtype=object) != "")
        if len(failed) and len(key):  # rare: take out the numbers FailPhone listed
            fail = pc.split_pattern(pa.array(calls["fail_phone"].iloc[failed], pa.string()), ";")
            listed = pd.MultiIndex.from_arrays(
                [
                    failed[pc.list_parent_indices(fail).to_numpy()],
                    number_keys(pc.list_flatten(fail)),
                ]
            )
            suspect = np.isin(call, failed)
            drop = np.zeros(len(key), dtype=bool)
            drop[suspect] = pd.MultiIndex.from_arrays([call[suspect], key[suspect]]).isin(listed)
            call, key = call[~drop], key[~drop]
        at = pd.DatetimeIndex(calls["at"]).as_unit("ns").asi8[call]
        order = np.lexsort((at, key))
        return cls(key[order], at[order], call[order], calls["campaign"].to_numpy(dtype=object))

    def counts(self, keys: np.ndarray, times: np.ndarray, window: int) -> np.ndarray:
        """Per number of ``keys``, its messages less than ``window`` ns from its time."""
        lo = np.searchsorted(self.key, keys, "left")
        hi = np.searchsorted(self.key, keys, "right")
        if times.min() == times.max() or not len(self.key):  # one time (a send): counts
            near = np.abs(self.at - times[0]) < window
            before = np.concatenate([[0], np.cumsum(near)])
            return before[hi] - before[lo]
        row, message = self._pairs(lo, hi)  # a schedule with times per row
        near = np.abs(self.at[message] - times[row]) < window
        return np.bincount(row[near], minlength=len(keys))

    def latest(
        self, keys: np.ndarray, times: np.ndarray, which: np.ndarray, caps: tuple[Cap, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each row, when (China time, text) its latest counted message went, whose."""
        lo = np.searchsorted(self.key, keys, "left")
        hi = np.searchsorted(self.key, keys, "right")
        row, message = self._pairs(lo, hi)
        windows = np.array([cap.window.value for cap in caps])[which]
        near = np.abs(self.at[message] - times[row]) < windows[row]
        last = np.full(len(keys), -1)
        np.maximum.at(last, row[near], message[near])  # sorted by time within a number
        when = pd.DatetimeIndex(self.at[last], tz="UTC").tz_convert(CHINA)
        return np.asarray(when.strftime("%Y-%m-%d %H:%M")), self.campaigns[self.call[last]]

    @staticmethod
    def _pairs(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row with each of its number's messages (``lo`` to ``hi``): row, message."""
        spans = hi - lo
        row = np.repeat(np.arange(len(lo)), spans)
        message = np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans)
        return row, message + np.repeat(lo, spans)


def reject(rows: pd.DataFrame, hit: np.ndarray, reason: str, detail: np.ndarray) -> pd.DataFrame:
    """A copy of ``rows`` whose rows ``hit`` are rejected for ``reason``, with ``detail``
    (one per hit row, in order)."""
    rows = rows.copy(deep=False)
    reasons = rows["sms_reason"]
    if reason not in reasons.cat.categories:
        reasons = reasons.cat.add_categories([reason])
    rows["sms_reason"] = reasons.where(~hit, reason)
    rows["sms_status"] = rows["sms_status"].where(~hit, "rejected")
    details = rows["sms_detail"].to_numpy(dtype=object).copy()
    details[hit] = detail
    rows["sms_detail"] = text_column(details, rows.index)
    return rows


def _span(window: timedelta) -> str:
    """A window in words: "7 days", "24 hours", "10 minutes"."""
    seconds = int(pd.Timedelta(window).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"
