"""Per-row pre-flight checks of a send's options: the extension number and the
schedule time. Pure data in, data out; each failure is a reason token.

Times: a naive datetime means China Standard Time (the provider's clock); an
aware one is converted to it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from smsframe.codes import CHINA
from smsframe.errors import InvalidType, InvalidValue, MissingColumn, warn
from smsframe.options import DEFAULT_MARGIN

EXT = re.compile(r"[0-9]{1,6}")

# The reason tokens of ext_column and of schedule_column, with their text.
EXT_REASONS = {"bad_ext": "the extension must be 1 to 6 digits"}
SCHEDULE_REASONS = {
    "bad_schedule_time": "the schedule time could not be read as a date and time",
    "schedule_in_past": "the schedule time is in the past",
    "schedule_too_soon": "the schedule time is closer than the margin (default 2 minutes)",
}
REASON_TEXT = {**EXT_REASONS, **SCHEDULE_REASONS}


def _column_or_constant(frame: pd.DataFrame, value: object, what: str) -> pd.Series:
    if isinstance(value, str) and value in frame.columns:
        column = frame[value]
        if isinstance(column, pd.DataFrame):
            raise InvalidValue(f"several columns are named {value!r}; rename them first")
        return column
    if isinstance(value, pd.Series):
        raise InvalidType(f"pass {what} as a column name or one value, not a Series")
    return pd.Series([value] * len(frame), index=frame.index, dtype=object)


def ext_column(frame: pd.DataFrame, ext: object) -> tuple[pd.Series, pd.Series]:
    """``(sms_ext, reason)``: ext as text of 1-6 digits, from a column name or a constant.
    A missing ext means none (the row is sent without one).

    >>> import pandas as pd
    >>> ext_column(pd.DataFrame({"e": ["12", "1234567", 7, None]}), "e")[1].tolist()
    [None, 'bad_ext', None, None]
    """
    values = _column_or_constant(frame, ext, "ext")
    absent = [v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" for v in values]
    texts = [None if a else _ext_text(v) for a, v in zip(absent, values, strict=True)]
    reasons = [
        None if a or t is not None else "bad_ext" for a, t in zip(absent, texts, strict=True)
    ]
    return (
        pd.Series(texts, index=frame.index, dtype=object, name="sms_ext"),
        pd.Series(reasons, index=frame.index, dtype=object),
    )


def _ext_text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        value = str(value)
    if isinstance(value, str) and EXT.fullmatch(value.strip()):
        return value.strip()
    return None


def china_times(values: pd.Series) -> pd.Series:
    """Each value as a tz-aware Asia/Shanghai time, NaT where it cannot be read."""
    out: list[object] = []
    for value in values:
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            out.append(pd.NaT)
            continue
        if pd.isna(stamp):
            out.append(pd.NaT)
            continue
        stamp = stamp.tz_localize(CHINA) if stamp.tzinfo is None else stamp.tz_convert(CHINA)
        out.append(stamp)
    return pd.Series(out, index=values.index, dtype=pd.DatetimeTZDtype("us", CHINA))


class NaiveTimeWarning(UserWarning):
    """A schedule time without a time zone, on a machine whose clock is not China's."""


def _warn_if_naive(values: pd.Series, times: pd.Series) -> None:
    """Say how a naive time was read when this machine's clock is not China's: on a UTC
    laptop ``datetime.now() + timedelta(hours=1)`` is eight hours in the past in China."""
    here = datetime.now().astimezone()
    if here.utcoffset() == datetime.now(CHINA).utcoffset():
        return
    known = times.notna().to_numpy()
    naive = [value for value in values[known].head(1000) if _naive(value)]
    if not naive:
        return
    first = times[known].iloc[0]
    local = first.tz_convert(here.tzinfo)
    warn(
        f"at={naive[0]!s} has no time zone, so it is read as China Standard Time (the "
        f"provider's clock): {first:%Y-%m-%d %H:%M} in China is {local:%Y-%m-%d %H:%M} on this "
        f"machine's clock ({here.tzname()}). To be explicit, pass an aware time, e.g. "
        "datetime.now(ZoneInfo('Asia/Shanghai')) + timedelta(hours=1)",
        NaiveTimeWarning,
    )


def _naive(value: object) -> bool:
    """Whether a time (a datetime, or a text such as "2030-01-01 09:00") has no zone."""
    try:
        return pd.Timestamp(value).tzinfo is None  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def schedule_column(
    frame: pd.DataFrame,
    at: object,
    *,
    margin: timedelta = DEFAULT_MARGIN,
    now: datetime | None = None,
) -> tuple[pd.Series, pd.Series]:
    """``(sms_scheduled_for, reason)`` from one time (a datetime or a text such as
    ``"2030-01-01 09:00"``) or the name of a column of times.

    >>> from datetime import datetime
    >>> df = pd.DataFrame({"t": ["2030-01-01 09:00", "yesterday", "2001-01-01"]})
    >>> schedule_column(df, "t", now=datetime(2026, 1, 1))[1].tolist()
    [None, 'bad_schedule_time', 'schedule_in_past']
    """
    if isinstance(at, str) and at not in frame.columns:
        if china_times(pd.Series([at])).isna().all():
            raise MissingColumn(
                f"at={at!r} is neither a column nor a date and time; pass a datetime, "
                "a text such as '2030-01-01 09:00' (China Standard Time) or a column name"
            )
        at = pd.Timestamp(at)
    values = _column_or_constant(frame, at, "at")
    times = china_times(values)
    if now is None:
        _warn_if_naive(values, times)
    current = pd.Timestamp(now if now is not None else datetime.now(CHINA))
    current = current.tz_localize(CHINA) if current.tzinfo is None else current.tz_convert(CHINA)
    reason = np.full(len(frame), None, dtype=object)
    missing = times.isna().to_numpy()
    reason[missing] = "bad_schedule_time"
    known = ~missing
    past = known & (times <= current).to_numpy()
    soon = known & ~past & (times < current + margin).to_numpy()
    reason[past] = "schedule_in_past"
    reason[soon] = "schedule_too_soon"
    return times.rename("sms_scheduled_for"), pd.Series(reason, index=frame.index, dtype=object)
