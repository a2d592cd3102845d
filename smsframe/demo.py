"""``smsframe demo``: a whole campaign on the embedded simulator.

Loads the synthetic contact list (``data/contacts.csv``), plans a templated
message, sends it with the journal on, then sends it again to show that nothing
goes out twice, and prints what happened by status and reason, then the audit.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

import smsframe  # noqa: F401 - registers df.sms
from smsframe.client import SmsClient
from smsframe.sample import contacts
from smsframe.simulator import Simulator

ACCOUNT_ID, NAME, PASSWORD = 101, "demo", "demo-password"
MESSAGE = "【smsframe】{name}您好，双十一会员日全场满200减30，回T退订"


def run(journal: str | None = None, plot: Path | None = None) -> int:
    """The demo; ``journal``: a SQLAlchemy URL to keep the journal (else a temporary
    file); ``plot``: where to save the audit's charts as an image."""
    frame = contacts()
    with tempfile.TemporaryDirectory() as tmp, Simulator() as simulator:
        simulator.add_account(ACCOUNT_ID, NAME, PASSWORD, balance=10_000)
        simulator.mark_unreachable(_two_sendable_numbers(frame))
        journal = journal or f"sqlite:///{Path(tmp) / 'journal.sqlite'}"
        client = SmsClient(simulator.wsdl_url, ACCOUNT_ID, NAME, PASSWORD)
        print(f"simulator {simulator.url}; account {client.login()}; {client.balance()}")
        print(f"\n{len(frame)} contacts (synthetic); the plan:")
        plan = frame.sms.plan(message=MESSAGE)
        print(plan)
        print(f"{plan.check(client)}\n")

        started = time.perf_counter()
        out = frame.sms.send(client, message=MESSAGE, campaign="demo", journal=journal)
        elapsed = time.perf_counter() - started
        print(f"\nsent in {elapsed:.1f} s; by status:")
        print(_counts(out["sms_status"]))
        print("\nnot sent, by reason:")
        print(_counts(out["sms_reason"]))
        print(f"\n{client.balance()}")

        again = frame.sms.send(
            client, message=MESSAGE, campaign="demo", journal=journal, progress=False
        )
        same = again["sms_status"].equals(out["sms_status"])
        print(
            f"\nrun again: {len(simulator.deliveries())} deliveries in the simulator's log, "
            f"outcomes {'unchanged' if same else 'CHANGED'}: nothing was sent twice"
        )
        print("\nfirst rows of the result:")
        columns = ["name", "phone", "sms_phone", "sms_status", "sms_reason", "sms_batch_id"]
        print(out[columns].head(8).to_string())
        audit = out.sms.audit(by="segment")
        print(f"\n{audit}")
        if plot is not None:
            audit.plot().savefig(plot, dpi=100, bbox_inches="tight")
            print(f"\naudit charts saved to {plot}")
    return 0


def _counts(column: pd.Series) -> str:
    counts = column.value_counts()
    return counts[counts > 0].to_string()


def _two_sendable_numbers(frame: pd.DataFrame) -> list[str]:
    """Two numbers the simulator reports as unreachable, to show partial failures."""
    numbers = frame.sms.normalize()["sms_phone"].dropna()
    return numbers.iloc[[10, 20]].tolist()
