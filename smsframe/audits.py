"""Campaign audits: what a campaign did and why, from its result frame or its journal.

An :class:`Audit` holds one campaign's rows (the result frame of
``df.sms.send``/``df.sms.schedule``, or the journal's per-recipient outcomes)
and derives every table from them:

``status``    rows per status, with their share
``reasons``   rows per status, reason and provider code, with the code's meaning
``cost``      parts charged, balance before and after, and whether they reconcile
``batches``   per provider batch: batch Id, calls, recipients, outcomes, parts
``segments``  per value of the ``by=`` column(s)
``hours``     per hour of the calls (China Standard Time, the provider's clock)
``unknown``   rows whose call may or may not have gone out, with what to do
``resend``    rows certainly not sent and safe to send again, with what to fix first
``rejected``  rows refused before sending, by reason

The journal records only the rows that were called: an audit from the journal
alone has no rejected rows and no rows skipped by a stopped campaign (audit the
result frame, with ``journal=``, to see them).

Pure data in, data out: the journal is read through :mod:`smsframe.journal`.

Examples
--------
>>> out = df.sms.send(client, message="您好{name}", campaign="nov-promo", journal=url)
>>> audit = out.sms.audit(by="segment")
>>> audit                                   # status, reasons, cost, what to act on
Audit of campaign 'nov-promo': 4 rows, from the result frame and the journal ...
cost: 3 parts charged; balance 1000 -> 997 (-3): reconciles
...
>>> audit.to_frame("rejected")[["phone", "sms_reason"]]   # also "resend", "unknown"
          phone  sms_reason
2  021-62345678  not_mobile
>>> audit.plot()                            # status, reasons and timeline charts
<Figure size 1300x... with 4 Axes>
>>> smsframe.audit(url, "nov-promo").cost.reconciles  # days later, from the journal alone
True
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from html import escape
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from smsframe import journal as _journal
from smsframe.codes import CHINA, STATUS_TEXT, STATUSES, decode
from smsframe.errors import InvalidValue, raises_usage_errors_short
from smsframe.outcomes import (
    REASON_ACTION,
    RECIPIENT_COLUMNS,
    STATUS_DTYPE,
    recipients_of,
    rerun_resends,
)
from smsframe.outcomes import REASON_TEXT as OUTCOME_TEXT
from smsframe.plan import REASON_TEXT as PLAN_TEXT

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TABLES", "Audit", "Cost", "audit", "campaigns", "from_frame", "from_journal"]

TABLES = (
    "status",
    "reasons",
    "cost",
    "batches",
    "segments",
    "hours",
    "unknown",
    "resend",
    "rejected",
)
CALLED = ["sent", "scheduled", "failed", "unknown"]  # statuses of rows a call was made for
CHARGED = ["sent", "scheduled"]

REASON_TEXT = {**PLAN_TEXT, **OUTCOME_TEXT}

RERUN = "run the campaign again: a rerun resends these rows"

UNKNOWN_ACTION = {
    "charged": "the balance shows the unknown calls were charged: they most likely went out; "
    "do not resend",
    "not_charged": "the balance shows the unknown calls were not charged: they did not go out; "
    "run the campaign again with resend_unknown=True",
    "some": "the balance shows some unknown calls were charged: check each batch "
    "(sms_timestamp) with the provider before resending",
    "check": "it may have gone out: check the provider's delivery report for its batch "
    "(sms_timestamp) or the balance; if it did not, run the campaign again with "
    "resend_unknown=True",
}

ROW_COLUMNS = [  # the outcome columns shown in the tables of rows to act on
    "sms_phone",
    "sms_status",
    "sms_reason",
    "sms_state",
    "sms_detail",
    "sms_batch_id",
    "sms_timestamp",
    "sms_call_id",
]


@dataclass(frozen=True)
class Cost:
    """Parts charged against the balance recorded before and after the campaign.

    ``charged``: parts the provider certainly charged (accepted numbers x parts);
    ``unknown``: parts of calls whose outcome is unknown (charged or not). The
    balance reconciles when it moved by ``charged`` plus some or all of ``unknown``.
    """

    charged: int
    unknown: int
    balance_before: int | None = None
    balance_after: int | None = None
    journal: bool = False  # whether the balances were looked up in a journal

    @property
    def delta(self) -> int | None:
        """How much the balance went down during the campaign."""
        if self.balance_before is None or self.balance_after is None:
            return None
        return self.balance_before - self.balance_after

    @property
    def difference(self) -> int | None:
        """``delta - charged``: what the balance moved beyond the parts certainly charged."""
        return None if self.delta is None else self.delta - self.charged

    @property
    def reconciles(self) -> bool | None:
        """True when the balance moved by what the campaign explains; None: not recorded."""
        if self.difference is None:
            return None
        return 0 <= self.difference <= self.unknown

    @property
    def unknown_charged(self) -> str | None:
        """What the balance says of the unknown calls: charged, not_charged, some (or None)."""
        if not self.reconciles or self.unknown == 0:
            return None
        if self.difference == self.unknown:
            return "charged"
        return "not_charged" if self.difference == 0 else "some"

    @property
    def note(self) -> str:
        """One sentence saying what the figures mean."""
        if self.balance_before is None and not self.journal:
            return (
                "the balances are in the journal: audit with smsframe.audit(journal, "
                "campaign), or pass journal= and campaign="
            )
        if self.balance_before is None:
            return "the journal recorded no balance: the campaign never got to send"
        if self.balance_after is None:
            return (
                "the balance after the campaign was not recorded (the provider refused "
                "GetBalance at the end): it cannot be reconciled"
            )
        difference, unknown = self.difference, self.unknown
        if self.reconciles:
            if unknown == 0:
                return "the balance moved by exactly the parts charged"
            return UNKNOWN_ACTION[self.unknown_charged]
        if difference < 0:
            return (
                f"the balance went down {-difference} less than the parts charged: the "
                "account was recharged during the campaign, or the provider charged less"
            )
        return (
            f"the balance went down {difference - unknown} more than this campaign explains: "
            "another campaign or sender used the account meanwhile, or the provider "
            "charged more"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row: charged, unknown, balance_before, balance_after, delta, difference,
        reconciles, note."""
        values = {
            "charged": self.charged,
            "unknown": self.unknown,
            "balance_before": self.balance_before,
            "balance_after": self.balance_after,
            "delta": self.delta,
            "difference": self.difference,
        }
        frame = pd.DataFrame({k: pd.array([v], dtype="Int64") for k, v in values.items()})
        frame["reconciles"] = pd.array([self.reconciles], dtype="boolean")
        frame["note"] = pd.array([self.note], dtype="string")
        return frame.set_axis(pd.Index(["cost"]))

    def __str__(self) -> str:
        text = f"{self.charged} parts charged"
        if self.unknown:
            text += f", {self.unknown} parts of unknown calls"
        if self.balance_before is not None:
            after = "?" if self.balance_after is None else self.balance_after
            text += f"; balance {self.balance_before} -> {after}"
            if self.delta is not None:
                text += f" (-{self.delta})" if self.delta >= 0 else f" (+{-self.delta})"
        return f"{text}: {_VERDICT[self.reconciles]}\n  {self.note}"


class Audit:
    """One campaign's audit. Build it with ``result.sms.audit()`` or
    :func:`smsframe.audit`; every table is a property and ``to_frame(name)``.

    Parameters
    ----------
    rows : one row per recipient with the ``sms_*`` outcome columns.
    cost : the campaign's :class:`Cost`.
    campaign : its name, when known.
    by : column(s) of ``rows`` for the ``segments`` table.
    source : where the rows come from, for the repr.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        cost: Cost,
        *,
        campaign: str | None = None,
        by: str | Sequence[str] | None = None,
        source: str = "result frame",
    ) -> None:
        self._rows = rows  # with the private columns every table uses (_with_private)
        self.cost = cost
        self.campaign = campaign
        by = [by] if isinstance(by, str) else list(by) if by is not None else []
        # ``by="operation"`` is short for ``sms_operation`` when there is no such column.
        self.by = [
            c if c in rows.columns or f"sms_{c}" not in rows.columns else f"sms_{c}" for c in by
        ]
        missing = [c for c in self.by if c not in rows.columns]
        if missing:
            columns = ", ".join(c for c in rows.columns if not c.startswith("_"))
            raise InvalidValue(
                f"by: no column {', '.join(map(repr, missing))} to segment on; "
                f"columns: {columns or '(none)'}"
            )
        self.source = source

    # -- tables ------------------------------------------------------------------

    @cached_property
    def rows(self) -> pd.DataFrame:
        """One row per recipient with the ``sms_*`` outcome columns (and the input's)."""
        return self._rows.drop(columns=[c for c in self._rows.columns if c.startswith("_")])

    @property
    def tables(self) -> list[str]:
        """Names for :meth:`to_frame` (``segments`` only with ``by=``)."""
        return [t for t in TABLES if t != "segments" or self.by]

    def to_frame(self, name: str) -> pd.DataFrame:
        """The table ``name``: one of :attr:`tables`.

        >>> audit.to_frame("batches")["recipients"].tolist()
        [1, 1, 1]
        """
        if name == "cost":
            return self.cost.to_frame()
        if name == "segments" and not self.by:
            raise InvalidValue("no segments: audit with by='column', e.g. out.sms.audit(by='city')")
        if name not in TABLES:
            raise InvalidValue(f"no table {name!r}; choose one of {', '.join(self.tables)}")
        return getattr(self, name).copy()

    @cached_property
    def status(self) -> pd.DataFrame:
        """Rows per status (those present, in status order): count, share."""
        counts = self._rows["sms_status"].value_counts(sort=False)
        counts = counts[counts > 0].rename("count")
        counts.index = pd.Index(counts.index.astype(str), name="status")
        return _with_share(counts.to_frame(), len(self._rows))

    @cached_property
    def reasons(self) -> pd.DataFrame:
        """Rows per status, reason and provider code: count, share, meaning (en, zh)."""
        keys = pd.DataFrame(
            {
                "status": self._rows["sms_status"].astype(str),
                "reason": self._rows["sms_reason"].astype(object),
                "code": self._rows["sms_state"].astype("Int64"),
                "operation": self._rows["sms_operation"],
            }
        )
        keys["reason"] = keys["reason"].where(keys["reason"].notna(), "")
        grouped = keys.groupby(["status", "reason", "code"], dropna=False, sort=False)
        table = grouped.agg(count=("operation", "size"), operation=("operation", "first"))
        table = table.reset_index()
        table["order"] = table["status"].map({s: i for i, s in enumerate(STATUSES)})
        table = table.sort_values(["order", "count"], ascending=[True, False], kind="stable")
        meanings = [
            _meaning(s, r, c, op)
            for s, r, c, op in zip(
                table["status"], table["reason"], table["code"], table["operation"], strict=True
            )
        ]
        table["meaning"] = [en for en, _ in meanings]
        table["meaning_zh"] = [zh for _, zh in meanings]
        table = table.drop(columns=["order", "operation"]).reset_index(drop=True)
        table["code"] = table["code"].astype("Int64")
        return _with_share(table, len(self._rows), before="meaning")

    @cached_property
    def batches(self) -> pd.DataFrame:
        """Per provider batch (one Timestamp and message): batch_id, timestamp, calls,
        recipients, sent, scheduled, failed, unknown, parts charged, first and last answer
        (China Standard Time). A batch Id is missing when no call of it was accepted."""
        called = self._called()
        columns = ["batch_id", "timestamp", "calls", "recipients", *CALLED, "parts"]
        if called.empty:
            return pd.DataFrame(columns=[*columns, "first_at", "last_at"])
        group = called.groupby("sms_timestamp", sort=False)
        table = pd.DataFrame(
            {
                "batch_id": group["sms_batch_id"].first().astype("Int64"),
                "calls": group["_call"].nunique(),
                "recipients": group.size(),
            }
        )
        table = table.join(_status_counts(called, "sms_timestamp"))
        table["parts"] = group["_charged"].sum().astype("int64")
        sent_at = called["sms_sent_at"].dt.tz_convert(CHINA)
        table["first_at"] = sent_at.groupby(called["sms_timestamp"]).min()
        table["last_at"] = sent_at.groupby(called["sms_timestamp"]).max()
        table = table.rename_axis("timestamp").reset_index()
        table["timestamp"] = table["timestamp"].astype("Int64")
        table = table.sort_values(["first_at", "timestamp"], ignore_index=True)
        return table[[*columns, "first_at", "last_at"]]

    @cached_property
    def segments(self) -> pd.DataFrame:
        """Per value of the ``by`` column(s): rows, a count per status, sent_share
        (sent or scheduled), parts charged."""
        if not self.by:
            return pd.DataFrame()
        rows = self._rows
        keys = [rows[c] for c in self.by]
        options = {"dropna": False, "observed": True, "sort": True}
        group = rows.groupby(keys, **options)
        table = pd.DataFrame({"rows": group.size()})
        present = list(self.status.index)
        status = rows["sms_status"].astype(str)
        for name in present:
            table[name] = (status == name).groupby(keys, **options).sum()
        delivered = status.isin(CHARGED).groupby(keys, **options).sum()
        table["sent_share"] = delivered / table["rows"]
        table["parts"] = rows["_charged"].groupby(keys, **options).sum()
        return table.astype({"parts": "int64"})

    @cached_property
    def hours(self) -> pd.DataFrame:
        """Per hour of the calls' answers (China Standard Time): recipients, sent,
        scheduled, failed, unknown, parts charged."""
        called = self._called()
        called = called[called["sms_sent_at"].notna()]
        columns = ["recipients", *CALLED, "parts"]
        if called.empty:
            return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], tz=CHINA, name="hour"))
        hour = called["sms_sent_at"].dt.tz_convert(CHINA).dt.floor("h").rename("hour")
        called = called.assign(hour=hour)
        table = pd.DataFrame({"recipients": called.groupby("hour").size()})
        table = table.join(_status_counts(called, "hour"))
        table["parts"] = called.groupby("hour")["_charged"].sum().astype("int64")
        return table[columns]

    @cached_property
    def unknown(self) -> pd.DataFrame:
        """Rows whose call may or may not have gone out, with ``action``: what to do."""
        rows = self._act_on(self._rows["sms_status"] == "unknown")
        action = UNKNOWN_ACTION[self.cost.unknown_charged or "check"]
        return rows.assign(action=pd.array([action] * len(rows), dtype="string"))

    @cached_property
    def resend(self) -> pd.DataFrame:
        """Rows certainly not sent, safe to send again: failed rows the provider did not
        accept, and rows skipped by a stopped campaign. ``rerun``: whether running the
        campaign again resends them by itself; ``action``: what to fix first."""
        rows = self._rows
        status = rows["sms_status"]
        safe = status.eq("skipped") | (status.eq("failed") & rows["_resend_safe"])
        table = self._act_on(safe)
        selected = rows[safe.to_numpy()]
        rerun = selected["sms_status"].eq("skipped") | selected["_transient"]
        actions = [
            _action(reason, state, operation, again)
            for reason, state, operation, again in zip(
                selected["sms_reason"].astype(object),
                selected["sms_state"].astype(object),
                selected["sms_operation"].astype(object),
                rerun,
                strict=True,
            )
        ]
        return table.assign(
            rerun=pd.array(rerun.to_numpy(), dtype="boolean"),
            action=pd.array(actions, dtype="string"),
        )

    @cached_property
    def rejected(self) -> pd.DataFrame:
        """Rows refused before sending, sorted by reason (``sms_detail`` says why)."""
        table = self._act_on(self._rows["sms_status"] == "rejected")
        if table.empty:
            return table
        reason = table["sms_reason"].astype(str)
        frequency = reason.map(reason.value_counts())
        order = pd.DataFrame({"n": -frequency.to_numpy(), "reason": reason.to_numpy()})
        return table.iloc[order.sort_values(["n", "reason"], kind="stable").index]

    def summary(self) -> pd.Series:
        """Headline figures: rows, a count per status, parts charged and unknown,
        balance before and after, reconciles."""
        counts = self._rows["sms_status"].value_counts(sort=False).reindex(STATUSES, fill_value=0)
        cost = self.cost
        values = {
            "rows": len(self._rows),
            **{name: int(n) for name, n in counts.items()},
            "charged": cost.charged,
            "unknown_parts": cost.unknown,
            "balance_before": cost.balance_before,
            "balance_after": cost.balance_after,
            "reconciles": cost.reconciles,
        }
        return pd.Series(values, name=self.campaign, dtype=object)

    # -- display ------------------------------------------------------------------
    def __repr__(self) -> str:
        title = f"Audit of campaign {self.campaign!r}" if self.campaign else "Audit"
        lines = [f"{title}: {len(self._rows)} rows, from the {self.source}"]
        lines += ["", "by status:", _text(self.status)]
        lines += ["", "by reason and provider code:"]
        lines.append(_text(self.reasons.drop(columns=["meaning_zh"]), index=False))
        lines += ["", f"cost: {self.cost}"]
        batches, hours = self.batches, self.hours
        if len(batches):
            first, last = batches["first_at"].min(), batches["last_at"].max()
            lines.append(
                f"\n{_plural(len(batches), 'batch')}, "
                f"{_plural(int(batches['calls'].sum()), 'call')}, "
                f"{_plural(int(batches['recipients'].sum()), 'recipient')}, "
                f"{first:%Y-%m-%d %H:%M:%S} to {last:%H:%M:%S} (China time), "
                f"{_plural(len(hours), 'hour')}"
            )
        if self.by:
            lines += ["", f"by {', '.join(self.by)}:", _text(self.segments)]
        lines += ["", "to act on:", *(f"  {line}" for line in self._act_on_summary())]
        return "\n".join(lines)

    def _act_on_summary(self) -> list[str]:
        lines = []
        unknown, resend, rejected = self.unknown, self.resend, self.rejected
        if len(unknown):
            lines.append(f"{len(unknown)} unknown: {unknown['action'].iloc[0]}")
        if len(resend):
            rerun = int(resend["rerun"].sum())
            if rerun == len(resend):
                then = "a rerun of the campaign sends them"
            elif rerun:
                then = f"a rerun sends {rerun} of them; the others need a fix first (action)"
            else:
                then = "each needs a fix first (action), then a new campaign"
            lines.append(f"{len(resend)} safe to resend ({_counts(resend['sms_status'])}): {then}")
        if len(rejected):
            lines.append(f"{len(rejected)} rejected ({_counts(rejected['sms_reason'])})")
        if not lines:
            return ["nothing"]
        return [*lines, 'audit.to_frame("unknown" | "resend" | "rejected") lists the rows']

    def _repr_html_(self) -> str:
        title = f"Audit of campaign {escape(repr(self.campaign))}" if self.campaign else "Audit"
        parts = [
            f"<div class='smsframe-audit'><h3>{title}</h3>",
            f"<p>{len(self._rows)} rows, from the {escape(self.source)}</p>",
            _html("by status", self.status),
            _html("by reason and provider code", self.reasons, index=False),
            _html(f"cost: {_VERDICT[self.cost.reconciles]}", self.cost.to_frame()),
            _html("per batch", self.batches, index=False),
        ]
        if self.by:
            parts.append(_html(f"by {', '.join(self.by)}", self.segments))
        parts.append(_html("per hour (China time)", self.hours))
        items = "".join(f"<li>{escape(line)}</li>" for line in self._act_on_summary())
        parts.append(f"<h4>to act on</h4><ul>{items}</ul>")
        return "".join(parts) + "</div>"

    def to_html(self, plot: bool = True) -> str:
        """A standalone HTML page of the audit, with the charts embedded when ``plot``."""
        body = self._repr_html_()
        if plot:
            buffer = io.BytesIO()
            self.plot().savefig(buffer, format="png", dpi=100)
            data = base64.b64encode(buffer.getvalue()).decode("ascii")
            body += f"<img alt='audit charts' src='data:image/png;base64,{data}'>"
        title = escape(f"smsframe audit: {self.campaign or ''}")
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{title}</title><style>{_CSS}</style></head><body>{body}</body></html>"
        )

    def plot(self, figsize: tuple[float, float] | None = None) -> Figure:
        """The charts: rows by status, rows not sent by reason, cumulative recipients
        over time by status (clock times in China Standard Time) and, with ``by=``,
        rows per segment by status. Returns a matplotlib Figure; ``figsize`` defaults
        to (13, 4), taller with ``by=``.

        Text is set in a CJK font that comes with smsframe's dependencies (Noto Sans SC),
        so Chinese campaign names and segments render; matplotlib's global settings
        are left as they were.

        >>> audit.plot().savefig("audit.png")  # a matplotlib Figure
        """
        from smsframe.charts import draw  # matplotlib loads slowly: only for a chart

        return draw(self, figsize)

    # -- helpers -----------------------------------------------------------------------
    def _called(self) -> pd.DataFrame:
        rows = self._rows
        return rows[rows["sms_status"].isin(CALLED) & rows["sms_timestamp"].notna()]

    def _act_on(self, mask: pd.Series) -> pd.DataFrame:
        rows = self._rows[mask.to_numpy()]
        own = [c for c in rows.columns if not c.startswith(("sms_", "_"))]
        shown = [c for c in ROW_COLUMNS if c in rows.columns and rows[c].notna().any()]
        return rows[own + shown]


# -- building an audit ---------------------------------------------------------------------
def from_frame(
    frame: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    journal: _journal.Journal | str | None = None,
    campaign: str | None = None,
) -> Audit:
    """The audit of a result frame (``df.sms.send(...)``'s). With ``journal`` and
    ``campaign`` (by default those the frame was sent with, kept in ``frame.attrs``),
    the balance is reconciled and calls are counted from the journal.

    Examples
    --------
    >>> out = df.sms.send(client, message="您好{name}", campaign="nov", progress=False)
    >>> out.sms.audit(by="segment").status["count"].to_dict()
    {'sent': 3, 'rejected': 1}
    """
    if "sms_status" not in frame.columns:
        raise InvalidValue(
            "not a result frame (no sms_status column): audit the frame returned by "
            "df.sms.send(...) or df.sms.schedule(...)"
        )
    if journal is None and campaign is None:
        sent_with = frame.attrs.get("smsframe", {})
        journal, campaign = sent_with.get("journal"), sent_with.get("campaign")
    if (journal is None) != (campaign is None):
        raise InvalidValue("pass both journal= and campaign= (or neither)")
    rows = frame.copy()
    for column, dtype in (
        ("sms_phone", "string"),
        ("sms_reason", object),
        ("sms_state", "Int64"),
        ("sms_detail", "string"),
        ("sms_parts", "Int64"),
        ("sms_batch_id", "Int64"),
        ("sms_timestamp", "Int64"),
    ):
        if column not in rows.columns:
            rows[column] = pd.Series(pd.NA, index=rows.index, dtype=dtype)
    if "sms_sent_at" not in rows.columns:
        rows["sms_sent_at"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[us, UTC]")
    # A frame read back from CSV or Parquet: times as text, codes as floats...
    rows["sms_sent_at"] = pd.to_datetime(rows["sms_sent_at"], utc=True)
    for column in ("sms_state", "sms_parts", "sms_batch_id", "sms_timestamp"):
        rows[column] = _ints(rows[column]).set_axis(rows.index)
    rows["sms_status"] = rows["sms_status"].astype(STATUS_DTYPE)
    operation = pd.Series("SendMessage", index=rows.index, dtype=object)
    if "sms_ext" in rows.columns:
        operation[rows["sms_ext"].notna().to_numpy()] = "SendMessageExt"
    if "sms_scheduled_for" in rows.columns:
        operation[rows["sms_scheduled_for"].notna().to_numpy()] = "SendTimer"
    rows["sms_operation"] = operation
    if journal is None:
        rows["sms_call_id"] = pd.Series(pd.NA, index=rows.index, dtype="Int64")
        rows = _derive(rows)
        cost = _cost_from_rows(rows)
        return Audit(rows, cost, by=by, source="result frame")
    with _opened(journal) as opened:
        info = _campaign_info(opened, campaign)
        calls = opened.calls(campaign)  # every call, superseded ones too: the cost
    recipients = recipients_of(calls)
    ids = np.full(len(rows), -1, dtype=np.int64)
    if recipients is not None:
        ids = recipients.call_ids(rows["sms_phone"])
    called = (ids >= 0) & rows["sms_status"].isin(CALLED).to_numpy()
    rows["sms_call_id"] = pd.Series(ids, index=rows.index, dtype="Int64").where(called)
    rows = _derive(rows)
    cost = _cost_from_calls(calls, info)
    source = f"result frame and the journal {_name(opened)}"
    return Audit(rows, cost, campaign=campaign, by=by, source=source)


@raises_usage_errors_short
def from_journal(
    journal: _journal.Journal | str, campaign: str, *, by: str | Sequence[str] | None = None
) -> Audit:
    """The audit of ``campaign`` from the journal alone: the rows that were called, and
    those its latest run did not call (rejected, skipped), as the journal recorded them.

    Examples
    --------
    >>> from smsframe.audits import from_journal
    >>> from_journal(url, "nov-promo").to_frame("batches")["recipients"].sum()
    np.int64(3)
    """
    with _opened(journal) as opened:
        info = _campaign_info(opened, campaign)
        calls = opened.calls(campaign)  # read once: the recipients and the cost
        unsent = opened.unsent(campaign)
    found = recipients_of(calls)
    recipients = found.frame() if found else pd.DataFrame(columns=RECIPIENT_COLUMNS)
    source = f"journal {_name(opened)}"
    by_id = calls.set_index("id") if len(calls) else None

    def per_call(column: str) -> pd.Series:
        if by_id is None:
            return pd.Series([], dtype=object)
        return recipients["call_id"].map(by_id[column])

    rows = pd.DataFrame(
        {
            "sms_phone": pd.array(recipients["phone"], dtype="string"),
            "sms_status": pd.Categorical(recipients["status"], dtype=STATUS_DTYPE),
            "sms_reason": recipients["reason"].astype(object),
            "sms_state": _ints(recipients["state"]),
            "sms_detail": pd.array(recipients["detail"], dtype="string"),
            "sms_parts": _ints(per_call("parts")),
            "sms_batch_id": _ints(recipients["batch_id"]),
            "sms_timestamp": _ints(recipients["timestamp"]),
            "sms_sent_at": pd.to_datetime(recipients["sent_at"], utc=True),
            "sms_scheduled_for": recipients["scheduled_for"],
            "sms_operation": per_call("operation").astype(object),
            "sms_call_id": _ints(recipients["call_id"]),
        }
    )
    if len(unsent):
        not_called = pd.DataFrame(
            {
                "sms_phone": pd.array(unsent["phone"], dtype="string"),
                "sms_status": pd.Categorical(unsent["status"], dtype=STATUS_DTYPE),
                "sms_reason": unsent["reason"].astype(object),
                "sms_detail": pd.array(unsent["detail"], dtype="string"),
            }
        )
        rows = pd.concat([rows, not_called], ignore_index=True)
        for column in ("sms_state", "sms_parts", "sms_batch_id", "sms_timestamp", "sms_call_id"):
            rows[column] = rows[column].astype("Int64")
        rows["sms_status"] = rows["sms_status"].astype(STATUS_DTYPE)
    rows = _derive(rows)
    return Audit(rows, _cost_from_calls(calls, info), campaign=campaign, by=by, source=source)


@raises_usage_errors_short
def audit(
    journal: _journal.Journal | str, campaign: str, *, by: str | Sequence[str] | None = None
) -> Audit:
    """The audit of ``campaign`` from its journal, in any process, any day later.

    ``journal``: its SQLAlchemy URL (``sqlite:///journal.sqlite``), a file path, or a
    :class:`~smsframe.journal.Journal`. The journal holds the rows that were called
    and those the campaign's latest run rejected or skipped, with their reasons.

    Examples
    --------
    >>> import smsframe
    >>> audit = smsframe.audit(url, "nov-promo")   # e.g. "postgresql://team@db/journal"
    >>> audit.cost.reconciles
    True
    >>> audit.to_frame("unknown").empty
    True
    """
    return from_journal(journal, campaign, by=by)


def campaigns(journal: _journal.Journal | str) -> pd.DataFrame:
    """Every campaign of the journal with its totals: created_at (China time),
    recipients called, a count per status, parts charged, balance before and after,
    reconciles."""
    with _opened(journal) as opened:
        names = list(opened.campaigns().get("name", []))
        audits = [from_journal(opened, name) for name in names]
        infos = [opened.campaign_info(name) for name in names]
    columns = [
        "created_at",
        "account_id",
        "recipients",
        *CALLED,
        "charged",
        "unknown_parts",
        "balance_before",
        "balance_after",
        "reconciles",
    ]
    if not names:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="campaign"))
    table = pd.DataFrame([a.summary() for a in audits], index=pd.Index(names, name="campaign"))
    table["recipients"] = table["rows"]
    table["account_id"] = [info["account_id"] for info in infos]
    created = pd.to_datetime([info["created_at"] for info in infos], utc=True)
    table["created_at"] = created.tz_convert(CHINA)
    table = table[columns]
    ints = ["account_id", "recipients", *CALLED, "charged", "unknown_parts"]
    ints += ["balance_before", "balance_after"]
    table = table.astype({c: "Int64" for c in ints})
    return table.astype({"reconciles": "boolean"})


# -- internals -------------------------------------------------------------------------------
_VERDICT = {True: "reconciles", False: "DOES NOT RECONCILE", None: "not reconciled"}
_CSS = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}caption{text-align:left;"
    "font-weight:bold}"
)


class _opened:
    """A Journal from a URL (closed on exit) or the one given (left open)."""

    def __init__(self, journal: _journal.Journal | str) -> None:
        self.given = isinstance(journal, _journal.Journal)
        self.journal = journal if self.given else _journal.existing(journal)

    def __enter__(self) -> _journal.Journal:
        return self.journal

    def __exit__(self, *exc: object) -> None:
        if not self.given:
            self.journal.close()


def _name(journal: _journal.Journal) -> str:
    return repr(journal).removeprefix("<Journal ").removesuffix(">")


def _campaign_info(journal: _journal.Journal, campaign: str) -> dict:
    info = journal.campaign_info(campaign)
    if info is None:
        names = list(journal.campaigns().get("name", []))
        known = ", ".join(map(repr, names)) if names else "none"
        raise InvalidValue(f"no campaign {campaign!r} in {journal!r}; its campaigns: {known}")
    return info


def _ints(values: pd.Series) -> pd.Series:
    return pd.Series(pd.array(pd.to_numeric(values), dtype="Float64").astype("Int64"))


def _derive(rows: pd.DataFrame) -> pd.DataFrame:
    """Columns every table uses: ``_charged`` (parts the row was charged), ``_call``
    (its call: the journal's id, else the time of the call's answer), ``_resend_safe``
    and ``_transient`` (failed rows: certainly not accepted; a rerun resends them)."""
    status = rows["sms_status"]
    parts = rows["sms_parts"].astype("Int64").fillna(0).astype("int64")
    rows["_charged"] = parts.where(status.isin(CHARGED), 0)
    calls = rows["sms_call_id"]
    rows["_call"] = calls if calls.notna().any() else rows["sms_sent_at"]
    # Decode once per distinct (reason, state, operation), not once per row.
    keys = pd.DataFrame(
        {
            "reason": rows["sms_reason"].astype(object),
            "state": rows["sms_state"].astype("Int64"),
            "operation": rows["sms_operation"].fillna("SendMessage"),
        },
        index=rows.index,
    )
    ids = keys.groupby(list(keys.columns), dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(keys))).groupby(ids).first().to_numpy()
    flags = [_flags(*values) for values in keys.iloc[first].itertuples(index=False)]
    safe = np.array([f[0] for f in flags] or [], dtype=bool)
    transient = np.array([f[1] for f in flags] or [], dtype=bool)
    rows["_resend_safe"] = safe[ids] if len(ids) else np.zeros(0, dtype=bool)
    rows["_transient"] = (transient[ids] if len(ids) else np.zeros(0, dtype=bool)) & status.eq(
        "failed"
    ).to_numpy()
    return rows


def _flags(reason: object, state: object, operation: str) -> tuple[bool, bool]:
    """(resend_safe, transient) of a failed row: FailPhone numbers were not accepted and a
    rerun does not resend them; else the code says."""
    if reason == "fail_phone":
        return True, False
    safe = True if pd.isna(state) else decode(operation, int(state)).resend_safe
    return safe, rerun_resends(operation, state)


def _cost_from_rows(rows: pd.DataFrame) -> Cost:
    unknown = rows["sms_parts"].astype("Int64").fillna(0)[rows["sms_status"] == "unknown"]
    return Cost(charged=int(rows["_charged"].sum()), unknown=int(unknown.sum()))


def _cost_from_calls(calls: pd.DataFrame, info: dict) -> Cost:
    """Every call of the campaign, including calls a rerun superseded: accepted
    numbers x parts are charged; the parts of calls with an unknown outcome may be."""
    charged = unknown = 0
    for status, parts, recipients, listed in zip(
        calls.get("status", []),
        calls.get("parts", []),
        calls.get("recipients", []),
        calls.get("fail_phone", []),
        strict=True,
    ):
        if status in CHARGED:
            failed = len([p for p in (listed or "").split(";") if p])
            charged += int(parts) * (int(recipients) - failed)
        elif status == "unknown":
            unknown += int(parts) * int(recipients)
    before, after = info.get("balance_before"), info.get("balance_after")
    return Cost(
        charged,
        unknown,
        None if before is None else int(before),
        None if after is None else int(after),
        journal=True,
    )


def _with_share(table: pd.DataFrame, total: int, before: str | None = None) -> pd.DataFrame:
    share = table["count"] / total if total else table["count"] * 0.0
    position = table.columns.get_loc(before) if before else len(table.columns)
    table.insert(position, "share", share.astype("float64"))
    return table


def _status_counts(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per value of ``rows[key]``, the rows of each called status."""
    flags = pd.DataFrame({name: rows["sms_status"].eq(name) for name in CALLED}, index=rows.index)
    return flags.groupby(rows[key], sort=False).sum()


def _meaning(status: str, reason: str, code: object, operation: object) -> tuple[str, str]:
    if reason and reason != "provider_refused":
        return REASON_TEXT.get(reason, reason), ""
    if not pd.isna(code):
        decoded = decode(operation if isinstance(operation, str) else "SendMessage", int(code))
        return decoded.en, decoded.zh
    return STATUS_TEXT.get(status, status), ""


def _action(reason: object, state: object, operation: object, rerun: bool) -> str:
    """What to do with a row certainly not sent: its reason's action, else its code's."""
    if reason in REASON_ACTION:
        return REASON_ACTION[reason]
    code = None
    if not pd.isna(state):
        code = decode(operation if isinstance(operation, str) else "SendMessage", int(state))
    if rerun:
        return code.action if code is not None and code.account_level else RERUN
    if code is not None:
        return code.action or f"{code.en}: fix it, then send these rows as a new campaign"
    return "send these rows again as a new campaign"


def _counts(values: pd.Series) -> str:
    counts = values.astype(str).value_counts()
    return ", ".join(f"{n} {value}" for value, n in counts.items())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith("ch") else f"{n} {word}s"


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    """A copy to display: shares in %, times to the second, missing values blank."""
    shown = table.copy()
    for column in ("share", "sent_share"):
        if column in shown.columns:
            shown[column] = shown[column].map("{:.1%}".format)
    for column in shown.columns:
        if isinstance(shown[column].dtype, pd.DatetimeTZDtype):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d %H:%M:%S")
        if shown[column].hasnans:
            shown[column] = shown[column].astype(object).where(shown[column].notna(), "")
    if isinstance(shown.index, pd.DatetimeIndex):
        shown.index = shown.index.strftime("%Y-%m-%d %H:00")
    return shown


def _text(table: pd.DataFrame, index: bool = True, rows: int = 20) -> str:
    shown = _formatted(table.head(rows))
    text = shown.to_string(index=index, na_rep="")
    if len(table) > rows:
        text += f"\n... {len(table) - rows} more"
    return text


def _html(caption: str, table: pd.DataFrame, index: bool = True, rows: int = 50) -> str:
    shown = _formatted(table.head(rows))
    html = shown.to_html(index=index, na_rep="", border=0)
    more = f"<p>... {len(table) - rows} more</p>" if len(table) > rows else ""
    return f"<h4>{escape(caption)}</h4>{html}{more}"
