"""Run a campaign from a plan: pre-flight checks, the journal, the runner, and the
per-row outcomes written back.

Exactly once: rows the journal records as done in this campaign are not sent
again; their recorded outcome is returned. Rows whose call has an intent and no
outcome are ``unknown`` and are resent only with ``resend_unknown=True``. The
result is always read back from the journal, so the frame and the journal agree.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import numpy as np
import pandas as pd

from smsframe.client import SmsClient
from smsframe.errors import InsufficientBalance, SmsError
from smsframe.journal import MAX_NAME, Journal, Lease, Recipients
from smsframe.outcomes import REASON_TEXT, OutcomeWriter
from smsframe.plan import Plan, build, chunk_calls
from smsframe.preflight import DEFAULT_MARGIN
from smsframe.runner import Run, run_calls


def execute(
    plan: Plan,
    client: SmsClient,
    *,
    campaign: str,
    journal: Journal | str | None = None,
    workers: int = 4,
    progress: bool = True,
    resend_unknown: bool = False,
) -> pd.DataFrame:
    """Send ``plan`` as ``campaign``; returns its rows with the outcome columns."""
    if not isinstance(campaign, str) or not campaign.strip() or len(campaign) > MAX_NAME:
        raise ValueError(
            f"campaign must be a name of 1 to {MAX_NAME} characters, e.g. campaign='nov-promo'"
        )
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    account_id = client.login()  # a refused account stops here, before the journal
    owned = not isinstance(journal, Journal)
    journal = Journal(journal) if owned else journal
    try:
        with journal.lease(campaign) as lease:
            result, run, interrupted = _run(
                plan, client, account_id, lease, journal, workers, progress, resend_unknown
            )
    finally:
        if owned:
            journal.close()
    # Where the outcomes are recorded, so that result.sms.audit() can reconcile the cost.
    result.attrs["smsframe"] = {"campaign": campaign, "journal": journal.url}
    skipped = int((result["sms_status"] == "skipped").sum())
    if interrupted:
        warnings.warn(
            f"campaign {campaign!r} interrupted: {skipped} rows not sent; run it again with "
            "the same campaign name to send them (nothing is sent twice)",
            stacklevel=4,
        )
    elif skipped:
        warnings.warn(f"{run.stop_reason}; {skipped} rows not sent", stacklevel=4)
    return result


def _run(
    plan: Plan,
    client: SmsClient,
    account_id: int,
    lease: Lease,
    journal: Journal,
    workers: int,
    progress: bool,
    resend_unknown: bool,
) -> tuple[pd.DataFrame, Run, bool]:
    """The campaign, once this process holds its ``lease``: what is left to send, the
    balance check, the calls, and the outcomes read back from the journal."""
    campaign = lease.name
    rows = plan.rows
    recorded = journal.campaign(campaign)
    to_send = _needs_call(rows, recorded, resend_unknown)
    calls = chunk_calls(
        rows.assign(sms_status=np.where(to_send, "pending", "done")), plan.chunk_size
    )
    calls["prior"] = _prior_calls(calls, recorded)

    # Pre-flight: nothing is sent unless the account can pay for it all.
    balance = client.balance().balance
    cost = int(calls["cost"].sum()) if len(calls) else 0
    if cost > balance:
        raise InsufficientBalance(cost, balance)
    journal.start_campaign(campaign, account_id, balance)

    run = Run(client, journal, lease)
    interrupted = False
    if len(calls):
        groups = calls.drop_duplicates("group_key")[["group_key", "message_hash", "timestamp"]]
        calls["timestamp"] = calls["group_key"].map(journal.group_timestamps(campaign, groups))
        interrupted = run_calls(run, calls, workers=workers, progress=progress)
        journal.finish_campaign(campaign, _balance_after(client))
    result = _result(rows, journal.recipients(campaign), to_send, interrupted, run.stop_reason)
    return result, run, interrupted


def _balance_after(client: SmsClient) -> int | None:
    """The balance once the calls are made; None when the provider refuses to say."""
    try:
        return client.balance().balance
    except SmsError:
        return None


def _needs_call(rows: pd.DataFrame, recorded: pd.DataFrame, resend_unknown: bool) -> np.ndarray:
    """Pending rows with no outcome in the journal worth keeping."""
    pending = (rows["sms_status"] == "pending").to_numpy()
    if recorded.empty:
        return pending
    keep = recorded["status"].ne("unknown") if resend_unknown else pd.Series(True, recorded.index)
    done = pd.Index(recorded.loc[keep & ~recorded["retry"].astype(bool), "phone"])
    return pending & (done.get_indexer(rows["sms_phone"].to_numpy(dtype=object)) < 0)


def _prior_calls(calls: pd.DataFrame, recorded: pd.DataFrame) -> list[str]:
    """Per call, the journal's earlier calls of its numbers: part of the call's key, so
    that a deliberate resend gets a new key and two runs of the same resend collide."""
    if recorded.empty:
        return [""] * len(calls)
    call_of = dict(zip(recorded["phone"], recorded["call_id"], strict=True))
    return [
        ",".join(sorted({str(call_of[n]) for n in numbers if n in call_of}))
        for numbers in calls["numbers"]
    ]


def _result(
    rows: pd.DataFrame,
    recipients: Recipients | None,
    sent_now: np.ndarray,
    interrupted: bool,
    stop_reason: str,
) -> pd.DataFrame:
    writer = OutcomeWriter(rows)
    pending = (rows["sms_status"] == "pending").to_numpy()
    phones = rows["sms_phone"].to_numpy(dtype=object)
    where = np.full(len(rows), -1) if recipients is None else recipients.index(phones)
    found = pending & (where >= 0)
    positions = np.flatnonzero(found)
    if len(positions):
        writer.write(positions, recipients, where[positions])
    missing = np.flatnonzero(pending & ~found & sent_now)
    if len(missing):
        reason = "interrupted" if interrupted else "campaign_stopped"
        writer.set(
            missing, status="skipped", reason=reason, detail=stop_reason or REASON_TEXT[reason]
        )
    return writer.frame()


def send(
    frame: pd.DataFrame,
    client: SmsClient,
    *,
    message: str,
    campaign: str,
    phone: str = "phone",
    journal: Journal | str | None = None,
    workers: int = 4,
    chunk_size: int = 100,
    progress: bool = True,
    resend_unknown: bool = False,
    region: str = "CN",
    keywords: list[str] | None = None,
    ext: object = None,
) -> pd.DataFrame:
    """Send ``message`` (a constant or a ``{column}`` template) to every row of ``frame``.

    Returns a new frame, same index, input columns untouched, plus the outcome
    columns: ``sms_status`` (sent, failed, rejected, unknown, skipped...),
    ``sms_reason``, ``sms_detail``, ``sms_state``, ``sms_batch_id``... Running it
    again with the same ``campaign`` sends nothing twice. ``ext``: an extension
    number (1-6 digits) for every row, or the name of a column of them.

    Examples
    --------
    >>> out = df.sms.send(client, message="您好{name}，双十一优惠", campaign="nov-promo")
    >>> out["sms_status"].value_counts()
    """
    plan = build(
        frame,
        message,
        phone=phone,
        chunk_size=chunk_size,
        region=region,
        keywords=keywords,
        ext=ext,
    )
    return execute(
        plan,
        client,
        campaign=campaign,
        journal=journal,
        workers=workers,
        progress=progress,
        resend_unknown=resend_unknown,
    )


def schedule(
    frame: pd.DataFrame,
    client: SmsClient,
    *,
    message: str,
    at: object,
    campaign: str,
    phone: str = "phone",
    journal: Journal | str | None = None,
    workers: int = 4,
    chunk_size: int = 100,
    progress: bool = True,
    resend_unknown: bool = False,
    region: str = "CN",
    keywords: list[str] | None = None,
    margin: timedelta = DEFAULT_MARGIN,
    ext: object = None,
) -> pd.DataFrame:
    """Schedule ``message`` for ``at``: one datetime, or the name of a column of times
    (rows are grouped by time).

    A naive datetime means China Standard Time, the provider's clock; an aware one
    is converted to it. Times in the past or closer than ``margin`` are rejected
    per row. **A scheduled batch cannot be cancelled**: the provider has no
    operation for it. ``ext`` is refused: the provider cannot schedule with one.
    Outcome columns as :func:`send`, status ``scheduled``, plus ``sms_scheduled_for``
    (Asia/Shanghai).

    Examples
    --------
    >>> from datetime import datetime
    >>> out = df.sms.schedule(client, message="明早见", at=datetime(2030, 1, 1, 9), campaign="jan")
    """
    plan = build(
        frame,
        message,
        phone=phone,
        chunk_size=chunk_size,
        region=region,
        keywords=keywords,
        at=at,
        margin=margin,
        ext=ext,
    )
    return execute(
        plan,
        client,
        campaign=campaign,
        journal=journal,
        workers=workers,
        progress=progress,
        resend_unknown=resend_unknown,
    )
