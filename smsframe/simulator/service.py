"""The provider's six operations, with the contract's order of checks (docs/provider/contract.md).

Each operation takes the decoded request parameters (``None`` for a missing
one) and the caller's IP, and returns what the provider answers: an ``int`` or
a dict of the ``BalanceState`` / ``SendState`` fields.

Where the contract is silent, the simulator decides (and documents) this:

- surrounding whitespace of a number is ignored; entries empty after that are
  skipped (``a;;b;``);
- UpdatePsw answers -1 when the new password equals the old one, contains
  whitespace, or is longer than 64 characters;
- SendTimer's DateTime is read as China Standard Time (UTC+8) in exactly the
  format ``YYYY-MM-DD HH:MM:SS``;
- an empty Ext on SendMessageExt is allowed (0-6 digits);
- a failed send answers ``Id`` 0 and an empty ``FailPhone`` unless it lists
  numbers or keywords.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from smsframe.simulator.store import Account, Store

CHINA = timezone(timedelta(hours=8), "CST")
SMS_LENGTH = 70
PART_LENGTH = 67
MAX_LENGTH = 3 * PART_LENGTH
MAX_PHONES = 1000
PHONE = re.compile(r"1[3-9][0-9]{9}")
GOOD_LIST = re.compile(r"1[3-9][0-9]{9}(?:;1[3-9][0-9]{9})*")
EXT = re.compile(r"[0-9]{0,6}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")

SEND_OPERATIONS = ("SendMessage", "SendTimer", "SendMessageExt")


def parts(message: str) -> int:
    """SMS parts of a message: 70 characters fit one SMS, longer ones go in parts of 67."""
    return 1 if len(message) <= SMS_LENGTH else math.ceil(len(message) / PART_LENGTH)


def numbers(phone: str) -> tuple[list[str], bool]:
    """The entries of a Phone list, stripped, empty ones skipped; and whether all are
    known to match the simple pattern."""
    if GOOD_LIST.fullmatch(phone):  # the usual list: nothing to strip, skip or check
        return phone.split(";"), True
    return [p for p in (entry.strip() for entry in phone.split(";")) if p], False


def sort_numbers(
    phones: list[str], valid: bool, unreachable: frozenset[str]
) -> tuple[list[str], list[str]]:
    """(good, bad): numbers of the simple pattern that are not marked unreachable, the rest."""
    if valid and not unreachable:
        return phones, []
    good: list[str] = []
    bad: list[str] = []
    for p in phones:
        (good if PHONE.fullmatch(p) and p not in unreachable else bad).append(p)
    return good, bad


def send_state(state: int, batch_id: int = 0, fail_phone: str = "") -> dict:
    return {"FailPhone": fail_phone, "Id": batch_id, "State": state}


def refusal(operation: str, code: int) -> int | dict:
    """The answer of ``operation`` that carries only a state code."""
    if operation in SEND_OPERATIONS:
        return send_state(code)
    if operation == "GetBalance":
        return {"Balance": 0, "Sended": 0, "State": code, "Totaled": 0}
    return code


class Service:
    """The provider's business rules over a :class:`Store`."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # -- checks shared by every operation ----------------------------------
    def _authenticate(
        self, db, params: dict, client_ip: str, password_field: str = "Psw"
    ) -> Account | int:
        """The account when the caller may use the service, else the refusal code."""
        account_id, name, password = (
            params.get("Id"),
            params.get("Name"),
            params.get(password_field),
        )
        if account_id is None or not (name or "").strip() or not (password or "").strip():
            return -2
        account = self.store.account(account_id, db)
        if account is None or account.name != name or account.password != password:
            return -3
        if account.disabled:
            return 0
        if account.kind != "ordinary":
            return -4
        if account.bound_ip and account.bound_ip != client_ip:
            return -30
        return account

    # -- operations ----------------------------------------------------------
    def user_login(self, params: dict, client_ip: str) -> int:
        with self.store.transaction() as db:
            account = self._authenticate(db, params, client_ip)
            return account if isinstance(account, int) else account.id

    def update_psw(self, params: dict, client_ip: str) -> int:
        with self.store.transaction() as db:
            account = self._authenticate(db, params, client_ip, password_field="OldPsw")
            if isinstance(account, int):
                return account
            new = params.get("NewPsw")
            if not (new or "").strip():
                return -2
            if new == params["OldPsw"] or len(new) > 64 or any(c.isspace() for c in new):
                return -1
            db.execute("UPDATE accounts SET password = ? WHERE id = ?", (new, account.id))
            return 1

    def get_balance(self, params: dict, client_ip: str) -> dict:
        with self.store.transaction() as db:
            account = self._authenticate(db, params, client_ip)
            if isinstance(account, int):
                return refusal("GetBalance", account)
            return {
                "Balance": account.balance,
                "Sended": account.sended,
                "State": account.id,
                "Totaled": account.totaled,
            }

    def send(self, operation: str, params: dict, client_ip: str) -> dict:
        """SendMessage, SendTimer and SendMessageExt: one transaction each."""
        with self.store.transaction() as db:
            account = self._authenticate(db, params, client_ip)
            if isinstance(account, int):
                return send_state(account)
            message = params.get("Message") or ""
            if not message.strip():
                return send_state(-5)
            if len(message) > MAX_LENGTH:
                return send_state(-6)
            phones, valid = numbers(params.get("Phone") or "")
            if not phones:
                return send_state(-7)
            if len(phones) > MAX_PHONES:
                return send_state(-1)
            now = self.clock()
            scheduled_for = None
            if operation == "SendTimer":
                text = (params.get("DateTime") or "").strip()
                try:
                    if not DATETIME.fullmatch(text):
                        raise ValueError(text)
                    at = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
                except ValueError:
                    return send_state(-11)
                if at.timestamp() <= now:
                    return send_state(-12)
                scheduled_for = at.isoformat()
            ext = params.get("Ext") if operation == "SendMessageExt" else None
            if ext is not None and not EXT.fullmatch(ext):
                return send_state(-1)
            found = [word for word in self.store.keywords() if word in message]
            if found:
                return send_state(-13, fail_phone=";".join(found))
            good, bad = sort_numbers(phones, valid, self.store.unreachable())
            if not good:
                return send_state(-10, fail_phone=";".join(bad))
            cost = parts(message) * len(good)
            if cost > account.balance:
                return send_state(-8)
            timestamp = params.get("Timestamp") or 0
            batch_id = self.store.batch_id(db, account.id, timestamp, message)
            received_at = datetime.fromtimestamp(now, UTC).astimezone(CHINA).isoformat()
            self.store.charge(db, account.id, cost)
            self.store.deliver(
                db, account.id, batch_id, good, scheduled_for, received_at, ext, operation
            )
            if scheduled_for is not None:
                self.store.record_scheduled(
                    db, batch_id, scheduled_for, len(good), cost, received_at
                )
            return send_state(1, batch_id, ";".join(bad))

    def call(self, operation: str, params: dict, client_ip: str) -> int | dict:
        """Dispatch one decoded request to its operation."""
        if operation == "UserLogin":
            return self.user_login(params, client_ip)
        if operation == "UpdatePsw":
            return self.update_psw(params, client_ip)
        if operation == "GetBalance":
            return self.get_balance(params, client_ip)
        return self.send(operation, params, client_ip)
