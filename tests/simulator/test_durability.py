"""Group commit: each call atomic, answered only once committed; answered calls survive
a kill of the simulator's process; a database of the old layout is carried over."""

from __future__ import annotations

import http.client
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import requests

from smsframe.simulator import Simulator
from smsframe.simulator.store import Store

pytestmark = pytest.mark.timeout(90)

A, B = "13800138000", "13912345678"
TS = 1_764_000_000
TNS = "http://tempuri.org/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def send_body(phones: list[str], message: str = "hi") -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><SendMessage xmlns="{TNS}">'
        f"<Id>101</Id><Name>demo</Name><Psw>secret</Psw><Message>{message}</Message>"
        f"<Phone>{';'.join(phones)}</Phone><Timestamp>{TS}</Timestamp></SendMessage>"
        "</soap:Body></soap:Envelope>"
    ).encode()


# -- the store's groups and savepoints ---------------------------------------------------


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add_account(101, "demo", "secret", 100)
    yield store
    store.close()


def charge(store: Store, cost: int, fail: bool = False) -> None:
    with store.transaction() as db:
        store.charge(db, 101, cost)
        batch = store.batch_id(db, 101, TS, f"m{cost}")
        store.deliver(db, 101, batch, [A] * cost, None, "now", None, "SendMessage")
        if fail:
            raise RuntimeError("this call fails half-way")


def test_a_failed_call_in_a_group_undoes_only_itself(store):
    with store.group():
        charge(store, 1)
        with pytest.raises(RuntimeError):
            charge(store, 2, fail=True)
        charge(store, 3)
    assert store.account(101).balance == 96
    _, rows = store.query("SELECT count(*) FROM deliveries")
    assert rows == [(4,)]
    _, batches = store.query("SELECT message FROM batches ORDER BY id")
    assert batches == [("m1",), ("m3",)]
    assert store.batch_id(store._conn, 101, TS, "m2") not in (1, 2)  # not a stale cached id


def test_a_group_that_fails_keeps_none_of_its_calls(store):
    with pytest.raises(RuntimeError), store.group():
        charge(store, 1)
        charge(store, 2)
        raise RuntimeError("the commit fails")
    assert store.account(101).balance == 100
    assert store.query("SELECT count(*) FROM deliveries")[1] == [(0,)]
    charge(store, 5)  # a transaction of its own again
    assert store.account(101).balance == 95
    assert (
        store.batch_id(store._conn, 101, TS, "m5")
        == store.query("SELECT max(id) FROM batches")[1][0][0]
    )


# -- the server: no answer before the commit ------------------------------------------------


def test_no_call_is_answered_when_its_group_fails_to_commit(sim, service, auth, monkeypatch):
    real = sim.store.group
    committed: list[bool] = []

    @contextmanager
    def failing():
        with real():
            yield
            committed.append(False)
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sim.store, "group", failing)
    with pytest.raises(requests.exceptions.ConnectionError):
        service.SendMessage(*auth, "hi", A, TS)
    assert committed == [False]
    assert sim.deliveries().empty
    assert sim.balance(101)["Balance"] == 1000
    monkeypatch.undo()
    assert service.SendMessage(*auth, "hi", A, TS).State == 1
    assert len(sim.deliveries()) == 1


def test_an_answer_is_written_only_after_the_commit(sim, monkeypatch):
    from smsframe.simulator.httpd import Connection

    committed, answered = [0], [0]  # calls (one number each) committed, answers written
    real_group, real_reply = sim.store.group, Connection.reply

    @contextmanager
    def group():
        with real_group():
            yield
        committed[0] = sim.store.query("SELECT count(*) FROM deliveries")[1][0][0]

    def reply(self, status, body, *args, **kwargs):
        if b"SendMessageResult" in body:
            answered[0] += 1
            assert answered[0] <= committed[0], "an answer before its commit"
        return real_reply(self, status, body, *args, **kwargs)

    monkeypatch.setattr(sim.store, "group", group)
    monkeypatch.setattr(Connection, "reply", reply)
    calls = 24
    threads = [
        threading.Thread(
            target=requests.post,
            args=(sim.url,),
            kwargs={"data": send_body([f"139{i:08d}"]), "timeout": 10},
        )
        for i in range(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answered == committed == [calls]  # an assert in reply() closes the connection


# -- a kill of the process after answers -----------------------------------------------------


def test_every_answered_call_survives_a_kill_of_the_simulator(tmp_path):
    db = tmp_path / "p.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "smsframe.cli", "simulator", "serve", "--db", str(db),
         "--account", "101:demo:secret:100000000"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        host, port = urlsplit(process.stdout.readline().strip()).netloc.split(":")
        answered: list[list[str]] = []
        stop = threading.Event()

        def caller(worker: int) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            for call in range(10_000):
                phones = [f"13{worker}{call:05d}{n:03d}" for n in range(10)]
                try:
                    conn.request("POST", "/Service.asmx", send_body(phones))
                    answer = conn.getresponse().read()
                except (OSError, http.client.HTTPException):
                    return
                assert b"<State>1</State>" in answer
                answered.append(phones)
                if stop.is_set():
                    return

        threads = [threading.Thread(target=caller, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # mid-stream: calls in flight are lost, not answered
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        process.kill()
        process.wait()
    assert len(answered) >= 300
    with Simulator(db) as back:
        delivered = back.deliveries().phone
        balance = back.balance(101)
    assert set(delivered) >= {p for phones in answered for p in phones}
    assert delivered.is_unique  # each call's numbers are its own
    assert len(delivered) % 10 == 0  # no call half kept
    assert balance["Sended"] == len(delivered) == 100_000_000 - balance["Balance"]


# -- a database of the old layout -------------------------------------------------------------

OLD_DELIVERIES = """
CREATE TABLE deliveries (
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
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    message TEXT NOT NULL,
    UNIQUE (account_id, timestamp, message)
);
INSERT INTO batches VALUES (1, 101, 1764000000, 'old one'), (2, 101, 7, 'old two');
INSERT INTO deliveries VALUES
    (1, 101, 1, '13800138000', 'old one', 1764000000, NULL,
     '2025-01-01T08:00:00.000001+08:00', NULL, 'SendMessage'),
    (2, 101, 2, '13912345678', 'old two', 7, '2099-01-01T08:00:00+08:00',
     '2025-01-01T08:00:01.000001+08:00', '42', 'SendTimer'),
    (3, 101, 1, '13800138000', 'old one', 1764000000, NULL,
     '2025-01-01T08:00:02.000001+08:00', NULL, 'SendMessage');
"""


def test_the_delivery_log_of_an_old_database_is_carried_over(tmp_path, make_zeep_client):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(OLD_DELIVERIES)
    conn.close()
    with Simulator(db) as sim:
        sim.add_account(101, "demo", "secret", 10)
        log = sim.deliveries()
        assert log.phone.tolist() == [A, B, A]
        assert log.message.tolist() == ["old one", "old two", "old one"]
        assert log.timestamp.tolist() == [TS, 7, TS]
        assert log.ext.tolist()[1] == "42" and log.operation.tolist()[1] == "SendTimer"
        answer = make_zeep_client(sim).service.SendMessage(101, "demo", "secret", "old one", B, TS)
        assert (answer.State, answer.Id) == (1, 1)
        assert sim.deliveries().phone.tolist() == [A, B, A, B]
    with Simulator(db) as again:
        assert again.deliveries().phone.tolist() == [A, B, A, B]
