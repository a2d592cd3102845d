"""Execute a campaign's calls: a worker pool, one progress bar, the journal around
every call, retries only where a resend is safe, and a clean stop.

The runner works on a call table (:func:`smsframe.plan.chunk_calls`) and
records everything in the journal; the per-row outcomes are read back from the
journal (:mod:`smsframe.campaign`). It also keeps what each of its calls did in
memory (:attr:`Run.records`), so that a campaign whose journal stops answering
still returns what was sent.

A call is made only with a committed intent's id in hand; numbers the journal refuses
as suppressed (since the campaign started) are taken out of their call, and reported
(:attr:`Run.suppressed`). The run stops making
calls (:meth:`Run.halt`) on the first of: an account-level refusal, the lease lost,
the journal failing, the provider unreachable for :data:`OUTAGE_AFTER` calls in a
row, or the user's interrupt; the calls in flight finish and are journaled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field, fields
from datetime import datetime

import pandas as pd
from tqdm.auto import tqdm

from smsframe.client import SendResult, SmsClient
from smsframe.codes import decode
from smsframe.errors import (
    InvalidRequest,
    JournalError,
    OutcomeUnknown,
    ProviderUnavailable,
    SmsError,
)
from smsframe.journal import (
    AlreadyClaimed,
    Intent,
    Journal,
    Lease,
    LeaseLost,
    Outcome,
    Suppressed,
)
from smsframe.keys import digest

log = logging.getLogger("smsframe.runner")

ATTEMPTS = 3  # tries of one call while the provider certainly did not accept it
BACKOFF_S = 0.2  # first pause between tries; doubles each time
OUTAGE_AFTER = 5  # calls in a row that could not reach the provider: it is down
GRACE_S = 5.0  # beyond the client's operation timeout, for the calls in flight to finish


@dataclass(frozen=True)
class Call:
    """One provider call of a plan (a row of :func:`smsframe.plan.chunk_calls`), with
    the numbers it resends (number -> id of the earlier call it takes it over from)."""

    group_key: str
    operation: str
    message: str
    message_hash: str
    ext: str | None
    at: datetime | None
    timestamp: int
    numbers: tuple[str, ...]
    parts: int
    resent: Mapping[str, int]

    @classmethod
    def all_of(cls, calls: pd.DataFrame) -> list[Call]:
        """The calls of a call table."""
        return [
            cls(key, op, message, hash_, ext, at, int(stamp), tuple(numbers), int(parts), resent)
            for key, op, message, hash_, ext, at, stamp, numbers, parts, resent in zip(
                *(calls[name] for name in _CALL_COLUMNS), strict=True
            )
        ]


_CALL_COLUMNS = [f.name for f in fields(Call)]


@dataclass
class Run:
    """Shared state of one campaign run."""

    client: SmsClient
    journal: Journal
    lease: Lease  # this process's hold on the campaign: no call is made once it is lost
    backoff_s: float = BACKOFF_S
    stop: threading.Event = field(default_factory=threading.Event)
    stop_token: str = ""  # why it stopped: a reason token (outcomes.REASON_TEXT)
    stop_reason: str = ""  # ... and in words
    error: SmsError | None = None  # what the campaign raises once stopped, if anything
    # This run's calls by id: the intent's values, then the outcome's (in memory).
    records: dict[int, dict] = field(default_factory=dict)
    # Numbers the journal refused to call: suppressed while the campaign was running.
    suppressed: set[str] = field(default_factory=set)
    _failures_in_a_row: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def campaign(self) -> str:
        return self.lease.name

    def halt(self, token: str, reason: str, error: SmsError | None = None) -> None:
        """Make no new call; the first cause given is the one reported."""
        with self._lock:
            if not self.stop.is_set():
                self.stop_token, self.stop_reason, self.error = token, reason, error
                self.stop.set()

    # -- one call, with its retries ------------------------------------------
    def execute(self, call: Call) -> None:
        """Make one call, journaled, retried while a resend is safe and worth it."""
        numbers = call.numbers
        resent = call.resent
        for attempt in range(ATTEMPTS):
            if not self.lease.held():
                self._lease_lost()
            if self.stop.is_set():
                return
            while True:  # each refusal takes out at least one number
                intent = self._intent(call, numbers, resent)
                try:
                    call_id = self._record_intent(intent, resent)
                    break
                except Suppressed as refused:  # suppressed since the campaign started
                    self.suppressed |= refused.numbers
                    numbers = tuple(n for n in numbers if n not in refused.numbers)
                    resent = {n: i for n, i in resent.items() if n not in refused.numbers}
                    if not numbers:
                        return
            if call_id is None:  # no committed intent: no call
                return
            self.records[call_id] = vars(intent) | {
                "id": call_id,
                "numbers": ";".join(numbers),
                "message": call.message,
                "status": None,  # no outcome yet: unknown if it never comes
                "resend_safe": False,
            }
            outcome = self._call(call, intent)
            self.records[call_id] |= vars(outcome) | {"outcome_at": pd.Timestamp.now("UTC")}
            self.journal.record_outcome(call_id, outcome)
            code = decode(intent.operation, outcome.state) if outcome.state is not None else None
            if code is not None and code.account_level:
                self.halt("campaign_stopped", f"the campaign stopped: {code}")
            retry = outcome.resend_safe and (code is None or code.transient)
            if not retry or attempt == ATTEMPTS - 1:
                return
            resent = dict.fromkeys(numbers, call_id)
            self.stop.wait(self.backoff_s * 2**attempt)

    def _intent(self, call: Call, numbers: tuple[str, ...], resent: Mapping[str, int]) -> Intent:
        prior = ",".join(sorted({str(i) for i in resent.values()}))
        return Intent(
            campaign=self.campaign,
            call_key=digest(self.campaign, call.group_key, ";".join(numbers), prior),
            group_key=call.group_key,
            operation=call.operation,
            message_hash=call.message_hash,
            ext=call.ext,
            scheduled_for=call.at,
            timestamp=call.timestamp,
            numbers=numbers,
            parts=call.parts,
        )

    def _record_intent(self, intent: Intent, resent: Mapping[str, int]) -> int | None:
        """The committed intent's id, or None (no call); :class:`Suppressed` is raised:
        the call may go without those numbers."""
        try:
            return self.journal.record_intent(intent, self.lease, resent)
        except LeaseLost:
            self._lease_lost()
        except AlreadyClaimed:  # its numbers belong to another intent: never again
            log.warning("call %s of %s is journaled already", intent.call_key, self.campaign)
        except JournalError as error:
            self.halt("journal_unavailable", f"the campaign stopped: {error}", error)
        return None

    def _lease_lost(self) -> None:
        self.halt(
            "lease_lost",
            f"the campaign stopped: this process lost its hold on {self.campaign!r} "
            "(paused too long, or the journal stopped answering) and another may be sending it",
        )

    def _call(self, call: Call, intent: Intent) -> Outcome:
        try:
            result = self._send(call, intent)
        except ProviderUnavailable as error:
            self._count(error)
            return Outcome("failed", detail=str(error), resend_safe=True)
        except OutcomeUnknown as error:
            self._count(error)
            return Outcome("unknown", detail=str(error))
        except InvalidRequest as error:
            return Outcome("failed", detail=str(error))
        except Exception as error:  # a bug must cost one call's rows, never the campaign
            log.exception("unexpected error in a call of %s", self.campaign)
            return Outcome("unknown", detail=f"unexpected error: {error!r}"[:300])
        self._count(None)
        return Outcome(
            status=result.status,
            state=result.state,
            batch_id=result.batch_id,
            fail_phone=";".join(result.keywords or result.failed_phones),
            detail=_detail(result),
            resend_safe=result.code.resend_safe and not result.ok,
        )

    def _count(self, error: SmsError | None) -> None:
        """Count calls in a row that could not reach the provider (an answer resets it);
        after :data:`OUTAGE_AFTER` of them the provider is down: stop."""
        reached = error is None or not getattr(error, "transport", True)
        with self._lock:
            self._failures_in_a_row = 0 if reached else self._failures_in_a_row + 1
            down = self._failures_in_a_row >= OUTAGE_AFTER
        if down:
            reason = (
                f"the provider stopped answering: {OUTAGE_AFTER} calls in a row could not "
                f"reach it (last: {error})"
            )
            self.halt("provider_unavailable", reason, ProviderUnavailable(reason))

    def _send(self, call: Call, intent: Intent) -> SendResult:
        message, numbers = call.message, intent.numbers
        if intent.operation == "SendTimer" and intent.scheduled_for is not None:
            return self.client.schedule(
                message, numbers, at=intent.scheduled_for, timestamp=intent.timestamp
            )
        if intent.operation == "SendMessageExt" and intent.ext is not None:
            return self.client.send_ext(
                message, numbers, ext=intent.ext, timestamp=intent.timestamp
            )
        if intent.operation != "SendMessage":  # a plan's call always has them: a bug
            raise InvalidRequest(f"{intent.operation} without its time or ext: nothing sent")
        return self.client.send(message, numbers, timestamp=intent.timestamp)


def _detail(result: SendResult) -> str:
    if result.keywords:
        return f"{result.meaning}: {', '.join(result.keywords)}"
    return result.meaning


@dataclass(frozen=True)
class Stopped:
    """How :func:`run_calls` ended when the user interrupted it."""

    interrupted: bool = False  # Ctrl-C (or Stop): no new call after it
    abandoned: bool = False  # a second Ctrl-C: calls still in flight were not waited for


def run_calls(
    run: Run,
    calls: pd.DataFrame,
    *,
    workers: int = 4,
    progress: bool = True,
    bar: ProgressBar | None = None,
) -> Stopped:
    """Make ``calls`` with ``workers`` threads under one progress bar counting recipients
    (``bar``, when the caller shows one for more calls than these).

    On KeyboardInterrupt no new call starts and the calls in flight finish (within the
    client's operation timeout) and are journaled; a second KeyboardInterrupt stops the
    wait: those calls finish in the background, their outcomes still journaled.
    """
    own_bar = bar is None
    if bar is None:
        total = int(calls["recipients"].sum()) if len(calls) else 0
        bar = ProgressBar(total, run.campaign, progress)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smsframe")
    stopped = Stopped()
    sizes: dict[Future, int] = {}
    try:
        for call in Call.all_of(calls):
            sizes[pool.submit(run.execute, call)] = len(call.numbers)
        for future in as_completed(sizes):  # one waiter, not one per wait() call
            future.result()
            bar.update(sizes[future])
    except KeyboardInterrupt:
        run.halt("interrupted", "interrupted by the user")
        stopped = Stopped(interrupted=True, abandoned=True)
        try:
            _, pending = wait(sizes, timeout=run.client.operation_timeout + GRACE_S)
            stopped = Stopped(interrupted=True, abandoned=bool(pending))
        except KeyboardInterrupt:
            pass
    except BaseException as error:  # a bug: no new call, the calls in flight finish
        run.halt("campaign_stopped", f"the campaign stopped on an internal error: {error!r}")
        raise
    finally:
        pool.shutdown(wait=not stopped.abandoned, cancel_futures=True)
        if own_bar:
            bar.close()
    return stopped


class ProgressBar:
    """tqdm's bar, counting recipients. In a notebook, its output is updated when it
    closes, so that a notebook saved or executed without its widgets (nbconvert,
    nbclient, GitHub) shows the final count, not the 0% the bar started at."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self._shown = None
        # tqdm.auto chose the widget bar (a Jupyter kernel with ipywidgets)
        notebook = enabled and any(k.__module__ == "tqdm.notebook" for k in tqdm.__mro__)
        options = {"display": False} if notebook else {}
        self._bar = tqdm(total=total, unit="recipient", desc=desc, disable=not enabled, **options)
        if notebook:
            from IPython.display import display

            self._shown = display(self._bar.container, display_id=True)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()
        if self._shown is not None:
            self._shown.update(self._bar.container)
