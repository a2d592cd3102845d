"""Execute a campaign's calls: a worker pool, one progress bar, the journal around
every call, retries only where a resend is safe, and a clean stop.

The runner works on a call table (:func:`smsframe.plan.chunk_calls`) and
records everything in the journal; the per-row outcomes are read back from the
journal (:mod:`smsframe.campaign`).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from tqdm.auto import tqdm

from smsframe.client import SendResult, SmsClient
from smsframe.codes import decode
from smsframe.errors import InvalidRequest, OutcomeUnknown, ProviderUnavailable
from smsframe.journal import Intent, Journal, Lease, Outcome, digest

log = logging.getLogger("smsframe.runner")

ATTEMPTS = 3  # tries of one call while the provider certainly did not accept it
BACKOFF_S = 0.2  # first pause between tries; doubles each time


@dataclass
class Run:
    """Shared state of one campaign run."""

    client: SmsClient
    journal: Journal
    lease: Lease  # this process's hold on the campaign: no call is made once it is lost
    backoff_s: float = BACKOFF_S
    stop: threading.Event = field(default_factory=threading.Event)
    stop_reason: str = ""

    @property
    def campaign(self) -> str:
        return self.lease.name

    def halt(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()

    # -- one call, with its retries ------------------------------------------
    def execute(self, call: dict) -> None:
        """Make one call, journaled, retried while a resend is safe and worth it."""
        numbers = tuple(call["numbers"])
        prior = call["prior"]
        for attempt in range(ATTEMPTS):
            if not self.lease.held():
                self.halt(
                    f"the campaign stopped: this process lost its hold on {self.campaign!r} "
                    "(paused too long, or the journal stopped answering) and another may "
                    "be sending it"
                )
            if self.stop.is_set():
                return
            intent = Intent(
                campaign=self.campaign,
                call_key=digest(self.campaign, call["group_key"], ";".join(numbers), prior),
                group_key=call["group_key"],
                operation=call["operation"],
                message_hash=call["message_hash"],
                ext=call["ext"],
                scheduled_for=call["at"],
                timestamp=int(call["timestamp"]),
                numbers=numbers,
                parts=int(call["parts"]),
            )
            try:
                call_id = self.journal.record_intent(intent)
            except sa.exc.IntegrityError:  # this very call is journaled already: never again
                log.warning("call %s of %s is journaled already", intent.call_key, self.campaign)
                return
            outcome = self._call(call, intent)
            self.journal.record_outcome(call_id, outcome)
            code = decode(intent.operation, outcome.state) if outcome.state is not None else None
            if code is not None and code.account_level:
                self.halt(f"the campaign stopped: {code}")
            retry = outcome.resend_safe and (code is None or code.transient)
            if not retry or attempt == ATTEMPTS - 1:
                return
            prior = intent.call_key
            time.sleep(self.backoff_s * 2**attempt)

    def _call(self, call: dict, intent: Intent) -> Outcome:
        try:
            result = self._send(call, intent)
        except ProviderUnavailable as error:
            return Outcome("failed", detail=str(error), resend_safe=True)
        except OutcomeUnknown as error:
            return Outcome("unknown", detail=str(error))
        except InvalidRequest as error:
            return Outcome("failed", detail=str(error))
        except Exception as error:  # a bug must cost one call's rows, never the campaign
            log.exception("unexpected error in a call of %s", self.campaign)
            return Outcome("unknown", detail=f"unexpected error: {error!r}"[:300])
        return Outcome(
            status=result.status,
            state=result.state,
            batch_id=result.batch_id,
            fail_phone=";".join(result.keywords or result.failed_phones),
            detail=_detail(result),
            resend_safe=result.code.resend_safe and not result.ok,
        )

    def _send(self, call: dict, intent: Intent) -> SendResult:
        message, numbers = call["message"], intent.numbers
        if intent.operation == "SendTimer":
            return self.client.schedule(
                message, numbers, at=intent.scheduled_for, timestamp=intent.timestamp
            )
        if intent.operation == "SendMessageExt":
            return self.client.send_ext(
                message, numbers, ext=intent.ext, timestamp=intent.timestamp
            )
        return self.client.send(message, numbers, timestamp=intent.timestamp)


def _detail(result: SendResult) -> str:
    if result.keywords:
        return f"{result.meaning}: {', '.join(result.keywords)}"
    return result.meaning


def run_calls(run: Run, calls: pd.DataFrame, *, workers: int = 4, progress: bool = True) -> bool:
    """Make ``calls`` with ``workers`` threads under one progress bar counting recipients.

    Returns whether the user interrupted the run (KeyboardInterrupt): then no new
    call starts, the calls in flight finish and are journaled.
    """
    interrupted = False
    bar = tqdm(
        total=int(calls["recipients"].sum()) if len(calls) else 0,
        unit="recipient",
        desc=run.campaign,
        disable=not progress,
    )
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smsframe") as pool:
        sizes: dict[Future, int] = {
            pool.submit(run.execute, call): len(call["numbers"])
            for call in calls.to_dict("records")
        }
        try:
            for future in as_completed(sizes):  # one waiter, not one per wait() call
                future.result()
                bar.update(sizes[future])
        except KeyboardInterrupt:
            interrupted = True
            run.halt("interrupted by the user")
            for future in sizes:
                future.result()
    bar.close()
    return interrupted
