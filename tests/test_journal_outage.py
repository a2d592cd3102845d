"""A journal that stops answering mid-campaign (a PostgreSQL server killed, a full disk,
a SQLite file locked by another process): the campaign stops cleanly with a
JournalError that says what to do, its partial result on the error; no number is
delivered twice, none without a committed intent, and a re-run once the journal is
back finishes the campaign."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from frames import contacts
from truth import (
    assert_every_call_had_an_intent,
    assert_true_to_deliveries,
    delivered_once,
    when,
)

import smsframe  # noqa: F401 - registers df.sms
from smsframe import JournalError, SmsClient
from smsframe.journal import Journal

ACCOUNT = (101, "demo", "outage-pw")
ROWS = 2000

pytestmark = pytest.mark.sim(ACCOUNT, balance=1_000_000, latency_ms=5)


def send(sim, journal, **options):
    client = SmsClient(sim.wsdl_url, *ACCOUNT)
    options = {"chunk_size": 20, "workers": 4, "progress": False, **options}
    return contacts(ROWS).sms.send(client, message="闪购", campaign="c", journal=journal, **options)


def check_stopped(out, sim, advice: str, error: JournalError) -> None:
    """The partial result of a campaign stopped by its journal: every row, true to the
    delivery log; what was not sent is skipped for that reason."""
    assert advice in str(error)
    assert "nothing is sent twice" in str(error)
    assert out is not None and len(out) == ROWS
    assert_true_to_deliveries(out, sim.deliveries())
    status = out["sms_status"].astype(str)
    assert set(status) <= {"sent", "skipped"}  # in-flight calls finished, their answer kept
    assert (status == "sent").sum() == len(sim.deliveries()) > 0
    assert (out.loc[status == "skipped", "sms_reason"] == "journal_unavailable").all()
    assert (status == "skipped").sum() > 0


def check_rerun(sim, url: str) -> None:
    """Once the journal is back, a re-run sends the rest: every number delivered once,
    the rows whose outcome could not be journaled ``unknown``, never resent."""
    assert_every_call_had_an_intent(url, "c", sim.deliveries())
    again = send(sim, url)
    deliveries = sim.deliveries()
    assert_true_to_deliveries(again, deliveries)
    status = again["sms_status"].astype(str)
    assert set(status) <= {"sent", "unknown"}
    assert delivered_once(deliveries) >= set(again.loc[status == "sent", "sms_phone"])
    assert len(deliveries) >= (status == "sent").sum()


def test_a_postgresql_journal_killed_mid_campaign(sim, killable_postgres):
    url = killable_postgres.url
    killer = when(lambda: sim.requests["SendMessage"] >= 15, killable_postgres.kill)
    with pytest.raises(JournalError) as raised:
        send(sim, url)
    killer.join()
    check_stopped(raised.value.result, sim, "stopped answering", raised.value)
    killable_postgres.restart()
    check_rerun(sim, url)


def test_a_full_disk_stops_the_campaign_cleanly(sim, tmp_path):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    # A first run sent some rows: the partial result joins them to this run's.
    first = (
        contacts(ROWS)
        .iloc[:150]
        .sms.send(SmsClient(sim.wsdl_url, *ACCOUNT), message="闪购", campaign="c", journal=url)
    )
    assert (first["sms_status"] == "sent").all()
    journal = Journal(url)
    with journal.engine.connect() as db:
        pages = db.exec_driver_sql("PRAGMA page_count").scalar()

    def small_disk(connection, _record) -> None:  # room for a few dozen calls
        connection.execute(f"PRAGMA max_page_count={pages + 15}")

    sa.event.listen(journal.engine, "connect", small_disk)
    journal.engine.dispose()  # every connection from now on has the limit
    with pytest.raises(JournalError) as raised:
        send(sim, journal)
    journal.close()
    check_stopped(raised.value.result, sim, "the disk holding it is full", raised.value)
    check_rerun(sim, url)  # space freed: a journal without the limit


def test_a_journal_locked_by_another_process_mid_campaign(sim, tmp_path):
    path = tmp_path / "journal.sqlite"
    url = f"sqlite:///{path}"
    journal = Journal(url, lock_timeout=0.5)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # Another process takes the file's write lock and keeps it (paused, say).
    locker = when(
        lambda: sim.requests["SendMessage"] >= 15, lambda: other.execute("BEGIN IMMEDIATE")
    )
    with pytest.raises(JournalError) as raised:
        send(sim, journal)
    locker.join()
    check_stopped(raised.value.result, sim, "locked by another process", raised.value)
    other.execute("ROLLBACK")
    other.close()
    journal.close()
    check_rerun(sim, url)


def test_a_run_blocked_by_a_lock_held_elsewhere_says_so_and_sends_nothing(sim, tmp_path):
    path = tmp_path / "journal.sqlite"
    Journal(f"sqlite:///{path}").close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a colleague's campaign, paused mid-write
    journal = Journal(f"sqlite:///{path}", lock_timeout=0.3)
    with pytest.raises(JournalError, match=r"locked by another process .* more than 0.3 s"):
        send(sim, journal)
    assert sim.requests["SendMessage"] == 0
    other.execute("ROLLBACK")
    out = send(sim, journal)  # the lock gone, it runs
    assert (out["sms_status"] == "sent").all()
    journal.close()
