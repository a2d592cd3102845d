"""The ``ddf.sms`` accessor on Dask DataFrames: the same methods as ``df.sms``, for data
beyond one machine's memory. ``import smsframe.dask`` registers it (``import smsframe``
does not import Dask)::

    import dask.dataframe as dd
    import smsframe.dask

    contacts = dd.read_parquet("contacts/")          # instead of pd.read_parquet
    plan = contacts.sms.plan(message="您好{name}")    # the same calls as with pandas
    out = plan.send(client, campaign="nov", to="nov-results/")

How the work is split
    Numbers are normalised, messages rendered and rows planned per partition, on
    Dask's workers (a ``distributed`` cluster or threads). A number repeated in an
    earlier partition is a ``duplicate`` as with pandas: ``dedupe`` reads the phone
    column once, partition by partition, and keeps a sorted array of the numbers met
    (8 bytes a number), so that each partition knows its numbers met before.

    Sending happens in this process: partitions come a few at a time, in order, and
    each goes through one campaign (one lease, one journal, one progress bar;
    :mod:`smsframe.partitions`), so that memory holds a few partitions, not the data.
    Before any call, a pass over every partition checks the campaign's content and the
    cost of what is left against the balance. ``ddf.sms.send``/``schedule`` plan each
    partition once: that pass keeps the rows it makes in a temporary folder of this
    process, read back as they are sent (``DaskPlan.send`` computes its lazy rows
    again). Nothing sent to workers holds a client, a journal or a password: they get
    rows, options and numbers.

What differs from pandas
    A group of rows with the same content is chunked into calls per partition (a
    partition ends its group's last call). The journal's rules (suppression list,
    caps) are applied as each partition is sent, not in ``plan``'s figures. A
    duplicate of a number first met in an earlier partition says which partition.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from smsframe import hygiene, phones, preflight
from smsframe.errors import InvalidValue, raises_usage_errors_short
from smsframe.message import render_frame
from smsframe.options import DEFAULT_MARGIN, PlanOptions, RunOptions
from smsframe.outcomes import number_keys, refuse_output_columns
from smsframe.phones._scan import one_thread
from smsframe.plan import (
    SUMMARY_UNITS,
    Plan,
    build,
    call_figures,
    content_sizes,
    figures_of_groups,
    summary_html,
)

if TYPE_CHECKING:
    from smsframe.audits import Audit
    from smsframe.client import Balance, SmsClient
    from smsframe.journal import Content, Journal
    from smsframe.outcomes import Recipients

__all__ = ["WORKER_CONFIG", "DaskPlan", "DaskSmsAccessor"]

#: Dask configuration for a ``distributed`` cluster's workers, set before it starts:
#: ``dask.config.set(smsframe.dask.WORKER_CONFIG)``. Planning is numpy work on arrays a
#: partition long, in long tasks:
#:
#: - Dask starts workers with ``MALLOC_TRIM_THRESHOLD_``, which also pins glibc's
#:   threshold for serving an allocation by ``mmap`` at 128 KiB: every such array is then
#:   mapped, zero-filled page by page and unmapped again (a 1M-row partition: 13x the
#:   page faults, about 1.3x the CPU). This lets the heap serve arrays up to 32 MiB
#:   (glibc's own default) and keeps Dask's trimming.
#: - The workers' statistical profiler samples every thread's stack every 10 ms (about
#:   7% of a plan's CPU): off, the dashboard's Profile page stays empty.
WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 32 * 2**20,
    "distributed.worker.profile.enabled": False,
}


@dd.extensions.register_dataframe_accessor("sms")
class DaskSmsAccessor:
    """``ddf.sms``: :class:`smsframe.accessor.SmsAccessor`'s methods on a Dask DataFrame.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> import smsframe.dask
    >>> contacts = dd.from_pandas(
    ...     pd.DataFrame({"phone": ["138 0013 8000", "13900139000", "+86 138-0013-8000"]}),
    ...     npartitions=2,
    ... )
    >>> contacts.sms.normalize().compute()["sms_reason"].tolist()
    [nan, nan, 'duplicate']
    """

    def __init__(self, frame: dd.DataFrame) -> None:
        self._obj = frame

    @raises_usage_errors_short
    def normalize(
        self, phone: str = "phone", region: str = "CN", dedupe: bool = True
    ) -> dd.DataFrame:
        """Lazily, the frame plus ``sms_phone``, ``sms_e164``, ``sms_reason`` (see
        :func:`smsframe.phones.normalize`); with ``dedupe``, the phone column is read
        once now to find numbers repeated across partitions."""
        frame = self._obj
        meta = phones.normalize_frame(_checked(frame._meta, phone), phone, region)
        duplicates = _Duplicates.found(frame, phone, region) if dedupe else _Duplicates()
        return duplicates.each(frame, meta, _normalize_part, phone, region, dedupe)

    @raises_usage_errors_short
    def render(self, message: str, keywords: Iterable[str] | str | None = None) -> dd.DataFrame:
        """Lazily, the frame plus ``sms_message``, ``sms_parts``, ``sms_reason``,
        ``sms_detail``: see :func:`smsframe.message.render_frame`."""
        meta = render_frame(self._obj._meta, message, keywords=keywords)
        return self._obj.map_partitions(render_frame, message, keywords=keywords, meta=meta)

    @raises_usage_errors_short
    def plan(
        self,
        message: str,
        *,
        phone: str = "phone",
        region: str = "CN",
        chunk_size: int = 100,
        keywords: Iterable[str] | str | Path | None = None,
        ext: object = None,
        at: object = None,
        margin: timedelta = DEFAULT_MARGIN,
        cap: object = None,
        quiet_hours: object = None,
    ) -> DaskPlan:
        """What a campaign would send: a :class:`DaskPlan`, its rows lazy, its figures
        computed when first asked for. Options as ``df.sms.plan``; the journal's rules
        (suppression list, ``cap``) are applied as the campaign sends each partition.

        >>> plan = dd.from_pandas(df, npartitions=2).sms.plan(message="{name}您好")
        >>> plan.summary()["recipients"]
        np.int64(3)
        >>> out = plan.send(client, campaign="nov-dask", progress=False)
        >>> out["sms_status"].value_counts().compute().to_dict()
        {'sent': 3, 'rejected': 1, 'failed': 0, 'unknown': 0, 'skipped': 0}
        """
        options = PlanOptions(
            phone, region, chunk_size, keywords, ext, at, margin, cap, quiet_hours
        )
        return self._plan(message, options)

    def _plan(self, message: str, options: PlanOptions, spill: _Spill | None = None) -> DaskPlan:
        """The plan; with ``spill``, its rows are also kept there as its pass makes them
        (a campaign about to send them then does not plan them again)."""
        frame, at = self._obj, options.at
        meta = build(_checked(frame._meta, options.phone), message, options).rows
        if at is not None:  # a naive time warns here, in the caller's process, as pandas does
            column = isinstance(at, str) and at in frame.columns
            sample = frame[[at]].head(1000, npartitions=1) if column else pd.DataFrame(index=[0])
            preflight.schedule_column(sample, at, margin=options.margin)
        duplicates, figures = _planned(frame, message, options, spill)
        rows = duplicates.each(frame, meta, _plan_part, message, options)
        return DaskPlan(rows, message, options, meta, duplicates.count, figures, spill)

    @raises_usage_errors_short
    def send(
        self,
        client: SmsClient,
        message: str,
        *,
        campaign: str,
        phone: str = "phone",
        region: str = "CN",
        chunk_size: int = 100,
        keywords: Iterable[str] | str | Path | None = None,
        ext: object = None,
        cap: object = None,
        quiet_hours: object = None,
        schedule_if_quiet: bool = False,
        journal: Journal | str | Path | None = None,
        workers: int = 4,
        progress: bool = True,
        resend_unknown: bool = False,
        extend: bool = False,
        to: str | Path | None = None,
    ) -> dd.DataFrame:
        """Send ``message`` to every row, exactly once: see ``df.sms.send`` and
        :meth:`DaskPlan.send` (``to``: a folder to write the outcomes to, as Parquet).

        The pass that plans every partition before any call keeps their rows in a
        temporary folder of this process (``tempfile.gettempdir()``), which the campaign
        reads back as it sends them, then removes."""
        options = PlanOptions(
            phone, region, chunk_size, keywords, ext, None, DEFAULT_MARGIN, cap, quiet_hours
        )
        run = RunOptions(journal, workers, progress, resend_unknown, extend, schedule_if_quiet)
        return self._campaign(client, message, options, campaign, run, to)

    @raises_usage_errors_short
    def schedule(
        self,
        client: SmsClient,
        message: str,
        *,
        at: object,
        campaign: str,
        phone: str = "phone",
        region: str = "CN",
        chunk_size: int = 100,
        keywords: Iterable[str] | str | Path | None = None,
        margin: timedelta = DEFAULT_MARGIN,
        cap: object = None,
        quiet_hours: object = None,
        journal: Journal | str | Path | None = None,
        workers: int = 4,
        progress: bool = True,
        resend_unknown: bool = False,
        extend: bool = False,
        to: str | Path | None = None,
    ) -> dd.DataFrame:
        """Schedule ``message`` for ``at``: see ``df.sms.schedule`` and :meth:`send`."""
        options = PlanOptions(
            phone, region, chunk_size, keywords, None, at, margin, cap, quiet_hours
        )
        run = RunOptions(journal, workers, progress, resend_unknown, extend)
        return self._campaign(client, message, options, campaign, run, to)

    def _campaign(
        self,
        client: SmsClient,
        message: str,
        options: PlanOptions,
        campaign: str,
        run: RunOptions,
        to: str | Path | None,
    ) -> dd.DataFrame:
        from smsframe.campaign import balance_soon, check_name

        check_name(campaign)
        balance = balance_soon(client)
        sink = _Sink(to)  # a folder holding other files: refused now, not after the pass
        balance.result()  # an account's refusal too: the pass may take minutes
        with _Spill() as spill:
            plan = self._plan(message, options, spill)
            return plan._send(client, campaign, run, sink, balance)

    @raises_usage_errors_short
    def audit(self, by: str | list[str] | None = None, **options: Any) -> Audit:
        """The audit of a result (:meth:`send`'s): its ``sms_*`` columns (and ``by``)
        are computed into this process, then as ``df.sms.audit``; pass ``journal=`` and
        ``campaign=`` to reconcile the cost with the journal."""
        from smsframe.audits import from_frame

        wanted = [c for c in self._obj.columns if str(c).startswith("sms_")]
        wanted += [by] if isinstance(by, str) else list(by or [])
        return from_frame(self._obj[list(dict.fromkeys(wanted))].compute(), by=by, **options)


@dataclass
class DaskPlan:
    """What a campaign over a Dask DataFrame will do: ``rows`` (lazy: the frame plus
    ``sms_*`` columns, status pending or rejected) and figures computed on the workers
    without bringing rows here (:meth:`summary`)."""

    rows: dd.DataFrame
    template: str
    options: PlanOptions
    meta: pd.DataFrame  # the rows' columns, no rows
    cross_duplicates: int = 0  # rows whose number an earlier partition has
    _figures: pd.Series | None = field(default=None, repr=False)
    _spill: _Spill | None = field(default=None, repr=False)  # ``rows``, computed

    def summary(self) -> pd.Series:
        """Rows, recipients, rejected rows, calls, parts and cost (:data:`SUMMARY_UNITS`),
        computed once on the workers."""
        if self._figures is None:
            self._figures = _figures(self.rows, self.template, self.options)
        figures = self._figures
        return figures[list(SUMMARY_UNITS)].astype("int64").rename("plan")

    @property
    def cost(self) -> int:
        return int(self.summary()["cost"])

    def rejected(self) -> pd.Series:
        """Rejected rows per reason."""
        self.summary()
        assert self._figures is not None
        rejected = self._figures.filter(like="rejected:")
        rejected.index = [name.split(":", 1)[1] for name in rejected.index]
        rejected = rejected[rejected > 0].astype("int64").sort_values(ascending=False)
        return rejected.rename("rejected")

    @property
    def npartitions(self) -> int:
        return self.rows.npartitions

    @raises_usage_errors_short
    def send(
        self,
        client: SmsClient,
        *,
        campaign: str,
        journal: Journal | str | Path | None = None,
        workers: int = 4,
        progress: bool = True,
        resend_unknown: bool = False,
        extend: bool = False,
        schedule_if_quiet: bool = False,
        to: str | Path | None = None,
    ) -> dd.DataFrame:
        """Send (or schedule) this plan as ``campaign``, partition by partition, exactly
        once (one journal; a re-run sends only what is left, as with pandas).

        Returns a Dask DataFrame of every row with its outcome columns, in the input's
        partitions: kept in this process, or, with ``to``, written there as one Parquet
        file per partition as each is sent (memory then holds a few partitions) and read
        back lazily. Raises as ``df.sms.send``; a campaign that stops midway raises with
        the partitions done so far on ``error.result``.
        """
        from smsframe.campaign import check_name

        check_name(campaign)
        options = RunOptions(journal, workers, progress, resend_unknown, extend, schedule_if_quiet)
        return self._send(client, campaign, options, _Sink(to))

    def _send(
        self,
        client: SmsClient,
        campaign: str,
        options: RunOptions,
        sink: _Sink,
        balance: Future[Balance] | None = None,
    ) -> dd.DataFrame:
        from smsframe.campaign import balance_soon, raise_if_stopped
        from smsframe.partitions import Ahead, execute_parts

        balance = balance or balance_soon(client)
        plan, spill = (self.rows, self.template, self.options), self._spill

        def preflight(content: Content, recorded: Recipients | None) -> Ahead:
            if recorded is None:  # a new campaign: what is left is the plan
                if self._figures is None:
                    self._figures = _figures(*plan)
                figures = self._figures
            else:
                left = _Left(campaign, content, recorded, options.resend_unknown, options.extend)
                if spill is None:
                    figures = _figures(*plan, left)
                else:  # the rows are here: read, not planned again on the workers
                    figures = _total([_part_figures(r, *plan[1:], left) for r in spill.peek()])
            return Ahead(int(figures["recipients"]), int(figures["cost"]))

        ran = execute_parts(
            Plan(self.meta, self.template, self.options),
            spill.read if spill is not None else lambda: _in_order(self.rows.to_delayed()),
            sink.add,
            client,
            campaign=campaign,
            preflight=preflight,
            options=options,
            balance=balance,
        )
        if ran.parts_done == self.npartitions:
            sink.finish()
        result = sink.frame(self.meta)
        left = f"{ran.skipped} rows not sent"
        if ran.parts_done < self.npartitions:
            left += f" and {self.npartitions - ran.parts_done} partitions not started"
        raise_if_stopped(campaign, result, ran.run, ran.stopped, left)
        return result

    def _repr_html_(self) -> str:
        title = f"smsframe plan on Dask ({self.npartitions} partitions)"
        return summary_html(title, self.summary(), self.rejected())

    def __repr__(self) -> str:
        s = self.summary()
        lines = [
            f"DaskPlan ({self.npartitions} partitions): {s.recipients} recipients in "
            f"{s.calls} calls, {s.cost} messages charged at most; "
            f"{s.rejected} of {s.rows} rows rejected"
        ]
        lines += [f"  rejected {reason}: {n}" for reason, n in self.rejected().items()]
        return "\n".join(lines)


# -- duplicates across partitions -------------------------------------------------
@dataclass
class _Duplicates:
    """Per partition, its numbers (keys) that an earlier partition has, and the first
    such partition."""

    parts: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(keys) for keys, _ in self.parts.values())

    @classmethod
    def found(cls, frame: dd.DataFrame, phone: str, region: str) -> _Duplicates:
        """Read ``frame``'s phone column partition by partition, in order."""
        tasks = [
            dask.delayed(_sendable_keys)(part, phone, region)
            for part in frame[[phone]].to_delayed()
        ]
        seen, duplicates = _Seen(len(tasks)), cls()
        for number, keys in enumerate(_in_order(tasks)):
            duplicates.add(number, keys, seen.meet(keys, number))
        return duplicates

    def add(self, number: int, keys: np.ndarray, met: tuple[np.ndarray, np.ndarray]) -> None:
        """Partition ``number``'s sorted ``keys``, and which of them were ``met`` before
        (and where first)."""
        if met[0].any():
            self.parts[number] = (keys[met[0]], met[1])

    def each(self, frame: dd.DataFrame, meta: pd.DataFrame, function, *args: Any) -> dd.DataFrame:
        """Lazily, ``function(partition, *args, its duplicates, its number)`` per partition
        of ``frame``: each task holds its own partition's part of this table only."""
        parts = [
            dask.delayed(function)(part, *args, self.parts.get(number), number)
            for number, part in enumerate(frame.to_delayed())
        ]
        return dd.from_delayed(parts, meta=meta, divisions=frame.divisions, verify_meta=False)


class _Seen:
    """Every number met so far (keys) and the partition it was first met in, as sorted
    runs merged two by two as they grow (a binary counter): each number is copied a
    few times in all, not once per partition."""

    def __init__(self, partitions: int) -> None:
        self.width = np.int16 if partitions < 2**15 else np.int32
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def meet(self, keys: np.ndarray, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Which of partition ``number``'s sorted, distinct ``keys`` were met before, and
        the partition each of those was first met in; the others are met now."""
        met = np.zeros(len(keys), dtype=bool)
        first = np.zeros(len(keys), dtype=self.width)
        for run, firsts in self.runs:
            at = np.minimum(np.searchsorted(run, keys), len(run) - 1)  # runs are not empty
            here = run[at] == keys
            met |= here
            first[here] = firsts[at[here]]
        new = keys[~met]
        if len(new):
            self.runs.append((new, np.full(len(new), number, dtype=self.width)))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            later = self.runs.pop()
            self.runs[-1] = _merged(self.runs[-1], later)
        return met, first[met]


def _merged(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]):
    """Two sorted runs of distinct keys (with their values) as one."""
    keys = np.empty(len(a[0]) + len(b[0]), dtype=a[0].dtype)
    values = np.empty(len(keys), dtype=a[1].dtype)
    into = np.searchsorted(a[0], b[0]) + np.arange(len(b[0]))  # where b's keys go
    mine = np.ones(len(keys), dtype=bool)
    mine[into] = False
    keys[into], values[into] = b
    keys[mine], values[mine] = a
    return keys, values


def _sendable_keys(part: pd.DataFrame, phone: str, region: str) -> np.ndarray:
    with one_thread():
        return phones.sendable_keys(part[phone], region)


def _cross_duplicate_rows(rows: pd.DataFrame, duplicates: tuple[np.ndarray, np.ndarray] | None):
    """The rows whose number an earlier partition sends (a duplicate, whatever else this
    partition says of it), and that partition's number; None when there are none."""
    if duplicates is None:
        return None
    keys, first = duplicates
    mine = number_keys(rows["sms_phone"])
    at = np.minimum(np.searchsorted(keys, mine), len(keys) - 1)
    hit = (keys[at] == mine) & (mine >= 0)
    return hit, first[at[hit]]


def _normalize_part(
    part: pd.DataFrame,
    phone: str,
    region: str,
    dedupe: bool,
    duplicates: tuple[np.ndarray, np.ndarray] | None,
    number: int,
) -> pd.DataFrame:
    rows = phones.normalize_frame(part, phone, region, dedupe=dedupe)
    found = _cross_duplicate_rows(rows, duplicates)
    if found is not None:
        reason = rows["sms_reason"].astype(object)
        reason[found[0]] = "duplicate"
        rows["sms_reason"] = reason.astype(phones.REASON_DTYPE)
    return rows


def _planned(frame: dd.DataFrame, message: str, options: PlanOptions, spill: _Spill | None):
    """``(duplicates, figures)``: every partition planned once, in order; the numbers
    an earlier partition sends found, and the plan's figures with their rows rejected.
    With ``spill``, each partition's rows (as :func:`_plan_part` makes them) kept there."""
    keep = spill is not None
    tasks = [dask.delayed(_part_plan)(p, message, options, keep) for p in frame.to_delayed()]
    seen, duplicates, figures = _Seen(len(tasks)), _Duplicates(), []
    for number, part in enumerate(_in_order(tasks)):
        met = seen.meet(part.keys, number)
        duplicates.add(number, part.keys, met)
        figures.append(part.without(met[0], options.chunk_size))
        if spill is not None:
            assert part.rows is not None
            spill.add(_with_duplicates(part.rows, duplicates.parts.get(number)))
    if spill is not None:
        spill.complete = True
    return duplicates, _total(figures)


@dataclass
class _PartPlan:
    """One partition's plan, as its worker sends it back: its figures, and per number
    it sends (``keys``, sorted) what rejecting that number's row as a duplicate of an
    earlier partition's would change."""

    figures: pd.Series
    keys: np.ndarray
    reason: np.ndarray  # per key, its row's reason (codes of ``reasons``; -1: pending)
    reasons: list[str]
    group: np.ndarray  # per key, its row's group of rows sending one content (-1: none)
    sizes: np.ndarray  # per group, its rows to send ...
    parts: np.ndarray  # ... and the parts of its message
    rows: pd.DataFrame | None = None  # the partition's plan rows, when asked for

    def without(self, met: np.ndarray, chunk_size: int) -> pd.Series:
        """The figures once the rows of the keys ``met`` are rejected as duplicates."""
        if not met.any():
            return self.figures
        figures = self.figures.copy()
        pending = self.group[met] >= 0
        gone = np.unique(self.reason[met][~pending], return_counts=True)
        for code, count in zip(*gone, strict=True):
            figures[f"rejected:{self.reasons[code]}"] -= count  # now a duplicate
        figures["recipients"] -= int(pending.sum())
        figures["rejected"] += int(pending.sum())
        figures["rejected:duplicate"] = figures.get("rejected:duplicate", 0) + int(met.sum())
        left = self.sizes - np.bincount(self.group[met][pending], minlength=len(self.sizes))
        calls = figures_of_groups(left, self.parts, chunk_size)
        figures["calls"], figures["parts"], figures["cost"] = calls.calls, calls.parts, calls.cost
        return figures


def _part_plan(
    part: pd.DataFrame, message: str, options: PlanOptions, keep: bool = False
) -> _PartPlan:
    with one_thread():
        rows = build(part, message, options).rows
    reason = pd.Categorical(rows["sms_reason"])
    # the numbers this partition sends: each row that has one, but its repeats here
    own = rows["sms_phone"].notna().to_numpy() & (reason != "duplicate")
    keys = number_keys(rows["sms_phone"][own])
    order = np.argsort(keys, kind="stable")
    group, sizes, parts = content_sizes(rows)
    return _PartPlan(
        _part_figures(rows, message, options, None),
        keys[order],
        reason.codes[own][order],
        list(reason.categories),
        group[own][order],
        sizes,
        parts,
        rows if keep else None,
    )


def _plan_part(
    part: pd.DataFrame,
    message: str,
    options: PlanOptions,
    duplicates: tuple[np.ndarray, np.ndarray] | None,
    number: int,
) -> pd.DataFrame:
    with one_thread():
        rows = build(part, message, options).rows
    return _with_duplicates(rows, duplicates)


def _with_duplicates(
    rows: pd.DataFrame, duplicates: tuple[np.ndarray, np.ndarray] | None
) -> pd.DataFrame:
    """A partition's plan ``rows`` with those whose number an earlier partition sends
    rejected as duplicates."""
    found = _cross_duplicate_rows(rows, duplicates)
    if found is None:
        return rows
    hit, first = found
    detail = np.array([f"the same number as a row of partition {p}" for p in first], dtype=object)
    return hygiene.reject(rows, hit, "duplicate", detail)


# -- figures ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Left:
    """What the workers need to work out what a campaign has left to send: no client,
    no journal, no password."""

    campaign: str
    content: Content
    recorded: Recipients
    resend_unknown: bool
    extend: bool


def _figures(rows: dd.DataFrame, template: str, options: PlanOptions, left=None) -> pd.Series:
    """The plan's figures summed over its partitions, computed on the workers; with a
    campaign's recorded calls (``left``), of what is left to send (its content checked)."""
    shared = dask.delayed(left, pure=True)
    each = [
        dask.delayed(_part_figures)(part, template, options, shared) for part in rows.to_delayed()
    ]
    return dask.delayed(_total)(each).compute()


def _part_figures(
    rows: pd.DataFrame, template: str, options: PlanOptions, left: _Left | None
) -> pd.Series:
    from smsframe import binding
    from smsframe.campaign import _needs_call

    status = rows["sms_status"]
    to_send = (status == "pending").to_numpy()
    if left is not None:
        keys = number_keys(rows["sms_phone"])
        if not left.extend:
            plan = Plan(rows, template, options)
            binding.check(left.campaign, None, left.content, plan, left.recorded, keys)
        to_send = _needs_call(rows, left.recorded, left.resend_unknown, keys)
    calls = call_figures(rows, options.chunk_size, to_send=to_send)
    rejected = rows.loc[(status == "rejected").to_numpy(), "sms_reason"].astype(object)
    figures = {
        "rows": len(rows),
        "recipients": int(to_send.sum()),
        "rejected": len(rejected),
        "calls": calls.calls,
        "parts": calls.parts,
        "cost": calls.cost,
    }
    figures |= {f"rejected:{k}": int(n) for k, n in rejected.value_counts().items()}
    return pd.Series(figures, dtype="int64")


def _total(figures: Sequence[pd.Series]) -> pd.Series:
    if not figures:
        return pd.Series(dict.fromkeys(SUMMARY_UNITS, 0), dtype="int64")
    return pd.concat(figures, axis=1).fillna(0).sum(axis=1).astype("int64")


# -- partitions, in order, a few at a time ----------------------------------------
def _in_order(tasks: Sequence[Any], window: int | None = None) -> Iterator[Any]:
    """The results of ``tasks`` (Dask delayed objects), in order: ``window`` of them
    (default: the workers' threads) computed at any time, and as many ahead, done or
    waiting to start, while the caller uses one; a worker done with one task starts the
    next at once, whether or not the caller has taken the one before."""
    window = window or _threads()
    left = iter(tasks)
    with ThreadPoolExecutor(window, thread_name_prefix="smsframe-dask") as pool:
        ahead = deque(pool.submit(_computed, task) for task in islice(left, 2 * window))
        try:
            while ahead:
                result = ahead.popleft().result()
                ahead.extend(pool.submit(_computed, task) for task in islice(left, 1))
                yield result
        finally:  # stopped early: what has not started never will
            for future in ahead:
                future.cancel()


def _computed(task: Any) -> Any:
    return dask.compute(task)[0]


def _threads() -> int:
    """Threads of the distributed cluster in use, else this machine's cores."""
    try:
        from distributed import default_client

        return max(1, sum(default_client().nthreads().values()))
    except (ImportError, ValueError):
        return os.cpu_count() or 1


class _Sink:
    """Each partition's outcomes, as they come: kept, or written to ``to`` as Parquet
    (``part.00000.parquet``...; a re-run of the campaign writes them again). The result
    holds every category any partition has (of status and reason)."""

    def __init__(self, to: str | Path | None) -> None:
        self.to = to = Path(to) if to is not None else None
        self.parts: list[pd.DataFrame] = []
        self.files: list[Path] = []
        self.categories: dict[str, list] = {}
        if to is None:
            return
        others = (
            [f.name for f in to.iterdir() if not _PART.fullmatch(f.name)] if to.exists() else []
        )
        if others:
            raise InvalidValue(
                f"{to} holds other files than a campaign's outcomes ({others[0]}...): "
                "give a new folder, or the one an earlier run of this campaign wrote"
            )
        to.mkdir(parents=True, exist_ok=True)

    def add(self, number: int, rows: pd.DataFrame) -> None:
        for column, dtype in rows.dtypes.items():
            if isinstance(dtype, pd.CategoricalDtype):
                known = self.categories.setdefault(str(column), [])
                known += [c for c in dtype.categories if c not in known]
        if self.to is None:
            self.parts.append(rows)
        else:  # whole or not at all: a Ctrl-C while writing leaves no half file
            path = self.to / f"part.{number:05d}.parquet"
            rows.to_parquet(path.with_name(path.name + ".tmp"))
            os.replace(path.with_name(path.name + ".tmp"), path)
            self.files.append(path)

    def finish(self) -> None:
        """Every partition written: part files of an earlier run with more partitions go
        (the folder then holds this run's rows, all of them)."""
        if self.to is not None:
            for stale in set(self.to.iterdir()) - set(self.files):
                if _PART.fullmatch(stale.name):
                    stale.unlink()

    def frame(self, meta: pd.DataFrame) -> dd.DataFrame:
        dtypes = {c: pd.CategoricalDtype(known) for c, known in self.categories.items()}
        if self.files:
            return dd.read_parquet([str(f) for f in self.files]).astype(dtypes)
        if not self.parts:
            return dd.from_pandas(meta, npartitions=1)
        parts = [dask.delayed(part.astype(dtypes), pure=True) for part in self.parts]
        return dd.from_delayed(parts, meta=self.parts[0].iloc[:0].astype(dtypes))


_PART = re.compile(r"part\.\d{5}\.parquet(\.tmp)?")


class _Spill:
    """A plan's rows, partition by partition, in a private temporary folder of this
    process (pickled: every dtype and index comes back as it was): what the pass before
    a campaign computed, read back once as the campaign sends, each file removed as it
    is read. A context manager: the folder goes when it ends."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="smsframe-plan-"))
        self.files: list[Path] = []
        self.complete = False  # every partition is in

    def __enter__(self) -> _Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, rows: pd.DataFrame) -> None:
        path = self.folder / f"part.{len(self.files):05d}.pickle"
        with path.open("wb") as file:
            pickle.dump(rows, file, protocol=pickle.HIGHEST_PROTOCOL)
        self.files.append(path)

    def peek(self) -> Iterator[pd.DataFrame]:
        """The partitions' rows, in order, left in place."""
        if not self.complete:
            raise RuntimeError("the plan's pass did not keep every partition")
        for path in self.files:
            with path.open("rb") as file:
                yield pickle.load(file)  # written by this process, in its own folder

    def read(self) -> Iterator[pd.DataFrame]:
        """The partitions' rows, in order (once: each file goes as it is read)."""
        for path, rows in zip(self.files, self.peek(), strict=True):
            path.unlink()
            yield rows


def _checked(meta: pd.DataFrame, phone: str) -> pd.DataFrame:
    """The frame's columns, refused as ``df.sms`` refuses them."""
    refuse_output_columns(meta)
    if phone not in meta.columns:
        phones.normalize_frame(meta, phone)  # raises MissingColumn, saying what to do
    return meta
