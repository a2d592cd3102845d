"""Rows -> groups -> calls: what a campaign will send, before anything is sent.

Rows with the same rendered message (and ext and schedule time) form a group;
a group is split into calls of at most ``chunk_size`` numbers, all sharing the
group's Timestamp so the provider files them under one batch.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from html import escape
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from smsframe import hygiene, phones, preflight
from smsframe import message as messages
from smsframe.errors import InvalidValue, raises_usage_errors_short
from smsframe.keys import digest
from smsframe.options import MAX_CHUNK, PlanOptions, RunOptions
from smsframe.outcomes import KIND_STATUSES, is_missing, refuse_output_columns
from smsframe.phones._output import _present, _text_blocks, _texts_at

if TYPE_CHECKING:
    from smsframe.client import SmsClient
    from smsframe.journal import Journal


# What each figure of Plan.summary() counts.
SUMMARY_UNITS = {
    "rows": "rows of the frame",
    "recipients": "numbers to send to",
    "rejected": "rows refused before sending",
    "calls": "provider calls",
    "parts": "SMS parts per message, summed over the calls",
    "cost": "messages charged at most (parts x recipients)",
}


@dataclass(frozen=True)
class BalanceCheck:
    """A plan's cost against the account's balance."""

    cost: int
    balance: int

    @property
    def enough(self) -> bool:
        return self.cost <= self.balance

    def __repr__(self) -> str:
        verdict = "enough" if self.enough else f"short by {self.cost - self.balance}"
        return f"BalanceCheck(cost={self.cost}, balance={self.balance}: {verdict})"


@dataclass
class Plan:
    """What a campaign will do: ``rows`` (input + ``sms_*`` columns, status pending or
    rejected) and ``calls`` (one row per provider call)."""

    rows: pd.DataFrame
    template: str  # the message as given, a constant or a {column} template
    options: PlanOptions = field(default_factory=PlanOptions)

    @cached_property
    def calls(self) -> pd.DataFrame:
        """One row per provider call of the pending rows (:func:`chunk_calls`), made
        when first looked at: sending works out what is left to send itself."""
        return chunk_calls(self.rows, self.options.chunk_size)

    @cached_property
    def contents(self) -> tuple[np.ndarray, list[tuple]]:
        """Per row, its group of rows sending the same content, and per group that
        content (:func:`content_groups`), made when first needed."""
        return content_groups(self.rows)

    @cached_property
    def lint(self) -> pd.DataFrame:
        """What to check before sending, as warnings (never rejections): a missing
        signature or opt-out line, links, characters that cost parts, a send between
        21:00 and 08:00 China time, and trims that would save parts. One row per finding
        (rule, rows, text, example): :func:`smsframe.lint.lint`."""
        from smsframe.lint import lint, lint_frame

        return lint_frame(lint(self.rows))

    @property
    def chunk_size(self) -> int:
        return self.options.chunk_size

    @property
    def phone(self) -> str:
        """The input's column of numbers."""
        return self.options.phone

    @property
    def kind(self) -> str:
        """``schedule`` (SendTimer) or ``send``."""
        return "schedule" if "sms_scheduled_for" in self.rows.columns else "send"

    @cached_property
    def _figures(self) -> CallFigures:
        return call_figures(self.rows, self.options.chunk_size)

    def summary(self) -> pd.Series:
        """Recipients, rejected rows, calls, parts and total cost (:data:`SUMMARY_UNITS`),
        counted without making the calls."""
        status = self.rows["sms_status"]
        figures = self._figures
        return pd.Series(
            {
                "rows": len(self.rows),
                "recipients": int((status == "pending").sum()),
                "rejected": int((status == "rejected").sum()),
                "calls": figures.calls,
                "parts": figures.parts,
                "cost": figures.cost,
            },
            name="plan",
        )

    @property
    def cost(self) -> int:
        """Messages charged if every number is accepted: parts x recipients."""
        return self._figures.cost

    def rejected(self) -> pd.Series:
        """Rejected rows per reason."""
        rejected = self.rows.loc[self.rows["sms_status"] == "rejected", "sms_reason"]
        counts = rejected.value_counts()
        return counts[counts > 0].rename("rejected")

    @raises_usage_errors_short
    def send(
        self,
        client: SmsClient,
        *,
        campaign: str,
        journal: Journal | str | None = None,
        workers: int = 4,
        progress: bool = True,
        resend_unknown: bool = False,
        extend: bool = False,
        schedule_if_quiet: bool = False,
    ) -> pd.DataFrame:
        """Send (or schedule) exactly this plan as ``campaign``: the rows and calls
        previewed, nothing planned again. Options as :class:`~smsframe.options.RunOptions`;
        the result as ``df.sms.send``.

        A scheduled plan whose times have come closer than its margin since it was made
        is refused (plan it again): the provider would refuse those calls. The
        suppression list and caps are read again from the campaign's journal as it
        starts: a number suppressed since the plan was made is not sent to.

        >>> plan = df.sms.plan(message="【品牌】您好{name}")
        >>> plan  # look before sending (and at any warning, e.g. of a send after 21:00)
        ... # doctest: +ELLIPSIS
        Plan: 3 recipients in 3 calls, 3 messages charged at most; 1 of 4 rows rejected
          rejected not_mobile: 1...
        >>> out = plan.send(client, campaign="welcome", progress=False)
        >>> out["sms_status"].tolist()
        ['sent', 'sent', 'rejected', 'sent']
        """
        from smsframe.campaign import execute  # the campaign runs plans: it imports this

        self._check_still_valid()
        options = RunOptions(journal, workers, progress, resend_unknown, extend, schedule_if_quiet)
        return execute(self, client, campaign=campaign, options=options)

    def _check_still_valid(self) -> None:
        if self.kind != "schedule":
            return
        pending = self.rows["sms_status"] == "pending"
        times = self.rows.loc[pending, "sms_scheduled_for"]
        limit = pd.Timestamp.now(tz="UTC") + self.options.margin
        late = int((times < limit).sum())
        if late:
            raise InvalidValue(
                f"{late} rows of this plan are now scheduled closer than its margin "
                f"({self.options.margin}) or in the past: plan it again"
            )

    def check(self, client) -> BalanceCheck:
        """Compare the plan's cost with ``client.balance()``."""
        return BalanceCheck(self.cost, client.balance().balance)

    def __repr__(self) -> str:
        s = self.summary()
        lines = [
            f"Plan: {s.recipients} recipients in {s.calls} calls, "
            f"{s.cost} messages charged at most; {s.rejected} of {s.rows} rows rejected"
        ]
        lines += [f"  rejected {reason}: {n}" for reason, n in self.rejected().items()]
        lines += [f"  warning: {text}" for text in self.lint["text"]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return summary_html("smsframe plan", self.summary(), self.rejected(), self.lint["text"])


def summary_html(title: str, summary: pd.Series, rejected: pd.Series, warnings=()) -> str:
    """A plan's figures, rejected rows by reason and warnings, as HTML for a notebook."""
    cells = "".join(
        f"<tr><th>{k}</th><td>{v:,}</td><td>{SUMMARY_UNITS[str(k)]}</td></tr>"
        for k, v in summary.items()
    )
    by_reason = "".join(
        f"<tr><th>{escape(str(reason))}</th><td>{n}</td></tr>" for reason, n in rejected.items()
    )
    extra = f"<table><caption>rejected by reason</caption>{by_reason}</table>" if by_reason else ""
    items = "".join(f"<li>{escape(text)}</li>" for text in warnings)
    if items:
        extra += f"<p>check before sending:</p><ul>{items}</ul>"
    return f"<div><strong>{escape(title)}</strong><table>{cells}</table>{extra}</div>"


def build(
    frame: pd.DataFrame,
    message: str,
    options: PlanOptions | None = None,
    *,
    journal: Journal | None = None,
    campaign: str | None = None,
) -> Plan:
    """Plan a campaign: normalise numbers, render messages, check ext and schedule
    time per row (and quiet hours), and split the sendable rows into calls (see
    :class:`PlanOptions`). With a ``journal``, rows it suppresses or caps are rejected
    too (:func:`smsframe.hygiene.apply`; ``campaign``'s own messages not counted);
    a campaign applies those rules itself, under its lease, as it starts.

    Examples
    --------
    >>> import pandas as pd, smsframe
    >>> df = pd.DataFrame({"name": ["王伟", "李娜"], "phone": ["138 0013 8000", "hello"]})
    >>> plan = df.sms.plan(message="您好{name}，双十一优惠")
    >>> int(plan.summary()["recipients"])
    1
    """
    options = options or PlanOptions()
    refuse_output_columns(frame)
    rows = messages.render_frame(
        phones.normalize_frame(frame, options.phone, options.region),
        message,
        keywords=options.keywords,
    )
    reason = rows["sms_reason"]
    ext, at = options.ext, options.at
    if ext is not None or at is not None:
        reason, categories = reason.astype(object), list(reason.cat.categories)
        if ext is not None:
            rows["sms_ext"], ext_reason = preflight.ext_column(frame, ext)
            reason = reason.where(reason.notna(), ext_reason)
            categories += list(preflight.EXT_REASONS)
        if at is not None:
            rows["sms_scheduled_for"], at_reason = preflight.schedule_column(
                frame, at, margin=options.margin
            )
            reason = reason.where(reason.notna(), at_reason)
            categories += list(preflight.SCHEDULE_REASONS)
        reason = reason.astype(pd.CategoricalDtype(list(dict.fromkeys(categories))))
        rows["sms_reason"] = reason
    rejected = reason.notna().to_numpy()
    status = pd.Categorical.from_codes(  # False, True are the codes 0, 1: no copy
        rejected.view(np.int8), dtype=pd.CategoricalDtype(KIND_STATUSES["plan"])
    )
    rows["sms_status"] = pd.Series(status, index=rows.index, copy=False)  # set as it is
    # (a Categorical itself would be copied)
    rows["sms_detail"] = _details(
        reason, rows["sms_detail"], phones.details(frame[options.phone], rows)
    )
    if at is not None:  # the threshold, in words
        soon = (reason == "schedule_too_soon").to_numpy()
        rows.loc[soon, "sms_detail"] = (
            f"the schedule time is less than {_duration(options.margin)} ahead "
            f"(margin={options.margin!r}): schedule later, or pass a smaller margin"
        )
    plan = Plan(hygiene.reject_quiet_times(rows, options.quiet_hours), message, options)
    return plan if journal is None else hygiene.apply(plan, journal, campaign)


def _duration(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


REASON_TEXT = {
    **phones.REASON_TEXT,
    **messages.REASON_TEXT,
    **preflight.REASON_TEXT,
    **hygiene.REASON_TEXT,
}


def _details(reason: pd.Series, found: pd.Series, words: pd.Series) -> pd.Series:
    """The text of each row's reason (a categorical); for banned keywords, the keywords
    found; the words a step gave (the missing column, the numbers of a cell, the row
    a duplicate repeats) where it gave some."""
    codes = reason.cat.codes.to_numpy()
    # the rows that have any (few, mostly): no copy of every row's text
    with_found, with_words = _present(found), _present(words)
    rows = np.union1d(np.flatnonzero(codes >= 0), np.union1d(with_found, with_words))
    codes, has_found, has_words = codes[rows], np.isin(rows, with_found), np.isin(rows, with_words)
    texts = np.array([np.nan, *(REASON_TEXT[c] for c in reason.cat.categories)], dtype=object)
    some = texts[codes + 1]
    found_values = _texts_at(found, rows)
    if "banned_keyword" in reason.cat.categories:
        keywords = has_found & (codes == reason.cat.categories.get_loc("banned_keyword"))
        said = [f"the message contains a banned keyword: {k}" for k in found_values[keywords]]
        some[keywords] = said
        has_found &= ~keywords
    some[has_found] = found_values[has_found]
    some[has_words] = _texts_at(words, rows[has_words])  # a step's own first
    return _text_blocks(len(reason), some, reason.index, rows)  # never spelled out row by row


def first_of_its_number(rows: pd.DataFrame) -> np.ndarray:
    """Rows that are not a ``duplicate`` of an earlier row's number (by category code)."""
    reason = rows["sms_reason"]
    if not isinstance(reason.dtype, pd.CategoricalDtype):
        return (reason.astype(object) != "duplicate").to_numpy()
    if "duplicate" not in reason.cat.categories:
        return np.ones(len(rows), dtype=bool)
    return reason.cat.codes.to_numpy() != reason.cat.categories.get_loc("duplicate")


def operation_for(ext: object, at: object) -> str:
    if at is not None:
        return "SendTimer"
    return "SendMessageExt" if ext is not None else "SendMessage"


def chunk_calls(
    rows: pd.DataFrame,
    chunk_size: int = 100,
    *,
    to_send: np.ndarray | None = None,
    first_timestamp: int | None = None,
) -> pd.DataFrame:
    """One row per provider call for the ``pending`` rows of ``rows`` (or those where
    ``to_send`` is True).

    Groups are keyed by ``sms_message`` (and ``sms_ext``, ``sms_scheduled_for`` when
    present), in order of first appearance; numbers keep the rows' order. Each group
    gets its own proposed Timestamp, ``first_timestamp`` + group number.
    """
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK}, got {chunk_size}")
    first_timestamp = int(time.time()) if first_timestamp is None else first_timestamp
    if to_send is None:
        to_send = (rows["sms_status"] == "pending").to_numpy()
    pending = np.flatnonzero(to_send)
    columns = [
        "group_key",
        "operation",
        "message",
        "message_hash",
        "ext",
        "at",
        "timestamp",
        "numbers",
        "positions",
        "recipients",
        "parts",
        "cost",
    ]
    if len(pending) == 0:
        return pd.DataFrame(columns=CALL_COLUMNS)
    used = [c for c in ("sms_phone", "sms_parts", *CONTENT) if c in rows.columns]
    selected = rows[used].iloc[pending]  # not the input's own columns
    codes, contents = content_groups(selected)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    group_starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    group_sizes = np.diff(np.r_[group_starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(group_starts, group_sizes)
    call_starts = np.flatnonzero(
        np.r_[True, (sorted_codes[1:] != sorted_codes[:-1]) | (rank[1:] % chunk_size == 0)]
    )
    positions = pending[order]
    phones = selected["sms_phone"].to_numpy(dtype=object)[order]
    parts = selected["sms_parts"].to_numpy()[order]
    bounds = np.r_[call_starts, len(order)]
    records = []
    group_info: dict[int, tuple] = {}
    for start, stop in itertools.pairwise(bounds):
        code = int(sorted_codes[start])
        if code not in group_info:
            message, ext, at = contents[code]
            group_info[code] = (
                group_key((message, ext, at)),
                operation_for(ext, at),
                message,
                digest(message),
                ext,
                at,
                first_timestamp + code,
            )
        n = int(stop - start)
        part = int(parts[start])
        records.append(
            (*group_info[code], tuple(phones[start:stop]), positions[start:stop], n, part, n * part)
        )
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in ("ext", "at"):  # None stays None (not NaN) for the client
        frame[column] = pd.Series([r[columns.index(column)] for r in records], dtype=object)
    return frame[CALL_COLUMNS]


@dataclass(frozen=True)
class CallFigures:
    """What the calls of :func:`chunk_calls` add up to."""

    calls: int
    parts: int  # SMS parts per message, summed over the calls
    cost: int  # parts x recipients


def call_figures(
    rows: pd.DataFrame, chunk_size: int = 100, *, to_send: np.ndarray | None = None
) -> CallFigures:
    """The number of calls, parts and cost of ``chunk_calls(rows, chunk_size,
    to_send=to_send)``, counted per group of rows sending the same content, without a
    string per number.

    >>> rows = pd.DataFrame({"sms_phone": ["13800138000", "13900139000", "13700137000"],
    ...                      "sms_parts": [2, 2, 1], "sms_status": ["pending"] * 3,
    ...                      "sms_message": ["long", "long", "short"]})
    >>> call_figures(rows, chunk_size=1)
    CallFigures(calls=3, parts=5, cost=5)
    """
    _, sizes, parts = content_sizes(rows, to_send)
    return figures_of_groups(sizes, parts, chunk_size)


def content_sizes(
    rows: pd.DataFrame, to_send: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(group, sizes, parts)``: per row to send (``to_send``, default the pending
    rows), its group of rows sending the same content (-1: not to send); per group, its
    rows and the parts of its message."""
    if to_send is None:
        to_send = (rows["sms_status"] == "pending").to_numpy()
    selected = rows[[c for c in ("sms_parts", *CONTENT) if c in rows.columns]]
    every = bool(to_send.all())
    if not every:  # no copy of the rows when all are to send
        pending = np.flatnonzero(to_send)
        selected = selected.iloc[pending]
    if len(selected) == 0:
        group = np.full(len(rows), -1, dtype=np.intp)
        return group, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    chosen, contents = content_groups(selected)
    if every:
        group = chosen
    else:
        group = np.full(len(rows), -1, dtype=np.intp)
        group[pending] = chosen
    parts = selected["sms_parts"].iloc[_firsts(chosen)].to_numpy(dtype=np.int64)
    if len(contents) == 1:  # every row sends the same: no count to make (nor cast)
        return group, np.array([len(chosen)]), parts
    return group, np.bincount(chosen, minlength=len(contents)), parts


def figures_of_groups(sizes: np.ndarray, parts: np.ndarray, chunk_size: int) -> CallFigures:
    """The calls, parts and cost of groups of ``sizes`` rows, each sending ``parts``."""
    calls = -(-sizes // chunk_size)  # a group's calls: its rows, chunk_size at a time
    return CallFigures(int(calls.sum()), int((calls * parts).sum()), int((sizes * parts).sum()))


# A call table's columns, what a reader looks for first; the keys (hashes) last.
CALL_COLUMNS = [
    "operation",
    "message",
    "recipients",
    "parts",
    "cost",
    "ext",
    "at",
    "numbers",
    "positions",
    "timestamp",
    "group_key",
    "message_hash",
]


CONTENT = ("sms_message", "sms_ext", "sms_scheduled_for")  # what a row sends


def group_key(content: tuple) -> str:
    """The key of the calls that send ``content`` (message, ext, schedule time)."""
    return digest(*content)


def content_groups(rows: pd.DataFrame) -> tuple[np.ndarray, list[tuple]]:
    """Per row, its group of rows sending the same :data:`CONTENT` (0, 1... in order of
    first appearance), and per group that content: (message, ext, schedule time)."""
    # Rows alike in every column, found by their columns' codes (no tuple per row) ...
    group: np.ndarray = np.zeros(len(rows), dtype=np.int8)  # one group so far: a byte a row
    for key in (k for k in CONTENT if k in rows):
        codes = _codes(rows[key])
        if codes is not None:  # None: one value in every row (a constant message, no ext)
            group = pd.factorize(group.astype(np.int64) * (int(codes.max()) + 2) + codes + 1)[0]
    # ... then each group's content, from its first row.
    firsts = rows.iloc[_firsts(group)]
    values = [
        firsts[k].to_numpy(dtype=object) if k in rows else [None] * len(firsts) for k in CONTENT
    ]
    return group, [tuple(map(_none, row)) for row in zip(*values, strict=True)]


def _firsts(group: np.ndarray) -> np.ndarray:
    """The position of each group's first row, for groups numbered 0, 1... as met."""
    if not group.any():  # one group (or none)
        return np.zeros(min(len(group), 1), dtype=np.intp)
    new = np.ones(len(group), dtype=bool)
    new[1:] = group[1:] > np.maximum.accumulate(group)[:-1]
    return np.flatnonzero(new)


def _codes(column: pd.Series) -> np.ndarray | None:
    """``pd.factorize``'s codes (-1: missing), or None when every row holds the same
    value: found at once for a constant message (the same str object in every row,
    compared by identity first)."""
    values: pd.Series | np.ndarray = column  # times, numbers: hashed as they are
    if pd.api.types.is_string_dtype(column.dtype):
        text = column.to_numpy()  # Python strings: their own array, not a copy
        if len(text) and isinstance(text[0], str) and _all_equal(text, text[0]):
            return None
        values = text
    codes = pd.factorize(values, use_na_sentinel=True)[0]
    if len(codes) == 0 or (codes == codes[0]).all():
        return None
    return codes.astype(np.int64)


def _all_equal(values: np.ndarray, value: object, block: int = 1 << 16) -> bool:
    """Whether every value equals ``value``, compared a block at a time (no flag per row)."""
    return all((values[at : at + block] == value).all() for at in range(0, len(values), block))


def _none(value: object) -> object:
    """None for a missing value; text and times (NaT too) as they are."""
    if isinstance(value, str | datetime):
        return value
    return None if is_missing(value) else value
