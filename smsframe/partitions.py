"""A campaign sent part by part: for a frame too large for memory (``smsframe.dask``
streams a Dask DataFrame's partitions through it).

The same rules as :func:`smsframe.campaign.execute`, held once for the whole campaign:
one lease, one journal, one progress bar, and the pre-flight checks (content bound to
the campaign's name, the cost of what is left against the balance) on a pass over every
part before anything is sent. Then each part in turn: the journal's rules applied
afresh, what is left of it chunked into calls and sent, its rows' outcomes handed to a
sink. A part's outcomes come from this run's calls (as the journal recorded them) and
the campaign's earlier calls, read once as it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

import pandas as pd

from smsframe import binding, hygiene
from smsframe.campaign import (
    _balance_after,
    _close,
    _needs_call,
    _resent,
    _result,
    _unsent,
    balance_soon,
    check_name,
)
from smsframe.client import Balance, SmsClient
from smsframe.errors import InsufficientBalance, JournalError
from smsframe.journal import Content, Journal, Lease
from smsframe.options import RunOptions
from smsframe.outcomes import CHINA, Recipients, number_keys, recipients_of
from smsframe.plan import Plan, chunk_calls
from smsframe.runner import ProgressBar, Run, Stopped, run_calls


@dataclass(frozen=True)
class Ahead:
    """What the campaign will send, from a pass over every part: recipients and cost
    of the rows left to send."""

    recipients: int
    cost: int


@dataclass
class Ran:
    """How a campaign over parts ended."""

    run: Run
    stopped: Stopped
    parts_done: int  # parts whose outcomes went to the sink, in order from the first
    skipped: int  # rows of those parts not sent


Preflight = Callable[[Content, Recipients | None], Ahead]


def execute_parts(
    meta: Plan,
    parts: Callable[[], Iterator[pd.DataFrame]],
    sink: Callable[[int, pd.DataFrame], None],
    client: SmsClient,
    *,
    campaign: str,
    preflight: Preflight,
    options: RunOptions | None = None,
    balance: Future[Balance] | None = None,
) -> Ran:
    """Send a plan made of parts as ``campaign``.

    ``meta``: the plan with no rows (its template and options; its rows' columns as the
    parts have them). ``parts()``: each part's plan rows, in order. ``preflight(content,
    recorded)``: on every part, before any call, raises
    :class:`~smsframe.errors.CampaignMismatch` where a row would get other content than
    the campaign sent it, and returns what is left to send. ``sink(number, rows)``: each
    part's rows with their outcomes, as soon as they are known.
    """
    check_name(campaign)
    options = options or RunOptions()
    now = pd.Timestamp.now(tz=CHINA)  # one time for every part
    if options.schedule_if_quiet:
        meta = hygiene.scheduled_when_quiet(meta, now)
    hygiene.refuse_if_quiet(meta, now)
    balance = balance or balance_soon(client)
    journal = options.journal
    opened = journal if isinstance(journal, Journal) else Journal(journal)
    try:
        with opened.lease(campaign) as lease:
            return _run_parts(
                meta, parts, sink, client, balance, lease, opened, options, preflight, now
            )
    finally:
        if opened is not journal:
            _close(opened)


def _run_parts(
    meta: Plan,
    parts: Callable[[], Iterator[pd.DataFrame]],
    sink: Callable[[int, pd.DataFrame], None],
    client: SmsClient,
    balance: Future[Balance],
    lease: Lease,
    journal: Journal,
    options: RunOptions,
    preflight: Preflight,
    now: pd.Timestamp,
) -> Ran:
    campaign = lease.name
    recorded = recipients_of(journal.sent(campaign))  # read once: each part looks in it
    before = balance.result()  # an account's refusal stops the campaign here
    content = Content(before.state, meta.kind, meta.template)
    if not options.extend:
        binding.check(campaign, journal.content(campaign), content, meta, None)
    ahead = preflight(content, recorded)
    if ahead.cost > before.balance:
        raise InsufficientBalance(ahead.cost, before.balance)
    journal.start_campaign(campaign, before.state, before.balance, content)

    run = Run(client, journal, lease)
    ran = Ran(run, Stopped(), 0, 0)
    bar = ProgressBar(ahead.recipients, campaign, options.progress)
    try:
        for number, rows in enumerate(parts()):
            plan = Plan(rows, meta.template, meta.options)
            if options.schedule_if_quiet:
                plan = hygiene.scheduled_when_quiet(plan, now)
            result = _send_part(plan, run, ran, bar, recorded, options, content)
            sink(number, result)  # first: the journal going down now loses no outcome
            ran.parts_done += 1
            ran.skipped += int((result["sms_status"] == "skipped").sum())
            journal.record_unsent(campaign, _unsent(result, meta.phone), replace=number == 0)
            if ran.stopped.interrupted or run.stop.is_set():
                break
    except KeyboardInterrupt:  # between calls (run_calls stops those in flight itself)
        run.halt("interrupted", "interrupted by the user")
        ran.stopped = Stopped(interrupted=True, abandoned=ran.stopped.abandoned)
    except JournalError as error:
        run.halt("journal_unavailable", f"the campaign stopped: {error}", error)
        run.error = run.error or error
    finally:
        bar.close()
    if not ran.stopped.abandoned and run.error is None:
        try:
            journal.finish_campaign(campaign, _balance_after(client))
        except JournalError as error:
            run.error = error
    return ran


def _send_part(
    plan: Plan,
    run: Run,
    ran: Ran,
    bar: ProgressBar,
    recorded: Recipients | None,
    options: RunOptions,
    content: Content,
) -> pd.DataFrame:
    """One part: the journal's rules applied, what is left of it sent, its outcomes."""
    journal, campaign = run.journal, run.campaign
    plan = hygiene.apply(plan, journal, campaign)
    rows = plan.rows
    keys = number_keys(rows["sms_phone"])
    if not options.extend:  # the preflight pass checked it; the data may have changed since
        binding.check(campaign, None, content, plan, recorded, keys)
    to_send = _needs_call(rows, recorded, options.resend_unknown, keys)
    if run.stop.is_set():
        to_send[:] = False
    calls = chunk_calls(rows, plan.chunk_size, to_send=to_send)
    if len(calls):
        calls["resent"] = pd.Series(_resent(calls, recorded), index=calls.index, dtype=object)
        groups = calls.drop_duplicates("group_key")[
            ["group_key", "message_hash", "message", "timestamp"]
        ]
        calls["timestamp"] = calls["group_key"].map(journal.group_timestamps(campaign, groups))
        ran.stopped = run_calls(run, calls, workers=options.workers, bar=bar)
    records, run.records = run.records, {}
    now = recipients_of(pd.DataFrame([records[i] for i in sorted(records)])) if records else None
    return _result(plan, now, to_send, run, keys, earlier=recorded)
