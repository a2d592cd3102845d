"""The journal on SQLite and on a real PostgreSQL: intents and outcomes, per-recipient
outcomes, Timestamps reserved once across campaigns, threads and processes, the
scheduled list, the campaign lease, and no password stored anywhere."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.errors import CampaignBusy, JournalError
from smsframe.journal import (
    AlreadyClaimed,
    Intent,
    Journal,
    Lease,
    LeaseLost,
    Outcome,
    campaigns_table,
)
from smsframe.keys import digest
from smsframe.outcomes import RECIPIENT_COLUMNS
from smsframe.simulator import Simulator

CHINA = ZoneInfo("Asia/Shanghai")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def journal_url(request, tmp_path) -> str:
    """An empty journal database: a SQLite file, or a new database on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def journal(journal_url):
    journal = Journal(journal_url)
    yield journal
    journal.close()


@pytest.fixture
def record(journal):
    """``record(intent, resent=None)``: ``journal.record_intent`` under the campaign's
    lease, taken on its first intent and held until the test ends."""
    with contextlib.ExitStack() as stack:
        leases: dict[str, Lease] = {}
        taking = threading.Lock()  # the test's threads share one lease

        def record(call: Intent, resent: dict[str, int] | None = None) -> int:
            with taking:
                if call.campaign not in leases:
                    leases[call.campaign] = stack.enter_context(journal.lease(call.campaign))
            return journal.record_intent(call, leases[call.campaign], resent)

        yield record


def intent(campaign: str, numbers: list[str], key: str = "", **fields) -> Intent:
    values = {
        "campaign": campaign,
        "call_key": digest(campaign, key or ";".join(numbers)),
        "group_key": digest("group", fields.get("message_hash", "m")),
        "operation": "SendMessage",
        "message_hash": digest("m"),
        "ext": None,
        "scheduled_for": None,
        "timestamp": 1_700_000_000,
        "numbers": tuple(numbers),
        "parts": 1,
    }
    return Intent(**(values | fields))


def set_lease(url: str, name: str, owner: str, until: datetime) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as db:
        db.execute(
            campaigns_table.update()
            .where(campaigns_table.c.name == name)
            .values(lease_owner=owner, lease_until=until)
        )
    engine.dispose()


def lease_row(journal: Journal, name: str):
    with journal.engine.connect() as db:
        return db.execute(
            sa.select(campaigns_table.c.lease_owner, campaigns_table.c.lease_until).where(
                campaigns_table.c.name == name
            )
        ).one()


def test_many_openers_of_a_new_journal_at_once_all_succeed(journal_url):
    # Two processes starting the first campaign of a team journal create its tables.
    barrier = threading.Barrier(6)
    opened: list[Journal] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            barrier.wait()
            opened.append(Journal(journal_url))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(opened) == 6
    assert opened[0].campaigns().empty
    for journal in opened:
        journal.close()


# -- intents and outcomes -------------------------------------------------------


def test_intent_without_outcome_is_unknown_then_the_outcome_is_recorded(journal, record):
    at = datetime(2031, 1, 1, 9, 0, tzinfo=CHINA)
    call_id = record(
        intent("c", ["13900000001", "13900000002"], operation="SendTimer", scheduled_for=at)
    )
    calls = journal.calls("c")
    assert calls["id"].tolist() == [call_id]
    assert calls["status"].tolist() == ["unknown"]
    assert "interrupted" in calls["detail"].iloc[0]
    assert calls["numbers"].iloc[0] == "13900000001;13900000002"
    assert calls["recipients"].iloc[0] == 2
    assert pd.isna(calls["outcome_at"].iloc[0])
    # Times come back as the same instant, whatever the database's zone.
    scheduled_for = pd.to_datetime(calls["scheduled_for"], utc=True).iloc[0]
    assert scheduled_for == pd.Timestamp(at)

    big = 2**40 + 7  # batch ids and Timestamps do not fit in 32 bits
    journal.record_outcome(
        call_id,
        Outcome("scheduled", state=1, batch_id=big, fail_phone="13900000002", detail="成功"),
    )
    row = journal.calls("c").iloc[0]
    assert (row["status"], row["state"], row["batch_id"]) == ("scheduled", 1, big)
    assert (row["fail_phone"], row["detail"], bool(row["resend_safe"])) == (
        "13900000002",
        "成功",
        False,
    )
    intent_at = pd.Timestamp(row["intent_at"])
    outcome_at = pd.Timestamp(row["outcome_at"])
    intent_at = intent_at.tz_localize("UTC") if intent_at.tzinfo is None else intent_at
    outcome_at = outcome_at.tz_localize("UTC") if outcome_at.tzinfo is None else outcome_at
    now = pd.Timestamp.now(tz="UTC")
    assert now - timedelta(minutes=1) < intent_at <= outcome_at <= now


def test_one_intent_per_call_key_and_campaign(journal, record):
    first = intent("c", ["13900000001"], key="k")
    record(first)
    with pytest.raises(AlreadyClaimed):
        record(first)
    # The same key in another campaign is another call.
    record(dataclasses.replace(first, campaign="d"))
    assert len(journal.calls("c")) == 1
    assert len(journal.calls("d")) == 1


def test_a_number_is_in_one_intent_of_its_campaign_whatever_the_chunking(journal, record):
    """The database refuses a number already in another intent of the campaign, even in
    a call of other numbers and another key; nothing of the refused intent is kept."""
    record(intent("c", [f"1390000000{i}" for i in range(10)]))
    for numbers in (["13900000009", "13900000010"], ["13900000003"], ["13911111111"] * 2):
        with pytest.raises(AlreadyClaimed):
            record(intent("c", numbers))
    assert len(journal.calls("c")) == 1
    assert "13900000010" not in set(journal.campaign("c")["phone"])
    record(intent("c", ["13900000010"]))  # its claim was rolled back with its intent
    record(intent("d", ["13900000003"]))  # another campaign, another message


def test_a_resend_takes_a_number_over_only_from_the_call_it_names(journal, record):
    first = record(intent("c", ["13900000001", "13900000002"]))
    journal.record_outcome(first, Outcome("failed", detail="down", resend_safe=True))
    # Two resends of the same numbers from the same state: only the first commits.
    second = record(intent("c", ["13900000001"], key="again"), {"13900000001": first})
    with pytest.raises(AlreadyClaimed):
        record(intent("c", ["13900000001"], key="again-2"), {"13900000001": first})
    # A resend must name the number's latest call, and every number sent before.
    with pytest.raises(AlreadyClaimed):
        record(intent("c", ["13900000002"], key="unnamed"))
    third = record(intent("c", ["13900000001"], key="third"), {"13900000001": second})
    assert journal.campaign("c").set_index("phone")["call_id"].to_dict() == {
        "13900000001": third,
        "13900000002": first,
    }


def test_an_intent_commits_only_while_its_lease_is_held(journal_url):
    """The fence is in the intent's own transaction: an intent made under a lease that
    was taken over (a paused process) is refused, and nothing of it is written."""
    first, second = Journal(journal_url), Journal(journal_url)
    try:
        with first.lease("c", ttl=600) as lease:
            first.record_intent(intent("c", ["13900000001"]), lease)
            # A colleague takes the campaign over (as after this process's lease ran out).
            set_lease(journal_url, "c", "colleague:1:token", datetime.now(UTC))
            with pytest.raises(LeaseLost, match="no longer holds its lease"):
                first.record_intent(intent("c", ["13900000002"]), lease)
            assert lease.held()  # the clock alone would have let it call
        with second.lease("c") as taken:
            second.record_intent(intent("c", ["13900000002"]), taken)
            with pytest.raises(LeaseLost):  # a released lease fences too
                first.record_intent(intent("c", ["13900000003"]), lease)
        assert second.calls("c")["numbers"].tolist() == ["13900000001", "13900000002"]
    finally:
        first.close()
        second.close()


def test_an_intent_whose_batch_fails_gets_an_error_never_a_missing_id(journal, monkeypatch):
    """Group commit: when the connection fails and cannot be reopened, every worker
    whose record was queued gets a JournalError; none goes on without an id."""
    with journal.lease("c") as lease:
        journal.record_intent(intent("c", ["13900000000"]), lease)  # the writer's connection
        writer = journal._calls
        gate, results = threading.Event(), {}
        real_write = writer._write

        def slow_write(batch):  # holds the writing lock while the others queue
            gate.wait(5)
            return real_write(batch)

        def broken_connect(durable):
            raise sa.exc.OperationalError("connect", {}, Exception("server closed the connection"))

        monkeypatch.setattr(writer, "_write", slow_write)

        def worker(number: int) -> None:
            try:
                results[number] = journal.record_intent(intent("c", [f"1390000010{number}"]), lease)
            except Exception as error:
                results[number] = error

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.time() + 5
        while len(writer._queue) < 3 and time.time() < deadline:
            time.sleep(0.01)
        writer._connection.invalidate()
        writer._connection = None
        monkeypatch.setattr(writer, "_connect", broken_connect)
        gate.set()
        for thread in threads:
            thread.join(10)
    assert sorted(results) == [0, 1, 2, 3]
    for answer in results.values():
        assert isinstance(answer, JournalError), answer
        assert "stopped answering" in str(answer)


def test_records_of_many_threads_are_all_written_once_with_their_ids(journal, record):
    """Group commit: records queued by threads at once share transactions; each intent
    still gets its own id and each outcome lands on its own call."""
    ids: dict[str, int] = {}
    errors = []

    def worker(number: int) -> None:
        try:
            for call in range(25):
                phone = f"139{number:02d}{call:06d}"
                call_id = record(intent("c", [phone]))
                ids[phone] = call_id
                journal.record_outcome(call_id, Outcome("sent", state=1, batch_id=call_id))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    calls = journal.calls("c")
    assert len(calls) == 200 == len(set(ids.values()))
    assert dict(zip(calls["numbers"], calls["id"], strict=True)) == ids
    assert (calls["status"] == "sent").all()
    assert (calls["batch_id"] == calls["id"]).all()


def test_an_outcome_that_cannot_be_written_is_raised_before_anything_reads_past_it(
    journal_url,
):
    """An outcome's worker does not wait for it: when the database refuses it, the
    error comes out of the next read (or the next intent), never silently."""
    journal = Journal(journal_url)
    refuse = {
        "sqlite": [
            """CREATE TRIGGER refuse BEFORE UPDATE ON calls WHEN NEW.detail = 'refuse'
            BEGIN SELECT RAISE(ABORT, 'outcome refused'); END"""
        ],
        "postgresql": [
            """CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
            IF NEW.detail = 'refuse' THEN RAISE EXCEPTION 'outcome refused'; END IF;
            RETURN NEW; END $$ LANGUAGE plpgsql""",
            """CREATE TRIGGER refuse BEFORE UPDATE ON calls
            FOR EACH ROW EXECUTE FUNCTION refuse()""",
        ],
    }[journal.engine.dialect.name]
    with journal.engine.begin() as db:
        for statement in refuse:
            db.exec_driver_sql(statement)
    try:
        with journal.lease("c") as lease:
            call_id = journal.record_intent(intent("c", ["13900000001"]), lease)
            journal.record_outcome(call_id, Outcome("sent", state=1, detail="refuse"))
            with pytest.raises(JournalError, match="outcome refused"):
                journal.calls("c")
            # Raised once; the call stays without an outcome: unknown, never resent.
            assert journal.calls("c")["status"].tolist() == ["unknown"]
            journal.record_outcome(call_id, Outcome("sent", state=1, detail="refuse"))
            with pytest.raises(JournalError, match="outcome refused"):
                journal.record_intent(intent("c", ["13900000002"]), lease)
    finally:
        journal.close()


def test_campaign_gives_each_recipient_the_outcome_of_its_latest_call(journal, record):
    first = record(intent("c", ["13900000001", "13900000002", "13900000003"]))
    journal.record_outcome(first, Outcome("sent", state=1, batch_id=9, fail_phone="13900000002"))
    interrupted = record(intent("c", ["13900000004", "13900000005"]))
    refused = record(intent("c", ["13900000006"], key="try-1"))
    journal.record_outcome(refused, Outcome("failed", state=-9, resend_safe=True))
    unreachable = record(intent("c", ["13900000007"]))
    journal.record_outcome(unreachable, Outcome("failed", detail="down", resend_safe=True))
    banned = record(intent("c", ["13900000008"]))
    journal.record_outcome(banned, Outcome("failed", state=-13, detail="keyword"))
    # A later call of 13900000006 wins over its refused one.
    again = record(intent("c", ["13900000006"], key="try-2"), {"13900000006": refused})
    journal.record_outcome(again, Outcome("sent", state=1, batch_id=10))
    # Another campaign's calls are not this one's.
    other = record(intent("d", ["13900000001"]))
    journal.record_outcome(other, Outcome("failed", state=-13))

    rows = journal.campaign("c").set_index("phone")
    assert list(rows.columns) == [c for c in RECIPIENT_COLUMNS if c != "phone"]
    expected = {
        "13900000001": ("sent", None, False, first),
        "13900000002": ("failed", "fail_phone", False, first),
        "13900000003": ("sent", None, False, first),
        "13900000004": ("unknown", "outcome_unknown", False, interrupted),
        "13900000005": ("unknown", "outcome_unknown", False, interrupted),
        "13900000006": ("sent", None, False, again),
        "13900000007": ("failed", "provider_unavailable", True, unreachable),
        "13900000008": ("failed", "provider_refused", False, banned),
    }
    assert sorted(rows.index) == sorted(expected)
    for phone, (status, reason, retry, call_id) in expected.items():
        row = rows.loc[phone]
        assert row["status"] == status, phone
        assert (None if pd.isna(row["reason"]) else row["reason"]) == reason, phone
        assert bool(row["retry"]) is retry, phone
        assert row["call_id"] == call_id, phone
    assert "FailPhone" in rows.loc["13900000002", "detail"]
    assert rows.loc["13900000006", "batch_id"] == 10
    assert str(rows["scheduled_for"].dt.tz) == "Asia/Shanghai"
    assert rows.loc["13900000001", "sent_at"].tzinfo is not None
    assert pd.isna(rows.loc["13900000004", "sent_at"])


def test_a_campaign_without_calls_is_an_empty_frame(journal):
    rows = journal.campaign("nothing")
    assert rows.empty
    assert list(rows.columns) == RECIPIENT_COLUMNS
    assert journal.calls("nothing").empty


def test_campaigns_lists_balances_and_totals_per_status(journal, record):
    journal.start_campaign("c", account_id=101, balance_before=500)
    journal.start_campaign("c", account_id=101, balance_before=400)  # a rerun keeps the first
    call = record(intent("c", ["13900000001", "13900000002"]))
    journal.record_outcome(call, Outcome("sent", state=1, batch_id=1, fail_phone="13900000002"))
    record(intent("c", ["13900000003"]))
    journal.finish_campaign("c", balance_after=499)
    journal.start_campaign("empty", account_id=101, balance_before=499)

    table = journal.campaigns().set_index("name")
    assert table.loc["c", "balance_before"] == 500
    assert table.loc["c", "balance_after"] == 499
    assert table.loc["c", "account_id"] == 101
    assert (table.loc["c", "sent"], table.loc["c", "failed"], table.loc["c", "unknown"]) == (
        1,
        1,
        1,
    )
    assert table.loc["empty", "sent"] == 0
    assert table.index.tolist() == ["c", "empty"]  # in order of creation


# -- Timestamps ----------------------------------------------------------------------


def groups(keys: list[str], message: str = "m", timestamp: int = 1_700_000_000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group_key": [digest("g", k) for k in keys],
            "message_hash": digest(message),
            "timestamp": timestamp,
        }
    )


def all_reserved(journal: Journal) -> pd.DataFrame:
    with journal.engine.connect() as db:
        return pd.read_sql(sa.text("SELECT * FROM groups"), db)


def test_group_timestamps_are_unique_per_message_across_campaigns(journal):
    first = journal.group_timestamps("a", groups(["x", "y"]))
    assert sorted(first.values()) == [1_700_000_000, 1_700_000_001]
    # The same groups again: the recorded Timestamps, nothing new.
    assert journal.group_timestamps("a", groups(["x", "y"])) == first
    # Another campaign with the same message gets the next free ones.
    second = journal.group_timestamps("b", groups(["x", "y"]))
    assert sorted(second.values()) == [1_700_000_002, 1_700_000_003]
    # Another message may share a Timestamp: the provider only merges equal messages.
    other = journal.group_timestamps("b", groups(["z"], message="other"))
    assert other[digest("g", "z")] == 1_700_000_000
    assert other == second | {digest("g", "z"): 1_700_000_000}
    reserved = all_reserved(journal)
    assert not reserved.duplicated(["message_hash", "timestamp"]).any()
    assert len(reserved) == 5


def test_group_timestamps_from_many_threads_never_collide(journal_url):
    journals = [Journal(journal_url) for _ in range(6)]
    barrier = threading.Barrier(len(journals))
    results: dict[int, dict[str, int]] = {}
    errors: list[BaseException] = []

    def reserve(i: int) -> None:
        try:
            barrier.wait()
            results[i] = journals[i].group_timestamps(f"c{i}", groups(["x", "y", "z"]))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(len(journals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    stamps = [t for result in results.values() for t in result.values()]
    assert sorted(stamps) == list(range(1_700_000_000, 1_700_000_000 + 18))
    reserved = all_reserved(journals[0])
    assert not reserved.duplicated(["message_hash", "timestamp"]).any()
    for journal in journals:
        journal.close()


RESERVE = textwrap.dedent(
    """
    import json, sys
    import pandas as pd
    from smsframe.journal import Journal
    from smsframe.keys import digest

    journal = Journal(sys.argv[1])
    groups = pd.DataFrame({"group_key": [digest("g", k) for k in "abcdefgh"],
                           "message_hash": digest("m"), "timestamp": 1_700_000_000})
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(sorted(journal.group_timestamps(sys.argv[2], groups).values())))
    """
)


def test_group_timestamps_from_several_processes_never_collide(journal_url):
    Journal(journal_url).close()  # the tables exist before the race
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RESERVE, journal_url, f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    for process in processes:  # go, all at once
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=60) for process in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    stamps = [t for out, _ in outputs for t in json.loads(out)]
    assert sorted(stamps) == list(range(1_700_000_000, 1_700_000_000 + 24))


# -- the scheduled list -------------------------------------------------------------


def test_scheduled_lists_accepted_timer_batches(journal, record):
    future = datetime.now(CHINA).replace(microsecond=0) + timedelta(days=30)
    past = datetime.now(CHINA).replace(microsecond=0) - timedelta(days=1)

    def timer(campaign, numbers, at, outcome, parts=1):
        call = record(
            intent(campaign, numbers, operation="SendTimer", scheduled_for=at, parts=parts)
        )
        if outcome is not None:
            journal.record_outcome(call, outcome)

    timer("a", ["13900000001", "13900000002"], future, Outcome("scheduled", 1, 77), parts=2)
    timer("a", ["13900000003", "13900000004"], future, Outcome("scheduled", 1, 77, "13900000004"))
    timer("a", ["13900000005"], future, Outcome("failed", -11))  # refused: no batch
    timer("a", ["13900000006"], future, None)  # interrupted: nobody knows
    timer("b", ["13900000007"], past, Outcome("scheduled", 1, 78))  # gone out already
    sent = record(intent("b", ["13900000008"]))
    journal.record_outcome(sent, Outcome("sent", 1, 79))

    upcoming = journal.scheduled()
    assert list(upcoming.columns) == [
        "campaign",
        "scheduled_for",
        "batch_id",
        "calls",
        "recipients",
        "cost",
    ]
    assert len(upcoming) == 1
    batch = upcoming.iloc[0]
    assert (batch["campaign"], batch["batch_id"], batch["calls"]) == ("a", 77, 2)
    assert (batch["recipients"], batch["cost"]) == (3, 2 * 2 + 1)
    assert batch["scheduled_for"] == pd.Timestamp(future)
    assert str(batch["scheduled_for"].tz) == "Asia/Shanghai"

    everything = journal.scheduled(upcoming=False)
    assert everything["batch_id"].tolist() == [78, 77]  # by time
    assert journal.scheduled(upcoming=False).pipe(len) == 2


def test_scheduled_is_empty_without_timer_batches(journal):
    assert journal.scheduled().empty
    assert list(journal.scheduled().columns)[:2] == ["campaign", "scheduled_for"]


# -- the lease ---------------------------------------------------------------------


def test_a_second_holder_gets_campaign_busy_with_a_clear_message(journal_url):
    holder, other = Journal(journal_url), Journal(journal_url)
    with holder.lease("nov-promo"):
        owner, until = lease_row(holder, "nov-promo")
        assert owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")
        with pytest.raises(CampaignBusy) as busy, other.lease("nov-promo"):
            pytest.fail("two holders at once")
        # Another campaign is not blocked.
        with other.lease("other"):
            pass
    message = str(busy.value)
    assert "'nov-promo'" in message
    assert "another process" in message
    assert owner in message
    assert "nothing was sent" in message
    # The time in the message is the lease's end in UTC, whatever the database's zone.
    until = pd.Timestamp(until)
    until = until.tz_localize("UTC") if until.tzinfo is None else until.tz_convert("UTC")
    assert f"lease until {until:%H:%M:%S} UTC" in message
    holder.close()
    other.close()


def race_for_lease(journals: list[Journal], name: str) -> tuple[int, list[str], list]:
    """Every journal tries to take lease ``name`` at the same moment and holds it until
    all have tried: how many held it, the refusals' messages, any other errors."""
    barrier = threading.Barrier(len(journals))
    release = threading.Event()
    held: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def take(journal: Journal) -> None:
        try:
            barrier.wait()
            with journal.lease(name):
                held.append(1)
                release.wait(30)
        except CampaignBusy as busy:
            refused.append(str(busy))
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=take, args=(journal,)) for journal in journals]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(held) + len(refused) + len(errors) < len(journals) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(30)
    return len(held), refused, errors


def test_holders_racing_for_a_lease_get_it_once_and_the_others_a_clear_refusal(journal_url):
    journals = [Journal(journal_url) for _ in range(4)]
    for round_ in range(5):
        held, refused, errors = race_for_lease(journals, f"race-{round_}")
        assert not errors, errors
        assert held == 1
        assert len(refused) == len(journals) - 1
        assert all("is being sent right now" in message for message in refused)
        assert all("nothing was sent" in message for message in refused)
    for journal in journals:
        journal.close()


def test_the_lease_is_released_after_the_block_even_on_error(journal_url):
    first, second = Journal(journal_url), Journal(journal_url)
    with first.lease("c"):
        pass
    assert lease_row(first, "c") == (None, None)
    with second.lease("c"):
        pass
    with pytest.raises(RuntimeError, match="boom"), first.lease("c"):
        raise RuntimeError("boom")
    assert lease_row(first, "c") == (None, None)
    with second.lease("c"):
        pass
    first.close()
    second.close()


def test_the_lease_is_renewed_while_held(journal_url):
    holder, other = Journal(journal_url), Journal(journal_url)
    with holder.lease("c", ttl=0.6):
        _, until = lease_row(holder, "c")
        time.sleep(1.5)  # well past the first ttl: only renewal keeps it
        _, renewed = lease_row(holder, "c")
        assert pd.Timestamp(renewed) > pd.Timestamp(until)
        with pytest.raises(CampaignBusy), other.lease("c"):
            pass
    holder.close()
    other.close()


def test_a_lease_taken_over_or_not_renewed_in_time_is_no_longer_held(journal_url):
    holder = Journal(journal_url)
    with holder.lease("c", ttl=0.6) as lease:
        assert lease.held()
        set_lease(journal_url, "c", "elsewhere:1:other", datetime.now(UTC) + timedelta(minutes=5))
        deadline = time.time() + 5
        while lease.held() and time.time() < deadline:
            time.sleep(0.05)
        assert lease.lost.is_set()
        assert not lease.held()
    assert lease_row(holder, "c")[0] == "elsewhere:1:other"  # the new holder's, untouched
    holder.close()
    # A lease whose renewals stop (a paused process) runs out by the clock alone.
    paused = Lease("d", ttl=0.6, until=time.time() + 0.6)
    assert paused.held()
    time.sleep(0.45)
    assert not paused.held()


def test_an_expired_lease_is_taken_over(journal):
    with journal.lease("c"):
        pass
    # A holder on another machine (its pid cannot be checked) whose lease ran out.
    set_lease(journal.url, "c", "elsewhere:123:dead", datetime.now(UTC) - timedelta(seconds=5))
    with journal.lease("c"):
        owner, _ = lease_row(journal, "c")
        assert owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    # The same holder with a lease still running is respected.
    set_lease(journal.url, "c", "elsewhere:123:dead", datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(CampaignBusy, match="elsewhere:123:dead"), journal.lease("c"):
        pass


HOLD = textwrap.dedent(
    """
    import sys, time
    from smsframe.journal import Journal

    with Journal(sys.argv[1]).lease("c", ttl=600):
        print("held", flush=True)
        time.sleep(600)
    """
)


def test_the_lease_of_a_killed_process_is_taken_over(journal_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, journal_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        journal = Journal(journal_url)
        with pytest.raises(CampaignBusy, match=f":{holder.pid}:"), journal.lease("c"):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # Its lease runs for ten more minutes, but this machine knows the process is gone.
    owner, _ = lease_row(journal, "c")
    assert f":{holder.pid}:" in owner
    with journal.lease("c"):
        owner, _ = lease_row(journal, "c")
        assert owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    journal.close()


# -- no password in the journal ------------------------------------------------------

PASSWORD = "Pw-9f3c2e7a1b-密码"


def test_no_password_is_stored_in_the_journal(journal_url, tmp_path):
    with Simulator() as sim:
        sim.add_account(101, "demo", PASSWORD, balance=10_000)
        sim.mark_unreachable(["13900000033"])
        sim.set_keywords(["赌博"])
        client = SmsClient(sim.wsdl_url, 101, "demo", PASSWORD)
        df = pd.DataFrame({"phone": [f"139{i:08d}" for i in range(40)]})
        options = {"campaign": "secret-test", "journal": journal_url, "progress": False}
        # Every kind of outcome: sent, FailPhone, retried -9, unknown, refused, scheduled.
        sim.inject("SendMessage", "state-9", times=1)
        sim.inject("SendMessage", "drop-after", times=1)
        # One worker: the first call gets -9, its retry the dropped answer.
        out = df.sms.send(client, message="您好", chunk_size=10, workers=1, **options)
        assert {"sent", "failed", "unknown"} <= set(out["sms_status"])
        df.sms.send(client, message="赌博", **options | {"campaign": "refused"})
        df.sms.schedule(
            client, message="明早见", at="2031-01-01 09:00", **options | {"campaign": "t"}
        )
    journal = Journal(journal_url)
    assert len(journal.calls("secret-test")) >= 4
    assert PASSWORD not in repr(journal)
    journal.close()

    needles = [PASSWORD.encode(), PASSWORD.encode("utf-16-le"), b"Pw-9f3c2e7a1b"]
    if journal_url.startswith("sqlite"):
        files = list(tmp_path.glob("journal.sqlite*"))  # the database, its WAL and shm
        assert files
        for path in files:
            data = path.read_bytes()
            assert not any(needle in data for needle in needles), path
        return
    engine = sa.create_engine(journal_url)
    with engine.connect() as db:
        tables = db.execute(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        dump = []
        for table in tables:
            dump += db.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars().all()
    engine.dispose()
    text = "\n".join(dump)
    assert "secret-test" in text  # the dump does see the journal's rows
    assert "Pw-9f3c2e7a1b" not in text
    assert PASSWORD not in text


def test_a_database_password_never_shows_in_the_journals_repr(postgres_url):
    # The test server trusts its socket, so a password in the URL is accepted and ignored.
    url = postgres_url.replace("://smsframe@", "://smsframe:db-Secret-42@")
    journal = Journal(url)
    assert "db-Secret-42" not in repr(journal)
    assert "smsframe" in repr(journal)
    journal.close()


def test_a_journal_written_before_claims_existed_gets_them_from_its_calls(journal_url):
    old = Journal(journal_url)
    with old.lease("c") as lease:
        first = old.record_intent(intent("c", ["13900000001", "13900000002"]), lease)
        second = old.record_intent(
            intent("c", ["13900000002"], key="again"), lease, {"13900000002": first}
        )
    with old.engine.begin() as db:  # as an earlier smsframe left it
        db.exec_driver_sql("DROP TABLE claims")
    old.close()
    journal = Journal(journal_url)
    try:
        with journal.lease("c") as lease:
            with pytest.raises(AlreadyClaimed):  # claimed by its latest call, as before
                journal.record_intent(intent("c", ["13900000002"], key="x"), lease)
            with pytest.raises(AlreadyClaimed):  # a resend must name that latest call
                journal.record_intent(
                    intent("c", ["13900000002"], key="y"), lease, {"13900000002": first}
                )
            journal.record_intent(
                intent("c", ["13900000002"], key="z"), lease, {"13900000002": second}
            )
    finally:
        journal.close()


def test_a_call_of_a_thousand_numbers_claims_every_one(journal, record):
    numbers = [f"139{i:08d}" for i in range(1000)]  # the provider's most per call
    record(intent("c", numbers))
    for number in (numbers[0], numbers[499], numbers[999]):
        with pytest.raises(AlreadyClaimed):
            record(intent("c", [number]))
