"""The journal: a durable record of every provider call, before and after it is made.

Every call's intent (campaign, a stable key, numbers, message hash, Timestamp)
is committed before the call and its outcome right after. A call with an
intent and no outcome was interrupted: its outcome is unknown and it is never
resent silently. The journal holds no password or credential.

Default: a SQLite file ``smsframe-journal.sqlite`` in the working directory;
any SQLAlchemy URL (PostgreSQL for a team).

Examples
--------
>>> from smsframe import journal
>>> j = journal.open()                        # smsframe-journal.sqlite here
>>> j.campaigns()                             # one row per campaign, with totals
>>> j.campaign("nov-promo")                   # its per-recipient outcomes
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from smsframe.codes import CHINA
from smsframe.errors import CampaignBusy
from smsframe.outcomes import FAIL_PHONE, reason_for, rerun_resends

log = logging.getLogger("smsframe.journal")

DEFAULT_URL = "sqlite:///smsframe-journal.sqlite"
LEASE_TTL_S = 30.0
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


def digest(*parts: object) -> str:
    """A stable hex key of ``parts`` (sha256)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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


_INTENT_COLUMNS = [*Intent.__dataclass_fields__, "recipients", "intent_at"]
_INSERT_CALL = calls_table.insert()
_RECORD_OUTCOME = (
    calls_table.update()
    .where(calls_table.c.id == sa.bindparam("call_id"))
    .values({name: sa.bindparam(name) for name in (*Outcome.__dataclass_fields__, "outcome_at")})
)


class _Prepared:
    """A Core statement compiled once for one dialect and run on a DBAPI cursor.

    The calls' records are the campaign's hot path: this skips SQLAlchemy's work per
    execution (cache key, execution context, result) and keeps its type conversions
    (each column type's own bind processor).
    """

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect, columns=None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=columns)
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


@dataclass(eq=False)
class _Record:
    """One call record waiting to be written, and what became of it."""

    statement: _Prepared
    parameters: tuple | dict
    durable: bool
    call_id: int | None = None
    error: Exception | None = None


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
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        insert = _INSERT_CALL  # SQLite before 3.35 cannot return the id: lastrowid then
        if engine.dialect.insert_returning:
            insert = insert.returning(calls_table.c.id)
        self._intent = _Prepared(insert, engine.dialect, _INTENT_COLUMNS)
        self._outcome = _Prepared(_RECORD_OUTCOME, engine.dialect)
        self._queue: deque[_Record] = deque()  # appends and pops are atomic
        self._lock = threading.Lock()
        self._connection = None  # the pool's DBAPI connection, kept while the journal is open
        self._durable = True  # its sync mode (SQLite)
        self._error: Exception | None = None  # of an outcome that could not be written

    def intent(self, values: dict) -> int:
        """Write an intent, and everything queued before it; returns the call's id."""
        record = _Record(self._intent, self._intent.parameters(values), durable=True)
        self._queue.append(record)
        with self._lock:
            self._drain()
            error = record.error or self._error  # its own, else a lost outcome's
            self._error = None
        self._drain_if_free()
        if error is not None:
            raise error
        return record.call_id

    def outcome(self, values: dict) -> None:
        """Queue an outcome: written now if nobody is writing, else by the writer at work
        before it lets go (:meth:`_drain_if_free`); an outcome's worker never waits."""
        self._queue.append(_Record(self._outcome, self._outcome.parameters(values), False))
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
        connection = self._connect(durable=any(record.durable for record in batch))
        cursor = connection.cursor()
        try:
            for record in batch:
                cursor.execute(record.statement.sql, record.parameters)
                if record.durable:  # an intent: its call's id
                    row = cursor.fetchone() if cursor.description else (cursor.lastrowid,)
                    record.call_id = row[0]
            connection.commit()
        except self.engine.dialect.loaded_dbapi.Error as error:
            self._rollback(error, cursor)
            if len(batch) > 1:  # whose record broke a rule? each in a transaction of its own
                for record in batch:
                    self._commit([record])
                return
            failed = batch[0]
            failed.error = sa.exc.DBAPIError.instance(
                failed.statement.sql, None, error, self.engine.dialect.loaded_dbapi.Error
            )
            if not failed.durable:  # nobody waits for an outcome: the next intent raises it
                self._error = self._error or failed.error
        finally:
            cursor.close()

    def _connect(self, durable: bool):
        if self._connection is None:
            self._connection = self.engine.raw_connection()
            self._durable = True  # as every connection starts (_sqlite_pragmas)
        if self._sqlite and durable != self._durable:
            self._connection.driver_connection.execute(
                f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}"
            )
            self._durable = durable
        return self._connection

    def _rollback(self, error: Exception, cursor) -> None:
        connection, self._connection = self._connection, None
        if self.engine.dialect.is_disconnect(error, connection, cursor):
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
                    self._connection.close()
                    self._connection = None


@dataclass
class Lease:
    """This process's hold on a campaign (:meth:`Journal.lease`)."""

    name: str
    ttl: float
    until: float  # time.time() when it runs out, as of its last renewal
    lost: threading.Event = field(default_factory=threading.Event)

    def held(self) -> bool:
        """Whether it is still ours, with a third of its time to spare."""
        return not self.lost.is_set() and time.time() < self.until - self.ttl / 3


class Journal:
    """The journal on one database."""

    lease_ttl = LEASE_TTL_S  # seconds a campaign's lease lasts unless renewed

    def __init__(self, url: str | None = None) -> None:
        self.url = url or DEFAULT_URL
        self.engine = sa.create_engine(self.url, **_engine_options(self.url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        _create_tables(self.engine)
        self._calls = _CallWriter(self.engine)

    def __repr__(self) -> str:
        return f"<Journal {self.engine.url.render_as_string(hide_password=True)}>"

    def close(self) -> None:
        try:
            self._calls.close()
        finally:
            self.engine.dispose()

    # -- campaigns -----------------------------------------------------------
    def start_campaign(self, name: str, account_id: int, balance_before: int) -> None:
        """Record the account and, on the first run, the balance before sending."""
        self._ensure_campaign(name)
        with self.engine.begin() as db:
            db.execute(
                campaigns_table.update()
                .where(campaigns_table.c.name == name, campaigns_table.c.balance_before.is_(None))
                .values(account_id=account_id, balance_before=balance_before)
            )

    def _ensure_campaign(self, name: str) -> None:
        try:
            with self.engine.begin() as db:
                exists = db.execute(
                    sa.select(campaigns_table.c.name).where(campaigns_table.c.name == name)
                ).first()
                if exists is None:
                    db.execute(campaigns_table.insert().values(name=name, created_at=now()))
        except sa.exc.IntegrityError:  # created by another process meanwhile
            pass

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
        self._ensure_campaign(name)
        me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        held = Lease(name, ttl, time.time() + ttl)
        self._acquire(name, me, ttl)
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
            with self.engine.begin() as db:
                db.execute(
                    campaigns_table.update()
                    .where(campaigns_table.c.name == name, campaigns_table.c.lease_owner == me)
                    .values(lease_owner=None, lease_until=None)
                )

    def _acquire(self, name: str, me: str, ttl: float) -> None:
        table = campaigns_table.c
        with self.engine.begin() as db:
            owner, until = db.execute(
                sa.select(table.lease_owner, table.lease_until).where(table.name == name)
            ).one()
            free = (table.lease_owner.is_(None)) | (table.lease_until < now())
            if owner is not None and _dead(owner):
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
        table = campaigns_table.c
        while not stop.wait(lease.ttl / 3):
            until = time.time() + lease.ttl
            try:
                with self.engine.begin() as db:
                    renewed = db.execute(
                        campaigns_table.update()
                        .where(table.name == lease.name, table.lease_owner == me)
                        .values(lease_until=now() + timedelta(seconds=lease.ttl))
                    ).rowcount
            except sa.exc.SQLAlchemyError as error:  # held until it runs out; try again
                log.warning("could not renew the lease of %s: %s", lease.name, error)
                continue
            if renewed != 1:
                log.warning("the lease of campaign %s was taken over", lease.name)
                lease.lost.set()
                return
            lease.until = until

    def finish_campaign(self, name: str, balance_after: int | None) -> None:
        with self.engine.begin() as db:
            db.execute(
                campaigns_table.update()
                .where(campaigns_table.c.name == name)
                .values(balance_after=balance_after)
            )

    def campaign_info(self, name: str) -> dict | None:
        """The campaigns row of ``name`` (account_id, created_at, balance_before,
        balance_after), or None when the journal has no such campaign."""
        query = sa.select(campaigns_table).where(campaigns_table.c.name == name)
        with self.engine.connect() as db:
            row = db.execute(query).mappings().first()
        return None if row is None else dict(row)

    def campaigns(self) -> pd.DataFrame:
        """Every campaign with its recipients per status."""
        with self.engine.connect() as db:
            frame = pd.read_sql(sa.select(campaigns_table).order_by("created_at"), db)
        if frame.empty:
            return frame
        totals = [
            self.campaign(name)["status"].value_counts().rename(name) for name in frame["name"]
        ]
        counts = pd.DataFrame(totals).fillna(0).astype("int64")
        return frame.join(counts, on="name")

    # -- timestamps ----------------------------------------------------------
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
        return recorded

    # -- calls -----------------------------------------------------------------
    def record_intent(self, intent: Intent) -> int:
        """Commit what a call is about to do; returns the call's id."""
        values = vars(intent) | {
            "scheduled_for": _utc(intent.scheduled_for),
            "numbers": ";".join(intent.numbers),
            "recipients": len(intent.numbers),
            "intent_at": now(),
        }
        return self._calls.intent(values)

    def record_outcome(self, call_id: int, outcome: Outcome) -> None:
        """Record what a call did: committed at once, or with the next record and
        always before the journal is read."""
        self._calls.outcome(vars(outcome) | {"call_id": call_id, "outcome_at": now()})

    def calls(self, campaign: str) -> pd.DataFrame:
        """Every call of ``campaign`` in the order they were made."""
        self._calls.flush()
        query = sa.select(calls_table).where(calls_table.c.campaign == campaign)
        with self.engine.connect() as db:
            frame = pd.read_sql(query.order_by(calls_table.c.id), db)
        # A call with an intent and no outcome was interrupted: nobody knows.
        missing = frame["status"].isna()
        frame.loc[missing, "status"] = "unknown"
        frame.loc[missing, "detail"] = "interrupted between the call and its answer"
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
        rows = recipients.calls.iloc[recipients.call_of].reset_index(drop=True)
        rows.insert(0, "phone", recipients.phone.to_numpy(dtype=object))
        rows.loc[recipients.listed, list(FAIL_PHONE)] = list(FAIL_PHONE.values())
        return rows

    def recipients(self, name: str) -> Recipients | None:
        """The recipients of campaign ``name`` by call, as :meth:`campaign` gives them one
        row each, without that frame (None: no calls)."""
        calls = self.calls(name)
        if calls.empty:
            return None
        # What a call says of all its numbers, decided once per call ...
        calls["reason"] = [
            reason_for(status, state, False, bool(safe))
            for status, state, safe in zip(
                calls["status"], calls["state"], calls["resend_safe"], strict=True
            )
        ]
        calls["retry"] = [
            status == "failed" and bool(safe) and rerun_resends(operation, state)
            for status, safe, operation, state in zip(
                calls["status"],
                calls["resend_safe"],
                calls["operation"],
                calls["state"],
                strict=True,
            )
        ]
        calls["outcome_at"] = pd.to_datetime(calls["outcome_at"], utc=True)
        calls["scheduled_for"] = pd.to_datetime(calls["scheduled_for"], utc=True).dt.tz_convert(
            CHINA
        )
        calls = calls.rename(columns={"outcome_at": "sent_at", "id": "call_id"})
        # ... then it goes to each of its numbers, the latest call of a number winning ...
        numbers = [text.split(";") for text in calls["numbers"]]
        phone = np.array(list(itertools.chain.from_iterable(numbers)), dtype=object)
        call_of = np.repeat(np.arange(len(calls)), [len(n) for n in numbers])
        index = pd.Index(phone)
        if not index.is_unique:  # its hash table serves the lookups too, when it is
            latest = ~index.duplicated(keep="last")
            phone, call_of = phone[latest], call_of[latest]
            index = pd.Index(phone)
        # ... but the numbers it listed in FailPhone fail, one by one.
        fail_phone = calls["fail_phone"].fillna("")
        listing = np.flatnonzero(
            (calls["status"].isin(["sent", "scheduled"]) & fail_phone.ne("")).to_numpy()
        )
        listed_in = {call: set(fail_phone.iat[call].split(";")) for call in listing}
        candidates = np.flatnonzero(np.isin(call_of, listing))
        listed = candidates[[phone[i] in listed_in[call_of[i]] for i in candidates]]
        return Recipients(calls[RECIPIENT_COLUMNS[1:]], index, call_of, listed)

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


@dataclass(frozen=True)
class Recipients:
    """A campaign's recipients by call: ``phone[i]`` got the outcome of
    ``calls.iloc[call_of[i]]``, except the positions ``listed``, whose numbers that
    call's FailPhone listed (they failed: :data:`FAIL_PHONE`)."""

    calls: pd.DataFrame
    phone: pd.Index  # unique
    call_of: np.ndarray
    listed: np.ndarray

    def index(self, phones: np.ndarray) -> np.ndarray:
        """The recipient of each of ``phones`` (-1: none)."""
        return self.phone.get_indexer(phones)


RECIPIENT_COLUMNS = [
    "phone",
    "status",
    "reason",
    "state",
    "detail",
    "batch_id",
    "timestamp",
    "scheduled_for",
    "sent_at",
    "retry",
    "call_id",
]


def _dead(owner: str) -> bool:
    """Whether the lease holder ``host:pid:token`` is a process of this machine that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
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
            metadata.create_all(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True}


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def existing(url: str) -> Journal:
    """The journal at ``url``, to read: a SQLite file that does not exist raises
    FileNotFoundError instead of becoming a new, empty journal."""
    database = sa.engine.make_url(url).database
    sqlite = url.startswith("sqlite")
    if sqlite and database not in (None, "", ":memory:") and not Path(database).is_file():
        raise FileNotFoundError(f"no journal at {database} (from {url})")
    return Journal(url)


def open(url: str | None = None) -> Journal:
    """The journal at ``url`` (default: ``smsframe-journal.sqlite`` in the working directory)."""
    return Journal(url)
