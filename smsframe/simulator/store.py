"""The simulator's state in SQLite: accounts, keywords, unreachable numbers,
batches, scheduled batches and the delivery log.

One connection guarded by a lock: every operation of the provider runs as one
transaction, which is what makes billing atomic. A file database survives a
restart of the simulator; ``None`` keeps everything in memory.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    password TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ordinary', 'agent', 'group')),
    disabled INTEGER NOT NULL DEFAULT 0,
    bound_ip TEXT,
    balance INTEGER NOT NULL DEFAULT 0,
    sended INTEGER NOT NULL DEFAULT 0,
    totaled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS keywords (word TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS unreachable (phone TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    message TEXT NOT NULL,
    UNIQUE (account_id, timestamp, message)
);
CREATE TABLE IF NOT EXISTS scheduled (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    scheduled_for TEXT NOT NULL,
    recipients INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    batch_id INTEGER NOT NULL,
    phone TEXT NOT NULL,
    message TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    scheduled_for TEXT,
    received_at TEXT NOT NULL,
    ext TEXT,
    operation TEXT NOT NULL
);
"""

ACCOUNT_KINDS = ("ordinary", "agent", "group")


@dataclass(frozen=True)
class Account:
    """One provider account as stored."""

    id: int
    name: str
    password: str
    kind: str
    disabled: bool
    bound_ip: str | None
    balance: int
    sended: int
    totaled: int

    def __repr__(self) -> str:  # the password stays out of every repr
        return f"Account(id={self.id}, name={self.name!r}, kind={self.kind!r})"


class Store:
    """SQLite-backed state of the simulated provider."""

    def __init__(self, db_path: str | Path | None = None) -> None:
        target = ":memory:" if db_path is None else str(db_path)
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            if db_path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                # Survives a restart of the simulator; a power cut is not part of the act.
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one transaction, serialised with every other."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- accounts ---------------------------------------------------------
    def add_account(
        self,
        id: int,
        name: str,
        password: str,
        balance: int = 0,
        *,
        kind: str = "ordinary",
        disabled: bool = False,
        bound_ip: str | None = None,
    ) -> None:
        if not isinstance(id, int) or id <= 0:
            raise ValueError(f"account id must be a positive int, got {id!r}")
        if kind not in ACCOUNT_KINDS:
            raise ValueError(f"kind must be one of {ACCOUNT_KINDS}, got {kind!r}")
        if balance < 0:
            raise ValueError(f"balance must be >= 0, got {balance}")
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM accounts WHERE id = ?", (id,)).fetchone():
                raise ValueError(f"account {id} exists already; use update_account() to change it")
            db.execute(
                "INSERT INTO accounts (id, name, password, kind, disabled, bound_ip, balance, "
                "sended, totaled) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (id, name, password, kind, int(disabled), bound_ip, balance, balance),
            )

    def update_account(self, id: int, **fields: object) -> None:
        allowed = {"name", "password", "kind", "disabled", "bound_ip"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}; allowed: {sorted(allowed)}")
        if "kind" in fields and fields["kind"] not in ACCOUNT_KINDS:
            raise ValueError(f"kind must be one of {ACCOUNT_KINDS}")
        with self.transaction() as db:
            for key, value in fields.items():
                value = int(value) if key == "disabled" else value
                db.execute(f"UPDATE accounts SET {key} = ? WHERE id = ?", (value, id))

    def recharge(self, id: int, amount: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE accounts SET balance = balance + ?, totaled = totaled + ? WHERE id = ?",
                (amount, amount, id),
            )

    def account(self, id: int, db: sqlite3.Connection | None = None) -> Account | None:
        with self._lock:
            row = (
                (db or self._conn)
                .execute(
                    "SELECT id, name, password, kind, disabled, bound_ip, balance, sended, totaled "
                    "FROM accounts WHERE id = ?",
                    (id,),
                )
                .fetchone()
            )
        if row is None:
            return None
        return Account(*row[:4], bool(row[4]), *row[5:])

    def has_account(self, id: int) -> bool:
        return self.account(id) is not None

    # -- lists ------------------------------------------------------------
    def set_keywords(self, words: Iterable[str]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM keywords")
            db.executemany("INSERT OR IGNORE INTO keywords VALUES (?)", [(w,) for w in words if w])

    def keywords(self, db: sqlite3.Connection) -> list[str]:
        return [row[0] for row in db.execute("SELECT word FROM keywords ORDER BY word")]

    def mark_unreachable(self, phones: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO unreachable VALUES (?)", [(str(p),) for p in phones]
            )

    def unreachable(self, db: sqlite3.Connection, phones: Iterable[str]) -> set[str]:
        wanted = list(set(phones))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in db.execute(
                    f"SELECT phone FROM unreachable WHERE phone IN ({marks})", chunk
                )
            )
        return found

    # -- sending ----------------------------------------------------------
    def batch_id(
        self, db: sqlite3.Connection, account_id: int, timestamp: int, message: str
    ) -> int:
        """The batch shared by calls of one account with the same Timestamp and Message."""
        db.execute(
            "INSERT OR IGNORE INTO batches (account_id, timestamp, message) VALUES (?, ?, ?)",
            (account_id, timestamp, message),
        )
        return db.execute(
            "SELECT id FROM batches WHERE account_id = ? AND timestamp = ? AND message = ?",
            (account_id, timestamp, message),
        ).fetchone()[0]

    def charge(self, db: sqlite3.Connection, account_id: int, cost: int) -> None:
        db.execute(
            "UPDATE accounts SET balance = balance - ?, sended = sended + ? WHERE id = ?",
            (cost, cost, account_id),
        )

    def deliver(self, db: sqlite3.Connection, rows: list[tuple]) -> None:
        db.executemany(
            "INSERT INTO deliveries (account_id, batch_id, phone, message, timestamp, "
            "scheduled_for, received_at, ext, operation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def record_scheduled(
        self, db: sqlite3.Connection, batch_id: int, at: str, recipients: int, cost: int, now: str
    ) -> None:
        db.execute(
            "INSERT INTO scheduled (batch_id, scheduled_for, recipients, cost, received_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (batch_id, at, recipients, cost, now),
        )

    def query(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            return [c[0] for c in cursor.description], cursor.fetchall()
