"""What every adversarial trial checks against the simulator's delivery log: no number
delivered twice, no call made without a committed intent, and every row's status true
to the log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pandas as pd

from smsframe.journal import Journal


def delivered_once(deliveries: pd.DataFrame) -> set[str]:
    """The numbers delivered; fails if any was delivered twice."""
    times = deliveries["phone"].value_counts()
    assert times.max() <= 1 if len(times) else True, (
        f"{int((times > 1).sum())} numbers delivered twice: {list(times[times > 1].index[:5])}"
    )
    return set(times.index)


def assert_true_to_deliveries(out: pd.DataFrame, deliveries: pd.DataFrame) -> None:
    """Each row's status is true to the delivery log: sent rows were delivered (once),
    rows failed, skipped or rejected were not; only unknown rows may be either."""
    delivered = delivered_once(deliveries)
    status = out["sms_status"].astype(str)
    was = out["sms_phone"].isin(delivered)
    assert status.ne("pending").all()
    assert was[status.isin(["sent", "scheduled"])].all(), "a row marked sent was not delivered"
    assert not was[status.isin(["failed", "skipped", "rejected"])].any(), (
        "a row marked failed or skipped was delivered"
    )


def assert_every_call_had_an_intent(url: str, campaign: str, deliveries: pd.DataFrame) -> None:
    """Every number the provider delivered is in a committed intent of ``campaign``."""
    journal = Journal(url)
    try:
        calls = journal.calls(campaign)
    finally:
        journal.close()
    journaled = {n for numbers in calls["numbers"] for n in numbers.split(";")}
    without = set(deliveries["phone"]) - journaled
    assert not without, f"{len(without)} numbers delivered without a committed intent"


def when(condition: Callable[[], bool], action: Callable[[], None], timeout: float = 60):
    """Run ``action`` in a thread as soon as ``condition()`` holds; returns the thread
    (join it). The trials' invariants hold whenever it lands."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread
