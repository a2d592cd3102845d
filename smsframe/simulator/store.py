"""The simulator's state in SQLite: accounts, keywords, unreachable numbers,
batches, scheduled batches and the delivery log.

One connection guarded by a lock. Every operation of the provider runs as one
transaction, which is what makes billing atomic; the server runs the calls that
arrive together in one :meth:`Store.group`, each call in a savepoint of it, and
answers them once the group is committed. A file database survives a restart of
the simulator; ``None`` keeps everything in memory.

The delivery log is a view, one row per number: an accepted call is stored as one
row of ``calls`` whose numbers are a JSON array.
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
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    phones TEXT NOT NULL,
    scheduled_for TEXT,
    received_at TEXT NOT NULL,
    ext TEXT,
    operation TEXT NOT NULL
);
"""

# A call holds at most 1000 numbers, so (call, position) orders the log in one integer.
DELIVERIES = """
CREATE VIEW IF NOT EXISTS deliveries AS
SELECT c.id * 1000 + n.key AS seq, c.account_id, c.batch_id, n.value AS phone, b.message,
       b.timestamp, c.scheduled_for, c.received_at, c.ext, c.operation
FROM calls AS c JOIN batches AS b ON b.id = c.batch_id, json_each(c.phones) AS n
"""

# The delivery log of a database written before it was a view: one call per row.
MIGRATE = """
INSERT INTO calls (account_id, batch_id, phones, scheduled_for, received_at, ext, operation)
SELECT account_id, batch_id, json_array(phone), scheduled_for, received_at, ext, operation
FROM deliveries ORDER BY seq;
DROP TABLE deliveries;
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
        self._grouped = False  # a group transaction is open: calls run in savepoints of it
        self._batches: dict[tuple[int, int, str], int] = {}  # forgotten on any rollback
        with self._lock:
            if db_path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                # Survives a restart of the simulator; a power cut is not part of the act.
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.executescript(SCHEMA)
            with self.transaction() as db:
                if db.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'deliveries' AND type = 'table'"
                ).fetchone():
                    for statement in MIGRATE.split(";")[:-1]:
                        db.execute(statement)
                db.execute(DELIVERIES)
            self._keywords = self._column("SELECT word FROM keywords ORDER BY word")
            self._unreachable = frozenset(self._column("SELECT phone FROM unreachable"))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _column(self, sql: str) -> list:
        return [row[0] for row in self._conn.execute(sql)]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block atomically, serialised with every other: a transaction of its
        own, or inside :meth:`group` a savepoint that the group's commit makes durable."""
        with self._lock:
            grouped = self._grouped
            self._conn.execute("SAVEPOINT call" if grouped else "BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if grouped:
                    self._conn.execute("ROLLBACK TO call")
                    self._conn.execute("RELEASE call")
                else:
                    self._conn.execute("ROLLBACK")
                self._batches.clear()  # ids cached in the block may be undone
                raise
            self._conn.execute("RELEASE call" if grouped else "COMMIT")

    @contextmanager
    def group(self) -> Iterator[None]:
        """One transaction for the blocks run in it (each its own savepoint): committed
        when the group ends, so that its callers may answer; all undone if that fails."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._grouped = True
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._batches.clear()
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._grouped = False

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

    # -- lists (kept in memory too: every send reads them) ------------------
    def set_keywords(self, words: Iterable[str]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM keywords")
            db.executemany("INSERT OR IGNORE INTO keywords VALUES (?)", [(w,) for w in words if w])
            self._keywords = self._column("SELECT word FROM keywords ORDER BY word")

    def keywords(self) -> list[str]:
        return self._keywords

    def mark_unreachable(self, phones: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO unreachable VALUES (?)", [(str(p),) for p in phones]
            )
            self._unreachable = frozenset(self._column("SELECT phone FROM unreachable"))

    def unreachable(self) -> frozenset[str]:
        return self._unreachable

    # -- sending ----------------------------------------------------------
    def batch_id(
        self, db: sqlite3.Connection, account_id: int, timestamp: int, message: str
    ) -> int:
        """The batch shared by calls of one account with the same Timestamp and Message."""
        key = (account_id, timestamp, message)
        found = self._batches.get(key)
        if found is None:
            db.execute(
                "INSERT OR IGNORE INTO batches (account_id, timestamp, message) VALUES (?, ?, ?)",
                key,
            )
            found = db.execute(
                "SELECT id FROM batches WHERE account_id = ? AND timestamp = ? AND message = ?",
                key,
            ).fetchone()[0]
            if len(self._batches) > 10_000:
                self._batches.clear()
            self._batches[key] = found
        return found

    def charge(self, db: sqlite3.Connection, account_id: int, cost: int) -> None:
        db.execute(
            "UPDATE accounts SET balance = balance - ?, sended = sended + ? WHERE id = ?",
            (cost, cost, account_id),
        )

    def deliver(
        self,
        db: sqlite3.Connection,
        account_id: int,
        batch_id: int,
        phones: list[str],
        scheduled_for: str | None,
        received_at: str,
        ext: str | None,
        operation: str,
    ) -> None:
        """Log a call's accepted numbers (digits only: they go in a JSON array as they are)."""
        db.execute(
            "INSERT INTO calls (account_id, batch_id, phones, scheduled_for, received_at, ext, "
            "operation) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                account_id,
                batch_id,
                '["' + '","'.join(phones) + '"]',
                scheduled_for,
                received_at,
                ext,
                operation,
            ),
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
