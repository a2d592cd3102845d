"""The journal: a durable record of every provider call, before and after it is made.

Every call's intent (campaign, a stable key, numbers, message hash, Timestamp)
is committed before the call and its outcome right after. A call with an
intent and no outcome was interrupted: its outcome is unknown and it is never
resent silently. The journal holds no password or credential.

No number is sent a campaign's message twice, whatever the interleaving: this is
enforced where an intent commits, in its own transaction, not by a check before it.
The intent commits only while its process still holds the campaign's lease (a
paused process that lost it cannot commit, so cannot call), and the ``claims``
table refuses a number that is already in another intent of the campaign, whatever
the chunking. Nor does it commit while one of its numbers is on the suppression list
(:mod:`smsframe.suppression`, kept here too): a number suppressed while a campaign runs
gets no later call. A call is made only with a committed intent's id in hand. Every
database error comes out as a :class:`~smsframe.errors.JournalError`.

Where it lives (:func:`default_url`): ``journal=`` (a SQLAlchemy URL or a file
path), else ``$SMSFRAME_JOURNAL`` (the same), else one journal per user,
``journal.sqlite`` in the platform's user data directory (platformdirs), never the
working directory: a notebook run from two folders must not send twice. A team
shares one PostgreSQL URL.

Examples
--------
>>> from smsframe.journal import Journal
>>> j = Journal()                             # this user's journal
>>> j.campaigns()[["name", "sent"]]           # one row per campaign, with totals
        name  sent
0  nov-promo     3
>>> j.campaign("nov-promo")["status"].tolist()  # its per-recipient outcomes
['sent', 'sent', 'sent']
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from pathlib import Path
from typing import Any, cast

import pandas as pd
import platformdirs
import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

from smsframe.codes import CHINA
from smsframe.errors import CampaignBusy, InvalidValue, JournalError
from smsframe.keys import campaign_key
from smsframe.outcomes import NO_OUTCOME, RECIPIENT_COLUMNS, Recipients, recipients_of

log = logging.getLogger("smsframe.journal")

JOURNAL_ENV = "SMSFRAME_JOURNAL"  # a URL or a file path: the journal when none is given
LEASE_TTL_S = 30.0
LOCK_TIMEOUT_S = 30.0  # how long a SQLite write waits for another process's lock
MAX_NAME = 200  # characters of a campaign name

metadata = sa.MetaData()

campaigns_table = sa.Table(
    "campaigns",
    metadata,
    sa.Column("name", sa.String(MAX_NAME), primary_key=True),
    sa.Column("account_id", sa.BigInteger),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("balance_before", sa.BigInteger),
    sa.Column("balance_after", sa.BigInteger),
    # Who is sending this campaign now ("host:pid:token") and until when, renewed while it runs.
    sa.Column("lease_owner", sa.String(300)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
)

groups_table = sa.Table(
    "groups",
    metadata,
    sa.Column("campaign", sa.String(MAX_NAME), primary_key=True),
    sa.Column("group_key", sa.String(64), primary_key=True),
    sa.Column("message_hash", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    # The provider merges calls with the same Timestamp and Message into one batch.
    sa.UniqueConstraint("message_hash", "timestamp", name="one_batch_per_timestamp"),
)

calls_table = sa.Table(
    "calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign", sa.String(MAX_NAME), nullable=False, index=True),
    sa.Column("call_key", sa.String(64), nullable=False),
    sa.Column("group_key", sa.String(64), nullable=False),
    sa.Column("operation", sa.String(20), nullable=False),
    sa.Column("message_hash", sa.String(64), nullable=False),
    sa.Column("ext", sa.String(6)),
    sa.Column("scheduled_for", sa.DateTime(timezone=True)),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("numbers", sa.Text, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("intent_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(12)),  # sent, scheduled, failed, unknown; NULL: no outcome
    sa.Column("state", sa.Integer),
    sa.Column("batch_id", sa.BigInteger),
    sa.Column("fail_phone", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("resend_safe", sa.Boolean),
    sa.Column("outcome_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("campaign", "call_key", name="one_intent_per_call"),
)

# Which call of its campaign each number belongs to: one row per (campaign, number),
# written in the transaction of that call's intent. A number already claimed in the
# campaign is refused, whatever the chunking; a deliberate resend takes it over only
# from the call it names (compare and swap), so two resends never both go out. The
# campaign is keyed by a 60-bit hash of its name (campaign_key): a third less to
# write than its name on every row of the hot path; two names with one hash would
# only refuse numbers, never send one twice.
claims_table = sa.Table(
    "claims",
    metadata,
    sa.Column("campaign_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("phone", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)


# What a campaign sends, recorded on its first run: a later run under the same name
# must send the same (CampaignMismatch otherwise, unless it extends the campaign).
contents_table = sa.Table(
    "contents",
    metadata,
    sa.Column("campaign", sa.String(MAX_NAME), primary_key=True),
    sa.Column("account_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # send, schedule
    sa.Column("template", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

# The text of every message hash a call was made with: the result shows what was sent.
messages_table = sa.Table(
    "messages",
    metadata,
    sa.Column("message_hash", sa.String(64), primary_key=True),
    sa.Column("message", sa.Text, nullable=False),
)

# The rows a campaign's latest run did not call (rejected, skipped) and why: with the
# calls, the journal alone gives every row of the campaign.
unsent_table = sa.Table(
    "unsent",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign", sa.String(MAX_NAME), nullable=False, index=True),
    sa.Column("phone", sa.String(100)),  # as normalised, else as given (truncated)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("reason", sa.String(40)),
    sa.Column("detail", sa.Text),
)

# The suppression list, as events never deleted: a number (E.164) is suppressed while
# its latest event is an "add". Shared by everyone on the journal. A number's events are
# numbered (seq 1, 2...): two processes changing it at once cannot both record a change.
suppressions_table = sa.Table(
    "suppressions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("action", sa.String(6), nullable=False),  # add, remove
    sa.Column("reason", sa.String(20)),  # opt_out, complaint, blocked, manual
    sa.Column("note", sa.Text),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(300)),
    sa.UniqueConstraint("phone", "seq", name="one_change_at_a_time"),
)
SUPPRESSION_ACTIONS = ("add", "remove")


@dataclass(frozen=True)
class Content:
    """What a campaign sends: its account, kind (send or schedule) and template."""

    account_id: int
    kind: str
    template: str


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Intent:
    """What a call is about to do."""

    campaign: str
    call_key: str
    group_key: str
    operation: str
    message_hash: str
    ext: str | None
    scheduled_for: datetime | None
    timestamp: int
    numbers: tuple[str, ...]
    parts: int


@dataclass(frozen=True)
class Outcome:
    """What the provider answered (or that nobody knows)."""

    status: str
    state: int | None = None
    batch_id: int | None = None
    fail_phone: str = ""
    detail: str = ""
    resend_safe: bool = False


class IntentRefused(Exception):
    """The journal would not commit an intent: its call must not be made."""


class LeaseLost(IntentRefused):
    """This process no longer holds the campaign's lease: another may be sending it."""


class AlreadyClaimed(IntentRefused):
    """A number of the call is in another intent of its campaign already."""


class Suppressed(IntentRefused):
    """Numbers of the call are on the suppression list (``numbers``, as sent): make the
    call without them."""

    def __init__(self, numbers: Sequence[str]) -> None:
        super().__init__(f"{len(numbers)} numbers of the call are suppressed")
        self.numbers = frozenset(numbers)


_INTENT_COLUMNS = [*Intent.__dataclass_fields__, "recipients", "intent_at"]
_INSERT_CALL = calls_table.insert()
_RECORD_OUTCOME = (
    calls_table.update()
    .where(calls_table.c.id == sa.bindparam("call_id"))
    .values({name: sa.bindparam(name) for name in (*Outcome.__dataclass_fields__, "outcome_at")})
)
# The fence: a write that succeeds only while ``owner`` holds the campaign's lease. In
# the intent's own transaction, it serialises with a takeover (both write that row).
_FENCE = (
    campaigns_table.update()
    .where(
        campaigns_table.c.name == sa.bindparam("campaign"),
        campaigns_table.c.lease_owner == sa.bindparam("owner"),
    )
    .values(lease_owner=campaigns_table.c.lease_owner)
)


_CLAIMS_AT_ONCE = 250  # rows of 3 parameters: within SQLite's oldest limit of 999


def _claims(count: int) -> sa.Insert:
    """One statement claiming ``count`` numbers (``p0``...) for a call: one multi-row
    INSERT costs SQLite half what as many single-row ones do."""
    call: dict[str, Any] = {"campaign_key": sa.bindparam("key"), "call_id": sa.bindparam("call_id")}
    return claims_table.insert().values(
        [call | {"phone": sa.bindparam(f"p{i}")} for i in range(count)]
    )


def _suppressed_among(count: int) -> sa.Select:
    """The numbers among ``count`` (``p0``...) whose latest suppression event is an add."""
    latest, newer = suppressions_table.alias("latest"), suppressions_table.alias("newer")
    changed_since = (
        sa.select(newer.c.id)
        .where(newer.c.phone == latest.c.phone, newer.c.seq > latest.c.seq)
        .exists()
    )
    return sa.select(latest.c.phone).where(
        latest.c.phone.in_([sa.bindparam(f"p{i}") for i in range(count)]),
        latest.c.action == sa.literal_column("'add'"),  # in the text: compiled once
        ~changed_since,
    )


def e164(number: str) -> str:
    """A number as sent (the provider's: mainland China, national) in E.164, as the
    suppression list keeps it."""
    return number if number.startswith("+") else f"+86{number}"


_TAKE_OVER = (
    claims_table.update()
    .where(
        claims_table.c.campaign_key == sa.bindparam("key"),
        claims_table.c.phone == sa.bindparam("phone"),
        claims_table.c.call_id == sa.bindparam("prior"),
    )
    .values(call_id=sa.bindparam("call_id"))
)


class _Prepared:
    """A Core statement compiled once for one dialect and run on a DBAPI cursor.

    The calls' records are the campaign's hot path: this skips SQLAlchemy's work per
    execution (cache key, execution context, result) and keeps its type conversions
    (each column type's own bind processor).
    """

    def __init__(
        self, statement: sa.ClauseElement, dialect: sa.Dialect, columns: list[str] | None = None
    ) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=columns))
        self.sql = compiled.string
        self.order = compiled.positiontup  # None for a dialect with named parameters
        self.convert = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }

    def parameters(self, values: dict) -> tuple | dict:
        converted = {
            name: value if convert is None else convert(value)
            for name, convert in self.convert.items()
            for value in (values.get(name),)
        }
        return converted if self.order is None else tuple(converted[n] for n in self.order)


class _ClaimsInsert(_Prepared):
    """:func:`_claims` of ``count`` numbers, compiled once. Its parameters are made
    without a dict per number where the driver takes them by position and no column
    converts its value (SQLite): a call's claims are most of its intent's work."""

    def __init__(self, count: int, dialect: sa.Dialect) -> None:
        super().__init__(_claims(count), dialect)
        pattern = [name for i in range(count) for name in ("key", f"p{i}", "call_id")]
        self._by_position = self.order == pattern and not any(self.convert.values())

    def rows(self, common: dict, numbers: Sequence[str]) -> tuple | dict:
        """The parameters claiming ``numbers`` for ``common``'s key and call_id."""
        if self._by_position:
            key, call_id = repeat(common["key"]), repeat(common["call_id"])
            return tuple(
                chain.from_iterable(zip(key, numbers, call_id, strict=False))
            )  # repeat: endless
        return self.parameters(common | {f"p{i}": phone for i, phone in enumerate(numbers)})


class _SuppressedAmong(_Prepared):
    """:func:`_suppressed_among` of ``count`` numbers, compiled once; its numbers bound
    by position where the driver takes them so (SQLite): a check on every intent."""

    def __init__(self, count: int, dialect: sa.Dialect) -> None:
        super().__init__(_suppressed_among(count), dialect)
        names = [f"p{i}" for i in range(count)]
        self._by_position = self.order == names and not any(self.convert.values())

    def numbers(self, numbers: Sequence[str]) -> tuple | dict:
        if self._by_position:
            return tuple(numbers)
        return self.parameters({f"p{i}": n for i, n in enumerate(numbers)})


@dataclass(frozen=True)
class _Claims:
    """The numbers an intent claims in its campaign, and the lease it is made under."""

    campaign: str
    owner: str  # the lease holder's token: the intent commits only while it holds it
    new: tuple[str, ...]  # numbers never called in the campaign
    resent: Mapping[str, int]  # numbers called before: the id of each one's latest call


@dataclass(eq=False)
class _Record:
    """One call record waiting to be written, and what became of it."""

    statement: _Prepared
    parameters: tuple | dict
    claims: _Claims | None = None  # an intent's; None for an outcome
    call_id: int | None = None
    error: Exception | None = None

    @property
    def durable(self) -> bool:  # an intent is synced to disk before its call
        return self.claims is not None


class _Fenced(Exception):
    """An intent's campaign lease is no longer this process's (raised to roll back)."""


class _Taken(Exception):
    """A resent number's claim is no longer the call the intent names (to roll back)."""


class _CallWriter:
    """The calls' records, written with group commit on one kept-open connection.

    Records are queued; whoever holds the writing lock writes all that are queued in
    one transaction, one sync to disk. A worker recording an intent takes the lock
    and returns once its intent is committed; one recording an outcome does not wait:
    the outcome is written at once if the lock is free, else by its holder before it
    lets go. Readers :meth:`flush` first. Statements are compiled once
    (:class:`_Prepared`). On SQLite, a transaction of outcomes alone skips the sync
    to disk: losing one (to a power cut) leaves its call ``unknown``, never resent;
    an intent is always synced before its call.

    An intent commits with its fence (the campaign's lease is still this process's)
    and its claims (no number already in another intent of the campaign) in the same
    transaction. A transaction that fails is retried record by record, so that each
    record gets its own answer: an id, or an error (:class:`IntentRefused`,
    :class:`JournalError`); no intent is ever left with neither.
    """

    def __init__(self, engine: sa.Engine, describe) -> None:
        self.engine = engine
        self._describe = describe  # DBAPI error -> JournalError
        insert = _INSERT_CALL  # SQLite before 3.35 cannot return the id: lastrowid then
        if engine.dialect.insert_returning:
            insert = insert.returning(calls_table.c.id)
        self._intent = _Prepared(insert, engine.dialect, _INTENT_COLUMNS)
        self._outcome = _Prepared(_RECORD_OUTCOME, engine.dialect)
        self._fence = _Prepared(_FENCE, engine.dialect)
        self._claims: dict[int, _ClaimsInsert] = {}  # by count of numbers
        self._suppressed: dict[int, _SuppressedAmong] = {}  # by count of numbers
        self._any_suppressed = _Prepared(  # most journals have none: one cheap look then
            sa.text(f"SELECT id FROM {suppressions_table.name} LIMIT 1"), engine.dialect
        )
        self._take_over = _Prepared(_TAKE_OVER, engine.dialect)
        self._queue: deque[_Record] = deque()  # appends and pops are atomic
        self._lock = threading.Lock()
        self._sqlite = engine.dialect.name == "sqlite"
        # The pool's DBAPI connection, kept while the journal is open.
        self._connection: PoolProxiedConnection | None = None
        self._durable = True  # its sync mode (SQLite)
        self._error: Exception | None = None  # of an outcome that could not be written

    def intent(self, values: dict, claims: _Claims) -> int:
        """Write an intent, and everything queued before it; returns the call's id."""
        record = _Record(self._intent, self._intent.parameters(values), claims)
        self._queue.append(record)
        with self._lock:
            self._drain()
            error = record.error or self._error  # its own, else a lost outcome's
            self._error = None
        self._drain_if_free()
        if error is not None:
            raise error
        if record.call_id is None:  # never: a call is made only with a committed intent
            raise JournalError("the journal did not confirm the call's intent; it was not made")
        return record.call_id

    def outcome(self, values: dict) -> None:
        """Queue an outcome: written now if nobody is writing, else by the writer at work
        before it lets go (:meth:`_drain_if_free`); an outcome's worker never waits."""
        self._queue.append(_Record(self._outcome, self._outcome.parameters(values)))
        self._drain_if_free()

    def flush(self) -> None:
        """Write whatever is queued; raise the error of an outcome that could not be."""
        with self._lock:
            self._drain()
            error, self._error = self._error, None
        self._drain_if_free()
        if error is not None:
            raise error

    def _drain(self) -> None:
        while self._queue:
            batch = []
            while self._queue:
                batch.append(self._queue.popleft())
            self._commit(batch)

    def _drain_if_free(self) -> None:
        # Whoever lets the lock go looks again: a record queued while its drain ended
        # is never left behind.
        while self._queue and self._lock.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._lock.release()

    def _commit(self, batch: list[_Record]) -> None:
        """Write ``batch`` in one transaction; on failure, each record in one of its own.
        Never raises: every record ends with an id or an error."""
        try:
            ids = self._write(batch)
        except Exception as error:
            if len(batch) > 1:  # whose record broke a rule? each in a transaction of its own
                for record in batch:
                    self._commit([record])
                return
            failed = batch[0]
            failed.error = self._refusal(error, failed)
            if not failed.durable:  # nobody waits for an outcome: the next intent raises it
                self._error = self._error or failed.error
            return
        for record, call_id in zip(batch, ids, strict=True):  # only once committed
            record.call_id = call_id

    def _write(self, batch: list[_Record]) -> list[int | None]:
        connection = self._connect(durable=any(record.durable for record in batch))
        cursor = connection.cursor()
        try:
            fenced = {(r.claims.campaign, r.claims.owner) for r in batch if r.claims is not None}
            for campaign, owner in fenced:
                cursor.execute(
                    self._fence.sql, self._fence.parameters({"campaign": campaign, "owner": owner})
                )
                if cursor.rowcount != 1:
                    raise _Fenced(campaign)
            ids = []
            for record in batch:
                if record.claims is not None:  # an intent: none of its numbers suppressed
                    self._refuse_suppressed(cursor, record.claims)
                cursor.execute(record.statement.sql, record.parameters)
                if record.claims is not None:  # an intent: its id, then its numbers claimed
                    row = cursor.fetchone() if cursor.description else (cursor.lastrowid,)
                    if row is None:
                        raise JournalError("the journal gave no id for the call's intent")
                    ids.append(row[0])
                    self._claim_numbers(cursor, record.claims, row[0])
                else:
                    ids.append(None)
            connection.commit()
            return ids
        except BaseException as error:
            self._rollback(error, cursor)
            raise
        finally:
            cursor.close()

    def _claim_numbers(self, cursor, claims: _Claims, call_id: int) -> None:
        common = {"key": campaign_key(claims.campaign), "call_id": call_id}
        if claims.new:
            for start in range(0, len(claims.new), _CLAIMS_AT_ONCE):
                numbers = claims.new[start : start + _CLAIMS_AT_ONCE]
                if len(numbers) not in self._claims:
                    self._claims[len(numbers)] = _ClaimsInsert(len(numbers), self.engine.dialect)
                statement = self._claims[len(numbers)]
                cursor.execute(statement.sql, statement.rows(common, numbers))
        if claims.resent:
            taken = 0
            for phone, prior in claims.resent.items():  # rowcount of each, on every driver
                cursor.execute(
                    self._take_over.sql,
                    self._take_over.parameters(common | {"phone": phone, "prior": prior}),
                )
                taken += cursor.rowcount
            if taken != len(claims.resent):
                raise _Taken(claims.campaign)

    def _refuse_suppressed(self, cursor, claims: _Claims) -> None:
        """Raise :class:`Suppressed` if numbers of the intent are on the suppression list
        now, in the intent's own transaction: a number suppressed while the campaign
        runs gets no call that commits after."""
        cursor.execute(self._any_suppressed.sql, self._any_suppressed.parameters({}))
        if cursor.fetchone() is None:
            return
        numbers = [*claims.new, *claims.resent]
        found: list[str] = []
        for start in range(0, len(numbers), _CLAIMS_AT_ONCE):
            chunk = [e164(n) for n in numbers[start : start + _CLAIMS_AT_ONCE]]
            if len(chunk) not in self._suppressed:
                self._suppressed[len(chunk)] = _SuppressedAmong(len(chunk), self.engine.dialect)
            query = self._suppressed[len(chunk)]
            cursor.execute(query.sql, query.numbers(chunk))
            found += [row[0] for row in cursor.fetchall()]
        if found:
            listed = set(found)
            raise Suppressed([n for n in numbers if e164(n) in listed])

    def _refusal(self, error: BaseException, record: _Record) -> Exception:
        """What the worker of ``record`` is told of ``error``."""
        if isinstance(error, Suppressed):
            return error
        if isinstance(error, _Fenced):
            return LeaseLost(
                f"campaign {error}: this process no longer holds its lease (paused past it, "
                "or the journal stopped answering), and another process may be sending it"
            )
        integrity = self.engine.dialect.loaded_dbapi.IntegrityError
        if record.claims is not None and isinstance(error, _Taken | integrity):
            return AlreadyClaimed(
                f"a number of this call of {record.claims.campaign!r} is in another of its "
                "intents already"
            )
        if isinstance(error, JournalError):
            return error
        if isinstance(error, Exception):
            return self._describe(error)
        return JournalError(f"the journal's write was interrupted ({error!r})")

    def _connect(self, durable: bool) -> PoolProxiedConnection:
        connection = self._connection
        if connection is None:
            connection = self._connection = self.engine.raw_connection()
            self._durable = True  # as every connection starts (_sqlite_pragmas)
        if self._sqlite and durable != self._durable:
            connection.driver_connection.execute(  # type: ignore[union-attr]
                f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}"
            )
            self._durable = durable
        return connection

    def _rollback(self, error: BaseException, cursor) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        if isinstance(error, dbapi_error) and self.engine.dialect.is_disconnect(
            error, connection, cursor
        ):
            connection.invalidate()
            return
        try:
            connection.rollback()
        except Exception:
            connection.invalidate()
            return
        self._connection = connection

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                if self._connection is not None:
                    with contextlib.suppress(Exception):  # a dead server: nothing to close
                        self._connection.close()
                    self._connection = None


@dataclass
class Lease:
    """This process's hold on a campaign (:meth:`Journal.lease`)."""

    name: str
    ttl: float
    until: float  # time.time() when it runs out, as of its last renewal
    owner: str = ""  # "host:pid:token", as the journal records the holder
    lost: threading.Event = field(default_factory=threading.Event)

    def held(self) -> bool:
        """Whether it is still ours, with a third of its time to spare."""
        return not self.lost.is_set() and time.time() < self.until - self.ttl / 3


def _translated(method):
    """Database errors out of a :class:`Journal` method as :class:`JournalError`."""

    @functools.wraps(method)
    def translated(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sa.exc.SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as error:
            raise self._error(error) from error
        except pd.errors.DatabaseError as error:  # pandas' read_sql wraps SQLAlchemy's
            raise self._error(error.__cause__ or error) from error

    return translated


class Journal:
    """The journal on one database.

    Every database error comes out as a :class:`~smsframe.errors.JournalError` that
    says what happened and what to do. ``lock_timeout``: seconds a SQLite write waits
    for another process holding the file (a campaign running or paused on it).
    ``read_only``: only read it (an audit), so that a journal on read-only media, or
    archived without write access, can be read; a SQLite file is then never created.
    """

    lease_ttl = LEASE_TTL_S  # seconds a campaign's lease lasts unless renewed

    def __init__(
        self,
        url: str | Path | None = None,
        *,
        lock_timeout: float = LOCK_TIMEOUT_S,
        read_only: bool = False,
    ) -> None:
        self.url = as_url(url) if url else default_url()
        self.lock_timeout = lock_timeout
        self.read_only = read_only
        try:
            target = sa.engine.make_url(self.url)
            if target.get_backend_name() == "sqlite" and target.database not in (None, ""):
                target = _sqlite_target(target, read_only)
            options = _engine_options(target.get_backend_name(), lock_timeout)
            self.engine = sa.create_engine(target, **options)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as error:
            raise JournalError(
                f"{masked(self.url)!r} is not a journal's address ({error}): give a file "
                "path, or a SQLAlchemy URL such as sqlite:///path/journal.sqlite or "
                "postgresql+psycopg://user@host/smsframe"
            ) from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            if not read_only:
                _create_tables(self.engine)
            else:  # a journal to read must be one: fail now, in words
                with self.engine.connect() as db:
                    db.execute(sa.select(calls_table.c.id).limit(1))
        except sa.exc.SQLAlchemyError as error:
            self.engine.dispose()
            raise self._error(error) from error
        self._calls = _CallWriter(self.engine, self._error)
        if self.where != self.url:
            _UNMASKED[self.where] = self.url

    def __repr__(self) -> str:
        return f"<Journal {self.where}>"

    @property
    def where(self) -> str:
        """The journal's URL with any password masked."""
        return masked(self.url)

    def _error(self, error: Exception) -> JournalError:
        """``error`` of the database as a :class:`JournalError` saying what to do."""
        return journal_error(error, self.where, self.lock_timeout)

    @_translated
    def close(self) -> None:
        try:
            self._calls.close()
        finally:
            self.engine.dispose()

    # -- campaigns -----------------------------------------------------------
    @_translated
    def start_campaign(
        self, name: str, account_id: int, balance_before: int, content: Content | None = None
    ) -> None:
        """Record, in one transaction, the account and, on the first run, the balance
        before sending and what the campaign sends (``content``)."""
        for attempt in range(2):
            try:
                with self.engine.begin() as db:
                    self._ensure_campaign_in(db, name)
                    db.execute(
                        campaigns_table.update()
                        .where(
                            campaigns_table.c.name == name,
                            campaigns_table.c.balance_before.is_(None),
                        )
                        .values(account_id=account_id, balance_before=balance_before)
                    )
                    if content is not None:
                        self._bind_content(db, name, content)
                return
            except sa.exc.IntegrityError:  # another process recorded it meanwhile: again
                if attempt:
                    raise

    def _ensure_campaign(self, name: str) -> None:
        try:
            with self.engine.begin() as db:
                self._ensure_campaign_in(db, name)
        except sa.exc.IntegrityError:  # created by another process meanwhile
            pass

    @staticmethod
    def _ensure_campaign_in(db: sa.Connection, name: str) -> None:
        exists = db.execute(
            sa.select(campaigns_table.c.name).where(campaigns_table.c.name == name)
        ).first()
        if exists is None:
            db.execute(campaigns_table.insert().values(name=name, created_at=now()))

    @staticmethod
    def _bind_content(db: sa.Connection, name: str, content: Content) -> None:
        """Record what campaign ``name`` sends, unless its first run did already."""
        exists = db.execute(
            sa.select(contents_table.c.campaign).where(contents_table.c.campaign == name)
        ).first()
        if exists is None:
            db.execute(
                contents_table.insert().values(campaign=name, recorded_at=now(), **vars(content))
            )

    @contextmanager
    def lease(self, name: str, ttl: float | None = None) -> Iterator[Lease]:
        """Hold campaign ``name`` for this process while the block runs.

        A second process (or thread) running the same campaign at the same time gets
        :class:`CampaignBusy`. The lease is renewed while held; a holder that died
        on this machine, or whose lease expired, is taken over. The :class:`Lease`
        yielded tells whether it is still held: a process paused past its lease, or
        whose database stopped answering, may have lost the campaign to another.
        """
        ttl = self.lease_ttl if ttl is None else ttl
        me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        held = Lease(name, ttl, time.time() + ttl, owner=me)
        _HELD.add(me)  # before it is taken: a holder in this process is never stale
        try:
            self._acquire(name, me, ttl)
        except BaseException:
            _HELD.discard(me)
            raise
        stop = threading.Event()
        renew = threading.Thread(
            target=self._renew, args=(held, me, stop), name="smsframe-lease", daemon=True
        )
        renew.start()
        try:
            yield held
        finally:
            stop.set()
            renew.join()
            _HELD.discard(me)
            self._release(name, me)

    def _release(self, name: str, me: str) -> None:
        try:
            with self.engine.begin() as db:
                db.execute(
                    campaigns_table.update()
                    .where(campaigns_table.c.name == name, campaigns_table.c.lease_owner == me)
                    .values(lease_owner=None, lease_until=None)
                )
        except sa.exc.SQLAlchemyError as error:  # it runs out by itself
            log.warning("could not release the lease of %s: %s", name, self._error(error))

    @_translated
    def _acquire(self, name: str, me: str, ttl: float) -> None:
        self._ensure_campaign(name)
        table = campaigns_table.c
        with self.engine.begin() as db:
            owner, until = db.execute(
                sa.select(table.lease_owner, table.lease_until).where(table.name == name)
            ).one()
            free = (table.lease_owner.is_(None)) | (table.lease_until < now())
            if owner is not None and _stale(owner):
                free = free | (table.lease_owner == owner)
            taken = db.execute(
                campaigns_table.update()
                .where(table.name == name, free)
                .values(lease_owner=me, lease_until=now() + timedelta(seconds=ttl))
            ).rowcount
        if taken != 1:
            with self.engine.connect() as db:  # the holder now: the read above may predate it
                owner, until = db.execute(
                    sa.select(table.lease_owner, table.lease_until).where(table.name == name)
                ).one()
            until = f", lease until {_as_utc(until):%H:%M:%S} UTC" if until is not None else ""
            raise CampaignBusy(
                f"campaign {name!r} is being sent right now by another process ({owner}"
                f"{until}): wait for it to finish, or use another campaign name; nothing was sent"
            )

    def _renew(self, lease: Lease, me: str, stop: threading.Event) -> None:
        while not stop.wait(lease.ttl / 3):
            until = time.time() + lease.ttl
            try:
                renewed = self._extend(lease, me)
            except sa.exc.SQLAlchemyError as error:  # held until it runs out; try again
                log.warning("could not renew the lease of %s: %s", lease.name, error)
                continue
            if not renewed:
                log.warning("the lease of campaign %s was taken over", lease.name)
                lease.lost.set()
                return
            lease.until = until

    def _extend(self, lease: Lease, me: str) -> bool:
        """Renew ``lease`` by its ttl if ``me`` still holds it; whether it did."""
        table = campaigns_table.c
        with self.engine.begin() as db:
            return (
                db.execute(
                    campaigns_table.update()
                    .where(table.name == lease.name, table.lease_owner == me)
                    .values(lease_until=now() + timedelta(seconds=lease.ttl))
                ).rowcount
                == 1
            )

    @_translated
    def lease_until(self, name: str) -> datetime | None:
        """When the lease of campaign ``name`` runs out unless renewed (UTC; None: free)."""
        table = campaigns_table.c
        with self.engine.connect() as db:
            until = db.execute(sa.select(table.lease_until).where(table.name == name)).scalar()
        return None if until is None else _as_utc(until)

    @_translated
    def finish_campaign(self, name: str, balance_after: int | None) -> None:
        with self.engine.begin() as db:
            db.execute(
                campaigns_table.update()
                .where(campaigns_table.c.name == name)
                .values(balance_after=balance_after)
            )

    @_translated
    def campaign_info(self, name: str) -> dict | None:
        """The campaigns row of ``name`` (account_id, created_at, balance_before,
        balance_after), or None when the journal has no such campaign."""
        query = sa.select(campaigns_table).where(campaigns_table.c.name == name)
        with self.engine.connect() as db:
            row = db.execute(query).mappings().first()
        return None if row is None else dict(row)

    @_translated
    def campaigns(self) -> pd.DataFrame:
        """Every campaign with its recipients per status (the calls read in one query)."""
        self._calls.flush()
        with self.engine.connect() as db:
            frame = pd.read_sql(sa.select(campaigns_table).order_by("created_at"), db)
            calls = pd.read_sql(sa.select(calls_table).order_by(calls_table.c.id), db)
        if frame.empty:
            return frame
        totals = []
        for name, its_calls in calls.groupby("campaign", sort=False):
            recipients = recipients_of(its_calls)
            if recipients is not None:
                totals.append(recipients.frame()["status"].value_counts().rename(name))
        if not totals:
            return frame
        counts = pd.DataFrame(totals).reindex(frame["name"]).fillna(0).astype("int64")
        return frame.join(counts, on="name")

    # -- timestamps ----------------------------------------------------------
    @_translated
    def group_timestamps(self, campaign: str, groups: pd.DataFrame) -> dict[str, int]:
        """The Timestamp of each group (``group_key``, ``message_hash``, wanted ``timestamp``):
        the one recorded for it, else the first free one from ``timestamp`` on for its
        message, reserved for good in one transaction.

        No two groups in the journal share a Timestamp for the same message: the
        provider would merge their batches.
        """
        while True:
            try:
                with self.engine.begin() as db:
                    return self._reserve(db, campaign, groups)
            except sa.exc.IntegrityError:  # another process reserved one meanwhile: again
                continue

    def _reserve(self, db, campaign: str, groups: pd.DataFrame) -> dict[str, int]:
        table = groups_table.c
        recorded = dict(
            db.execute(
                sa.select(table.group_key, table.timestamp).where(table.campaign == campaign)
            ).all()
        )
        new = groups[~groups["group_key"].isin(list(recorded))]
        if new.empty:
            return recorded
        hashes = list(new["message_hash"].unique())
        taken: dict[str, set[int]] = {}
        for start in range(0, len(hashes), 500):
            rows = db.execute(
                sa.select(table.message_hash, table.timestamp).where(
                    table.message_hash.in_(hashes[start : start + 500])
                )
            ).all()
            for message_hash, timestamp in rows:
                taken.setdefault(message_hash, set()).add(timestamp)
        values = []
        for key, message_hash, wanted in zip(
            new["group_key"], new["message_hash"], new["timestamp"], strict=True
        ):
            used = taken.setdefault(message_hash, set())
            timestamp = int(wanted)
            while timestamp in used:
                timestamp += 1
            used.add(timestamp)
            recorded[key] = timestamp
            values.append(
                {
                    "campaign": campaign,
                    "group_key": key,
                    "message_hash": message_hash,
                    "timestamp": timestamp,
                }
            )
        db.execute(groups_table.insert(), values)
        if "message" in new.columns:
            self._record_texts(db, dict(zip(new["message_hash"], new["message"], strict=True)))
        return recorded

    def _record_texts(self, db, texts: dict[str, str]) -> None:
        known = set()
        hashes = list(texts)
        for start in range(0, len(hashes), 500):
            known.update(
                db.execute(
                    sa.select(messages_table.c.message_hash).where(
                        messages_table.c.message_hash.in_(hashes[start : start + 500])
                    )
                ).scalars()
            )
        missing = [{"message_hash": h, "message": t} for h, t in texts.items() if h not in known]
        if missing:
            db.execute(messages_table.insert(), missing)

    @_translated
    def texts(self, hashes: list[str]) -> dict[str, str]:
        """The text of each of ``hashes`` that the journal knows."""
        found: dict[str, str] = {}
        hashes = list(dict.fromkeys(hashes))
        with self.engine.connect() as db:
            for start in range(0, len(hashes), 500):
                found.update(
                    db.execute(
                        sa.select(messages_table.c.message_hash, messages_table.c.message).where(
                            messages_table.c.message_hash.in_(hashes[start : start + 500])
                        )
                    ).all()
                )
        return found

    # -- what a campaign sends, and what it did not --------------------------------
    @_translated
    def content(self, name: str) -> Content | None:
        """What campaign ``name`` was first run with (None: never run)."""
        table = contents_table.c
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(table.account_id, table.kind, table.template).where(
                    table.campaign == name
                )
            ).first()
        return None if row is None else Content(*row)

    @_translated
    def record_unsent(self, name: str, rows: pd.DataFrame, replace: bool = True) -> None:
        """Replace the rows campaign ``name`` did not call (``phone``, ``status``,
        ``reason``, ``detail``) by those of its latest run (``replace=False``: add
        them, for a run that records its rows part by part)."""
        values = [
            {"campaign": name, "phone": phone, "status": status, "reason": reason, "detail": d}
            for phone, status, reason, d in zip(
                rows["phone"], rows["status"], rows["reason"], rows["detail"], strict=True
            )
        ]
        with self.engine.begin() as db:
            if replace:
                db.execute(unsent_table.delete().where(unsent_table.c.campaign == name))
            if values:
                db.execute(unsent_table.insert(), values)

    @_translated
    def unsent(self, name: str) -> pd.DataFrame:
        """The rows of campaign ``name``'s latest run that were not called: phone,
        status (rejected, skipped), reason, detail."""
        table = unsent_table.c
        query = sa.select(table.phone, table.status, table.reason, table.detail).where(
            table.campaign == name
        )
        with self.engine.connect() as db:
            return pd.read_sql(query.order_by(table.id), db)

    # -- calls -----------------------------------------------------------------
    def record_intent(
        self, intent: Intent, lease: Lease, resent: Mapping[str, int] | None = None
    ) -> int:
        """Commit what a call is about to do; returns the call's id. Make the call only
        with that id in hand.

        The intent commits only while ``lease`` is still this process's, and only if
        none of its numbers is in another intent of the campaign, except those in
        ``resent`` (a deliberate resend: number -> id of its latest call, which it
        takes the number over from), and only if none of its numbers is suppressed now.
        Otherwise it raises :class:`LeaseLost`, :class:`AlreadyClaimed` or
        :class:`Suppressed` (nothing committed: do not call), or
        :class:`JournalError` when the database fails.
        """
        if lease.name != intent.campaign:
            raise ValueError(f"the lease is of {lease.name!r}, the intent of {intent.campaign!r}")
        resent = resent or {}
        values = vars(intent) | {
            "scheduled_for": _utc(intent.scheduled_for),
            "numbers": ";".join(intent.numbers),
            "recipients": len(intent.numbers),
            "intent_at": now(),
        }
        new = intent.numbers if not resent else tuple(n for n in intent.numbers if n not in resent)
        claims = _Claims(intent.campaign, lease.owner, new, resent)
        return self._calls.intent(values, claims)

    def record_outcome(self, call_id: int, outcome: Outcome) -> None:
        """Record what a call did: committed at once, or with the next record and
        always before the journal is read."""
        self._calls.outcome(vars(outcome) | {"call_id": call_id, "outcome_at": now()})

    @_translated
    def calls(self, campaign: str) -> pd.DataFrame:
        """Every call of ``campaign`` in the order they were made."""
        self._calls.flush()
        query = sa.select(calls_table).where(calls_table.c.campaign == campaign)
        with self.engine.connect() as db:
            frame = pd.read_sql(query.order_by(calls_table.c.id), db)
        # A call with an intent and no outcome was interrupted: nobody knows.
        missing = frame["status"].isna()
        frame.loc[missing, "status"] = "unknown"
        frame.loc[missing, "detail"] = NO_OUTCOME
        return frame

    def campaign(self, name: str) -> pd.DataFrame:
        """One row per recipient of campaign ``name``: the outcome of its latest call.

        Columns: phone, status, reason, state, detail, batch_id, timestamp,
        scheduled_for, sent_at, retry (failed, certainly not accepted, worth a
        new try), call_id.
        """
        recipients = self.recipients(name)
        if recipients is None:
            return pd.DataFrame(columns=RECIPIENT_COLUMNS)
        return recipients.frame()

    def recipients(self, name: str) -> Recipients | None:
        """The recipients of campaign ``name`` by call, as :meth:`campaign` gives them one
        row each, without that frame (None: no calls)."""
        return recipients_of(self.sent(name))

    def sent(self, name: str) -> pd.DataFrame:
        """:meth:`calls` with the text of each call's message (``message``)."""
        calls = self.calls(name)
        calls["message"] = calls["message_hash"].map(self.texts(list(calls["message_hash"])))
        return calls

    @_translated
    def messages_between(
        self, start: datetime, end: datetime, exclude: str | None = None
    ) -> pd.DataFrame:
        """The calls of every campaign (but ``exclude``) whose messages went out, may
        have, or are scheduled to, at a time in [``start``, ``end``): campaign, numbers
        (``;``-joined), fail_phone, at (UTC). Sent, scheduled and unknown calls count;
        failed ones do not."""
        self._calls.flush()
        c = calls_table.c
        at = sa.func.coalesce(c.scheduled_for, c.intent_at)
        query = sa.select(c.campaign, c.numbers, c.fail_phone, at.label("at")).where(
            sa.or_(c.status.is_(None), c.status.in_(["sent", "scheduled", "unknown"])),
            at >= _utc(start),
            at < _utc(end),
        )
        if exclude is not None:
            query = query.where(c.campaign != exclude)
        with self.engine.connect() as db:
            frame = pd.read_sql(query, db)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    # -- the suppression list ----------------------------------------------------
    @_translated
    def record_suppressions(
        self,
        phones: Sequence[str],
        action: str,
        reason: str | None = None,
        note: str | None = None,
    ) -> list[str]:
        """Add ``phones`` (E.164) to the suppression list (``action="add"``, with a
        ``reason``) or remove them, in one transaction; returns those it changed (adding
        a number already suppressed, or removing one that is not, records nothing).

        Enforced where it commits: each change of a number takes the next of its event
        numbers, which the database holds unique, so of two processes changing a number
        at once one records it and the other, trying again, finds it done.
        """
        if action not in SUPPRESSION_ACTIONS:
            raise ValueError(f"action must be one of {SUPPRESSION_ACTIONS}, got {action!r}")
        wanted = list(dict.fromkeys(phones))
        common = {"action": action, "reason": reason, "note": note, "recorded_by": _who()}
        for attempt in range(10):
            try:
                with self.engine.begin() as db:
                    latest = self._latest_suppressions(db, wanted)
                    changed = [
                        p
                        for p in wanted
                        if (latest.get(p, (0, "remove"))[1] == "add") != (action == "add")
                    ]
                    if changed:
                        at = now()
                        db.execute(
                            suppressions_table.insert(),
                            [
                                {
                                    "phone": p,
                                    "seq": latest.get(p, (0, ""))[0] + 1,
                                    "recorded_at": at,
                                    **common,
                                }
                                for p in changed
                            ],
                        )
                return changed
            except sa.exc.IntegrityError:  # another process changed one meanwhile: again
                if attempt == 9:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _latest_suppressions(db: sa.Connection, phones: list[str]) -> dict[str, tuple[int, str]]:
        """Each of ``phones``' latest event: its number and action."""
        t = suppressions_table.c
        latest: dict[str, tuple[int, str]] = {}
        for start in range(0, len(phones), 500):
            rows = db.execute(
                sa.select(t.phone, t.seq, t.action)
                .where(t.phone.in_(phones[start : start + 500]))
                .order_by(t.seq)
            )
            latest.update((phone, (seq, action)) for phone, seq, action in rows)
        return latest

    @_translated
    def suppressions(self, history: bool = False) -> pd.DataFrame:
        """The numbers suppressed now (phone, reason, note, since, by), in the order they
        were added; ``history``: every event instead (phone, action, reason, note, at, by)."""
        t = suppressions_table.c
        columns = ["phone", "action", "reason", "note", "at", "by"]
        if self.read_only and not sa.inspect(self.engine).has_table(suppressions_table.name):
            return pd.DataFrame(columns=["phone", "reason", "note", "since", "by"])  # older
        at: sa.ColumnElement = t.recorded_at
        if self.engine.dialect.name == "sqlite":  # its text, parsed at once below
            at = sa.cast(t.recorded_at, sa.String)
        query = sa.select(t.phone, t.action, t.reason, t.note, at, t.recorded_by).order_by(t.id)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        # By column: a frame from 100k Row objects costs seconds, from 6 lists little.
        values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
        events = pd.DataFrame(dict(zip(columns, values, strict=True)), columns=columns)
        events["at"] = pd.to_datetime(events["at"], utc=True, format="ISO8601")
        if history:
            return events
        latest = events.drop_duplicates("phone", keep="last")  # each number's latest event
        active = latest[latest["action"] == "add"].drop(columns="action")
        return active.rename(columns={"at": "since"}).reset_index(drop=True)

    @_translated
    def scheduled(self, upcoming: bool = True) -> pd.DataFrame:
        """Scheduled batches: campaign, scheduled_for (China Standard Time), batch_id,
        calls, recipients and cost. ``upcoming``: only those still to go out.

        The provider has no way to cancel a scheduled batch.
        """
        self._calls.flush()
        query = sa.select(calls_table).where(
            calls_table.c.operation == "SendTimer", calls_table.c.status == "scheduled"
        )
        with self.engine.connect() as db:
            calls = pd.read_sql(query.order_by(calls_table.c.id), db)
        columns = ["campaign", "scheduled_for", "batch_id", "calls", "recipients", "cost"]
        if calls.empty:
            return pd.DataFrame(columns=columns)
        failed = (
            calls["fail_phone"].fillna("").map(lambda text: len([p for p in text.split(";") if p]))
        )
        calls = calls.assign(
            accepted=calls["recipients"] - failed,
            scheduled_for=pd.to_datetime(calls["scheduled_for"], utc=True).dt.tz_convert(CHINA),
        )
        calls["cost"] = calls["accepted"] * calls["parts"]
        if upcoming:
            calls = calls[calls["scheduled_for"] > pd.Timestamp.now(tz=CHINA)]
        batches = calls.groupby(["campaign", "scheduled_for", "batch_id"], as_index=False).agg(
            calls=("id", "size"), recipients=("accepted", "sum"), cost=("cost", "sum")
        )
        return batches.sort_values("scheduled_for", ignore_index=True)[columns]


_AGAIN = "then run the campaign again with the same name: nothing is sent twice"


def journal_error(error: BaseException, where: str, lock_timeout: float) -> JournalError:
    """A database ``error`` of the journal at ``where`` as a :class:`JournalError` that
    says what happened and what to do."""
    cause = getattr(error, "orig", None) or error  # the driver's own, under SQLAlchemy's
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
    text = first_line.lower()
    if "locked" in text or "lock timeout" in text:
        advice = (
            f"is locked by another process (a campaign running or paused on it, or another "
            f"program using it) for more than {lock_timeout:g} s: let that process finish or "
            f"stop it, {_AGAIN}"
        )
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        advice = (
            "is not a smsframe journal, or is damaged: give another journal (journal= or "
            "SMSFRAME_JOURNAL); keep this file for the record"
        )
    elif "column" in text and any(w in text for w in ("no such", "does not exist", "has no")):
        advice = (
            "was written by another version of smsframe (its tables differ): audit it with "
            "that version, and give this one a new journal (journal= or SMSFRAME_JOURNAL)"
        )
    elif "disk is full" in text or "no space" in text or "disk full" in text:
        advice = f"cannot grow: the disk holding it is full. Free some space, {_AGAIN}"
    elif "readonly" in text or "read-only" in text or "unable to open" in text:
        advice = "cannot be written: check that its folder exists and is writable"
    elif isinstance(cause, sa.exc.InterfaceError | sa.exc.OperationalError) or any(
        word in text
        for word in ("connect", "terminat", "server closed", "shut down", "broken pipe")
    ):
        advice = f"stopped answering: check that its database server is up, {_AGAIN}"
    else:
        advice = f"failed: check the database, {_AGAIN}"
    return JournalError(f"the journal {where} {advice} ({first_line})")


_HELD: set[str] = set()  # the leases this process holds now ("host:pid:token")


def _who() -> str:
    """Who records a change: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return f"{user}@{socket.gethostname()}"[:300]


def _stale(owner: str) -> bool:
    """Whether the lease holder ``host:pid:token`` is gone: a process of this machine
    that died, or this very process, whose lease ended without being released (its
    journal was not answering then)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return owner not in _HELD
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _as_utc(value: datetime) -> datetime:
    """A time read back from the journal, in UTC: SQLite gives it naive (stored in UTC),
    PostgreSQL aware in the session's time zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(value: datetime | None) -> datetime | None:
    """Every time is stored in UTC (SQLite keeps no offset)."""
    if value is None:
        return None
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def _create_tables(engine: sa.Engine) -> None:
    """Create the tables that are missing. Processes opening a new journal at once race
    to create them: the losers get an error (table exists, duplicate key) and look again."""
    for attempt in range(5):
        try:
            had_claims = sa.inspect(engine).has_table(claims_table.name)
            metadata.create_all(engine)
            if not had_claims:
                _claim_recorded_calls(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def _claim_recorded_calls(engine: sa.Engine) -> None:
    """Fill a new claims table from the calls of a journal that had none (written by an
    earlier smsframe): each number claimed by its latest call."""
    calls = calls_table.c
    with engine.begin() as db:
        if db.execute(sa.select(claims_table.c.call_id).limit(1)).first() is not None:
            return  # another process filled it
        latest: dict[tuple[int, str], int] = {}
        rows = db.execute(sa.select(calls.campaign, calls.id, calls.numbers).order_by(calls.id))
        for campaign, call_id, numbers in rows:
            for phone in numbers.split(";"):
                latest[campaign_key(campaign), phone] = call_id
        if latest:
            db.execute(
                claims_table.insert(),
                [{"campaign_key": k, "phone": p, "call_id": i} for (k, p), i in latest.items()],
            )


def masked(url: str) -> str:
    """``url`` with its password masked, to be shown or stored."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an address that is no URL)"


def _sqlite_target(url: sa.URL, read_only: bool) -> sa.URL:
    """A SQLite file's URL as SQLite opens it: read-only if asked (``mode=ro``); else its
    folder must exist (SQLite's own error for it says only "unable to open")."""
    path = Path(url.database or "")
    if read_only:
        if url.database == ":memory:" or url.query.get("uri"):
            return url
        return url.set(database=f"file:{path}", query={**url.query, "mode": "ro", "uri": "true"})
    if url.database != ":memory:" and not path.parent.is_dir():
        raise JournalError(
            f"the journal's folder {path.parent} does not exist: create it, or give another "
            "journal (journal= or SMSFRAME_JOURNAL)"
        )
    return url


def _engine_options(backend: str, lock_timeout: float) -> dict:
    """How long a write waits for a lock another process holds: SQLite's busy timeout,
    PostgreSQL's ``lock_timeout`` (a paused process may hold one)."""
    if backend == "sqlite":
        return {"connect_args": {"timeout": lock_timeout, "check_same_thread": False}}
    options: dict = {"pool_pre_ping": True}
    if backend == "postgresql":  # libpq's options, psycopg and psycopg2 alike
        options["connect_args"] = {"options": f"-c lock_timeout={int(lock_timeout * 1000)}"}
    return options


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as error:
        if "readonly" not in str(error):  # a read-only journal is read as it is
            raise
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def default_url() -> str:
    """The journal's URL when none is given: ``$SMSFRAME_JOURNAL`` (a URL or a file
    path), else ``journal.sqlite`` in this user's data directory (platformdirs: e.g.
    ``~/.local/share/smsframe`` on Linux), the same from every working directory."""
    chosen = os.environ.get(JOURNAL_ENV, "").strip()
    if chosen:
        return as_url(chosen)
    folder = platformdirs.user_data_path("smsframe", appauthor=False, ensure_exists=True)
    return as_url(folder / "journal.sqlite")


# Masked URL -> the URL it stands for, for the journals opened in this process: a
# result frame keeps only the masked one (its attrs go into Parquet and pickle files).
_UNMASKED: dict[str, str] = {}


def as_url(where: str | Path) -> str:
    """A SQLAlchemy URL for ``where``: a URL as it is, a file path as a SQLite URL of
    its absolute path (so that it means the same after a change of directory), a URL
    whose password is masked (as a result frame keeps it) as the journal opened with it
    in this process."""
    text = str(where)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text in _UNMASKED:
        return _UNMASKED[text]
    if sa.engine.make_url(text).password == "***":
        raise JournalError(
            f"the journal {text} has its password masked (a result frame never keeps a "
            "password): pass journal= with its full URL"
        )
    return text


@dataclass(frozen=True)
class Address:
    """What a journal's URL names, read without connecting (:func:`address`)."""

    url: str
    kind: str  # the database: sqlite, postgresql...
    driver: str  # as the URL spells it: sqlite, postgresql+psycopg...
    file: Path | None  # SQLite's file; None for another database or none named


def address(url: str) -> Address:
    """Check ``url`` without connecting: raise :class:`InvalidValue`, in words, for what
    is not a URL, an unknown database, or one whose Python driver is not installed."""
    examples = "sqlite:///path/journal.sqlite or postgresql://user@host/database"
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidValue(f"not a URL: give a file path, or a URL such as {examples}") from None
    kind = parsed.drivername.partition("+")[0]
    if kind == "postgres":
        raise InvalidValue(
            f"SQLAlchemy knows no 'postgres://': write postgresql://{masked(url).partition('://')[2]}"
        )
    try:
        dialect = parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise InvalidValue(
            f"no database is called {parsed.drivername!r}: give a file path, or a URL "
            f"such as {examples}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as error:
        raise InvalidValue(
            f"the Python driver of {parsed.drivername} is not installed ({error}): install "
            "it, or give another journal"
        ) from None
    database = parsed.database or ""
    named = kind == "sqlite" and not parsed.host and database not in ("", ":memory:")
    file = Path(database.removeprefix("file:")).expanduser() if named else None  # file:PATH
    return Address(url, kind, parsed.drivername, file)


def existing(url: str | None = None) -> Journal:
    """The journal at ``url`` (default: :func:`default_url`), to read: a SQLite file
    that does not exist raises FileNotFoundError instead of becoming a new, empty
    journal."""
    url = as_url(url) if url else default_url()
    database = sa.engine.make_url(url).database or ""
    path = Path(database.removeprefix("file:"))  # a SQLite URI names its file so
    if url.startswith("sqlite") and database not in ("", ":memory:") and not path.is_file():
        raise FileNotFoundError(f"no journal at {path} (from {masked(url)})")
    return Journal(url, read_only=True)
