"""Run a campaign from a plan: pre-flight checks, the journal, the runner, and the
per-row outcomes written back.

Exactly once: rows the journal records as done in this campaign are not sent
again; their recorded outcome is returned. Rows whose call has an intent and no
outcome are ``unknown`` and are resent only with ``resend_unknown=True``. The
result is read back from the journal, so the frame and the journal agree; when the
journal stops answering, it is built from what this run knows, and raised with the
:class:`~smsframe.errors.JournalError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from smsframe import binding, hygiene
from smsframe.client import Balance, SmsClient
from smsframe.errors import (
    CampaignInterrupted,
    InsufficientBalance,
    InvalidValue,
    JournalError,
    SmsError,
    warn,
)
from smsframe.journal import MAX_NAME, Content, Journal, Lease
from smsframe.options import RunOptions
from smsframe.outcomes import (
    REASON_TEXT,
    OutcomeWriter,
    Recipients,
    is_missing,
    number_keys,
    recipients_of,
)
from smsframe.plan import REASON_TEXT as PLAN_TEXT
from smsframe.plan import Plan, chunk_calls, first_of_its_number
from smsframe.runner import Run, Stopped, run_calls

log = logging.getLogger("smsframe.campaign")
T = TypeVar("T")
AGAIN = "run it again with the same campaign name to send them (nothing is sent twice)"


def execute(
    plan: Plan,
    client: SmsClient,
    *,
    campaign: str,
    options: RunOptions | None = None,
    balance: Future[Balance] | None = None,
) -> pd.DataFrame:
    """Send ``plan`` as ``campaign``; returns its rows with the outcome columns.

    The campaign's name is bound to what it sends (:mod:`smsframe.binding`): a re-run
    with other content raises :class:`CampaignMismatch` before any call, unless
    ``extend`` (then only rows the campaign never attempted get the new content).

    A campaign that stops midway raises once it has stopped cleanly, with the
    partial result on the exception (``error.result``): :class:`CampaignInterrupted`
    on Ctrl-C, :class:`ProviderUnavailable` when the provider went down,
    :class:`JournalError` when the journal failed. Run it again with the same name
    to send the rest: nothing is sent twice.

    ``balance`` is the account's balance as :func:`balance_soon` fetches it (started
    before the plan was made, so that its round trip overlaps the planning); by
    default it is fetched here, while the journal opens.
    """
    check_name(campaign)
    options = options or RunOptions()
    journal = options.journal
    if options.schedule_if_quiet:
        plan = hygiene.scheduled_when_quiet(plan)
    hygiene.refuse_if_quiet(plan)
    balance = balance or balance_soon(client)
    opened = journal if isinstance(journal, Journal) else Journal(journal)
    try:
        with opened.lease(campaign) as lease:
            result, run, stopped = _run(plan, client, balance, lease, opened, options)
    finally:
        if opened is not journal:
            _close(opened)
    # Where the outcomes are recorded, so that result.sms.audit() can reconcile the cost:
    # its password masked (attrs go into Parquet and pickle files); this process knows it.
    result.attrs["smsframe"] = {"campaign": campaign, "journal": opened.where}
    skipped = int((result["sms_status"] == "skipped").sum())
    raise_if_stopped(campaign, result, run, stopped, f"{skipped} rows not sent")
    return result


def raise_if_stopped(campaign: str, result: Any, run: Run, stopped: Stopped, left: str) -> None:
    """Raise what a campaign that stopped midway raises, with ``result`` (its rows so
    far) on the exception; warn if it stopped early on its own. ``left``: what was not
    sent, in words."""
    if stopped.interrupted:
        unwaited = (
            " (the calls in flight were not waited for: their rows show unknown here, and "
            "journal.campaign(name) has their outcomes once they end)"
            if stopped.abandoned
            else ""
        )
        raise CampaignInterrupted(
            f"campaign {campaign!r} interrupted: {left}; {AGAIN}. "
            f"The result so far is this exception's .result{unwaited}",
            result,
        )
    if run.error is not None:
        error = type(run.error)(f"{run.error}; {left}: {AGAIN}")
        error.result = result
        raise error
    if run.stop_token:  # stopped early: an account refusal, or the lease lost
        warn(f"{run.stop_reason}; {left}")


def check_name(campaign: object) -> None:
    """Refuse a campaign name the journal cannot hold, before anything is done."""
    if (
        not isinstance(campaign, str)
        or not campaign.strip()
        or len(campaign) > MAX_NAME
        or not campaign.isprintable()  # no control character, NUL or lone surrogate
    ):
        raise InvalidValue(
            f"campaign must be a name of 1 to {MAX_NAME} printable characters, e.g. "
            f"campaign='nov-promo'; got {campaign!r}"
        )


def balance_soon(client: SmsClient) -> Future[Balance]:
    """The account's balance, asked for now on a thread of its own: one round trip
    that checks the account (GetBalance answers its ID as UserLogin does) while the
    caller plans; ``.result()`` raises the account's refusal, before anything is sent."""
    return _in_background(client.balance)


def _in_background(function: Callable[[], T]) -> Future[T]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smsframe-balance")
    future = pool.submit(function)
    pool.shutdown(wait=False)  # the thread ends with its one call
    return future


def _warn_if_all_rejected(plan: Plan) -> None:
    rejected = plan.rejected()
    if len(plan.rows) and int(rejected.sum()) == len(plan.rows):
        reason, count = rejected.index[0], int(rejected.iloc[0])
        warn(
            f"nothing to send: all {len(plan.rows)} rows are rejected by the pre-flight "
            f"checks, {count} of them {reason} ({PLAN_TEXT.get(reason, reason)}); "
            "sms_detail says why for each row"
        )


def _close(journal: Journal) -> None:
    """Close a journal the campaign opened; one that stopped answering is let go."""
    try:
        journal.close()
    except JournalError as error:
        log.warning("could not close the journal: %s", error)


def _run(
    plan: Plan,
    client: SmsClient,
    balance: Future[Balance],
    lease: Lease,
    journal: Journal,
    options: RunOptions,
) -> tuple[pd.DataFrame, Run, Stopped]:
    """The campaign, once this process holds its ``lease``: its content checked, what
    is left to send, the balance check, the calls, and the outcomes read back from the
    journal."""
    campaign = lease.name
    plan = hygiene.apply(plan, journal, campaign)  # the suppression list and caps as now
    _warn_if_all_rejected(plan)
    rows = plan.rows
    recorded_calls = journal.sent(campaign)
    recorded = recipients_of(recorded_calls)
    keys = number_keys(rows["sms_phone"])  # the rows' numbers as journal lookups take them
    before = balance.result()  # an account's refusal stops the campaign here
    content = Content(before.state, plan.kind, plan.template)
    if not options.extend:
        binding.check(campaign, journal.content(campaign), content, plan, recorded, keys)
    to_send = _needs_call(rows, recorded, options.resend_unknown, keys)
    calls = chunk_calls(rows, plan.chunk_size, to_send=to_send)
    calls["resent"] = pd.Series(_resent(calls, recorded), index=calls.index, dtype=object)

    # Pre-flight: nothing is sent unless the account can pay for it all.
    cost = int(calls["cost"].sum()) if len(calls) else 0
    if cost > before.balance:
        raise InsufficientBalance(cost, before.balance)
    journal.start_campaign(campaign, before.state, before.balance, content)

    run = Run(client, journal, lease)
    stopped = Stopped()
    if len(calls):
        groups = calls.drop_duplicates("group_key")[
            ["group_key", "message_hash", "message", "timestamp"]
        ]
        calls["timestamp"] = calls["group_key"].map(journal.group_timestamps(campaign, groups))
        stopped = run_calls(run, calls, workers=options.workers, progress=options.progress)
    if not stopped.abandoned and run.error is None:
        try:
            recipients = recorded  # no call made: under the lease, nothing else changed
            if len(calls):  # the closing balance's round trip overlaps reading the outcomes
                after = _in_background(lambda: _balance_after(client))
                recipients = journal.recipients(campaign)
            result = _result(plan, recipients, to_send, run, keys)
            if len(calls):
                journal.finish_campaign(campaign, after.result())
            journal.record_unsent(campaign, _unsent(result, plan.phone))
            return result, run, stopped
        except JournalError as error:
            run.halt("journal_unavailable", f"the campaign stopped: {error}", error)
            run.error = run.error or error
    # The journal cannot be read (or is still being written): what this run knows.
    this_run = pd.DataFrame([run.records[i] for i in sorted(run.records)])
    recipients = recipients_of(pd.concat([recorded_calls, this_run], ignore_index=True))
    result = _result(plan, recipients, to_send, run, keys)
    return result, run, stopped


def _unsent(result: pd.DataFrame, phone: str) -> pd.DataFrame:
    """The rows of ``result`` that were not called, for the journal: the number as
    normalised, else as given (as text a database can store, at most 100 characters)."""
    rows = result[result["sms_status"].isin(["rejected", "skipped"])]
    normalised = rows["sms_phone"].to_numpy(dtype=object)
    given = rows[phone].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "phone": [
                n if isinstance(n, str) else _storable(g, 100)
                for n, g in zip(normalised, given, strict=True)
            ],
            "status": rows["sms_status"].astype(str).tolist(),
            "reason": [_storable(r) for r in rows["sms_reason"].to_numpy(dtype=object)],
            "detail": [_storable(d) for d in rows["sms_detail"].to_numpy(dtype=object)],
        }
    )


def _storable(value: object, limit: int | None = None) -> str | None:
    """``value`` as UTF-8 text (characters it cannot hold escaped); None when missing."""
    if is_missing(value):
        return None
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


def _balance_after(client: SmsClient) -> int | None:
    """The balance once the calls are made; None when the provider refuses to say."""
    try:
        return client.balance().balance
    except SmsError:
        return None


def _needs_call(
    rows: pd.DataFrame, recorded: Recipients | None, resend_unknown: bool, keys: np.ndarray
) -> np.ndarray:
    """Pending rows with no outcome in the journal worth keeping."""
    pending = (rows["sms_status"] == "pending").to_numpy()
    if recorded is None:
        return pending
    where = recorded.index(rows["sms_phone"], keys)
    calls = recorded.calls
    again = calls["retry"].to_numpy(dtype=bool)
    if resend_unknown:
        again = again | (calls["status"] == "unknown").to_numpy()
    listed = np.zeros(len(recorded.phone), dtype=bool)
    listed[recorded.listed] = True  # listed in its call's FailPhone: failed for good
    resend = again[recorded.call_of] & ~listed
    return pending & ((where < 0) | resend[np.maximum(where, 0)])


def _resent(calls: pd.DataFrame, recorded: Recipients | None) -> list[dict[str, int]]:
    """Per call, its numbers that an earlier call of the campaign had, each with that
    call's id: a deliberate resend takes them over from it (:meth:`Journal.record_intent`)."""
    if recorded is None or not len(calls):
        return [{} for _ in range(len(calls))]
    phones = np.array([n for numbers in calls["numbers"] for n in numbers], dtype=object)
    ids = recorded.call_ids(phones)
    resent, start = [], 0
    for numbers in calls["numbers"]:
        mine, start = ids[start : start + len(numbers)], start + len(numbers)
        resent.append({n: int(i) for n, i in zip(numbers, mine, strict=True) if i >= 0})
    return resent


def _result(
    plan: Plan,
    recipients: Recipients | None,
    sent_now: np.ndarray,
    run: Run,
    keys: np.ndarray | None = None,
    earlier: Recipients | None = None,
) -> pd.DataFrame:
    """The rows with their outcomes: a row's latest call in ``recipients``, else in
    ``earlier`` (the campaign's calls before this run, when ``recipients`` holds only
    this run's)."""
    rows = plan.rows
    writer = OutcomeWriter(rows)
    pending = (rows["sms_status"] == "pending").to_numpy()
    # The recorded outcome wins: a row the campaign attempted shows what it was sent,
    # even if a pre-flight rule added since rejects it now (not a duplicate row).
    not_duplicate = first_of_its_number(rows)
    found = np.zeros(len(rows), dtype=bool)
    for source in (recipients, earlier):
        if source is None:
            continue
        where = source.index(rows["sms_phone"], keys)
        positions = np.flatnonzero((where >= 0) & (pending | not_duplicate) & ~found)
        if len(positions):
            other_content = binding.content_differs(plan, source, where, positions)
            writer.write(positions, source, where[positions], other_content)
            found[positions] = True
    phones = rows["sms_phone"]
    missing = pending & ~found & sent_now
    if run.suppressed:  # the journal refused them: suppressed while the campaign ran
        refused = missing & phones.isin(run.suppressed).to_numpy()
        writer.set(np.flatnonzero(refused), status="rejected", reason="suppressed", detail=LATE)
        missing &= ~refused
    if missing.any():
        reason = run.stop_token or "campaign_stopped"
        detail = run.stop_reason or REASON_TEXT[reason]
        writer.set(np.flatnonzero(missing), status="skipped", reason=reason, detail=detail)
    return writer.frame()


LATE = "suppressed while the campaign was sending: its call went without this number"
