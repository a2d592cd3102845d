"""A team on one PostgreSQL journal shares its contact hygiene across processes: a
number one process suppresses (in any spelling) is rejected ``suppressed`` by another
process's plan and never reaches the simulator from its send; a removal made in one
process is seen by the next plan of another, and kept as an event; two processes
suppressing at once both succeed and the list is the union; and a frequency cap in one
process counts the messages another process's campaign sent."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pandas as pd
import pytest

import smsframe  # noqa: F401 - registers df.sms
from smsframe.suppression import suppressions

TIMEOUT_S = 60  # no step of a child process takes this long; it is killed after

# Another process of the team: it imports smsframe, says "ready", then does each job
# given as a JSON line on stdin (on the journal ``job["journal"]``) and answers each with
# one JSON line: its result frame's columns, or the error's traceback.
CHILD = textwrap.dedent(
    """
    import json
    import sys
    import traceback

    import pandas as pd

    import smsframe
    from smsframe.suppression import suppress, unsuppress

    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            if job["do"] == "suppress":
                out = suppress(job["numbers"], reason=job["reason"], note=job["note"],
                               journal=job["journal"])
            elif job["do"] == "unsuppress":
                out = unsuppress(job["numbers"], note=job["note"], journal=job["journal"])
            else:
                from smsframe import SmsClient

                client = SmsClient(job["wsdl"], *job["auth"])
                frame = pd.DataFrame({"phone": job["numbers"]})
                out = frame.sms.send(client, job["message"], campaign=job["campaign"],
                                     journal=job["journal"], progress=False)
        except BaseException:
            print(json.dumps({"error": traceback.format_exc()}), flush=True)
            continue
        columns = out.astype(object).where(out.notna(), None).astype(str)
        print(json.dumps(columns.to_dict(orient="list")), flush=True)
    """
)


class Child:
    """A child process running :data:`CHILD`: ``with Child() as a: a.ask(do=...)``."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("")  # the end: the process exited

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stderr.close()

    def _line(self) -> str:
        try:
            line = self.lines.get(timeout=TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"the child said nothing for {TIMEOUT_S} s") from None
        if not line:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the child exited ({self.process.returncode}):\n{self.process.stderr.read()}"
            )
        return line

    def ready(self) -> Child:
        """Wait until the child has imported everything."""
        assert self._line() == "ready"
        return self

    def give(self, **job: object) -> None:
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict[str, list[str]]:
        """The result columns of the job given; fails with the child's traceback."""
        result = json.loads(self._line())
        assert "error" not in result, result["error"]
        return result

    def ask(self, **job: object) -> dict[str, list[str]]:
        self.give(**job)
        return self.answer()


@pytest.fixture
def team_mate() -> Iterator[Child]:
    """Process A, started as the test sets up (its imports take a while); the test's own
    process is B."""
    with Child() as child:
        yield child


def _delivered(sim) -> pd.Series:
    """How many messages the simulator delivered to each number (its last 11 digits)."""
    return sim.deliveries()["phone"].str[-11:].value_counts()


def _recent(china_time: str) -> bool:
    """``china_time`` ("2030-01-01 09:00", China Standard Time) is within minutes of now:
    the server's own time zone (not UTC, see tests/postgres.py) did not shift it."""
    at = pd.Timestamp(china_time).tz_localize("Asia/Shanghai")
    return abs(pd.Timestamp.now(tz="UTC") - at) < pd.Timedelta(minutes=5)


def _by_ok(by: str) -> bool:
    """``by`` names a user on this machine (user@host), the processes' own."""
    user, at, host = by.partition("@")
    return bool(user) and at == "@" and host == socket.gethostname()


# -- 1. a suppression made in one process binds another's plan and send ------------------


def test_numbers_suppressed_by_one_process_are_rejected_and_never_sent_by_another(
    fresh_postgres_url, sim, sms_client, team_mate
):
    url = fresh_postgres_url
    frame = pd.DataFrame(
        {
            "name": ["王", "李", "张"],
            "phone": ["13800138000", "139 1234 5678", "137 0000 0001"],
        }
    )
    stale = frame.sms.plan("您好{name}")  # made before the suppression: all pending
    assert (stale.rows["sms_status"] == "pending").all()

    added = team_mate.ready().ask(
        do="suppress",
        journal=url,
        numbers=["+86 138 0013 8000", "0086-139-1234-5678"],
        reason="complaint",
        note="ticket 4711: called the carrier",
    )
    assert added["status"] == ["suppressed", "suppressed"], added
    assert added["sms_e164"] == ["+8613800138000", "+8613912345678"], added

    # This process plans against the same journal: the numbers, spelt otherwise, are out.
    plan = frame.sms.plan("您好{name}", journal=url)
    rows = plan.rows
    assert rows["sms_status"].tolist() == ["rejected", "rejected", "pending"]
    assert rows["sms_reason"].astype(object).tolist()[:2] == ["suppressed", "suppressed"]
    for detail in rows["sms_detail"].iloc[:2]:
        assert detail.startswith("suppressed since "), detail
        assert "complaint (ticket 4711: called the carrier)" in detail, detail
        assert _by_ok(detail.rpartition(", by ")[2]), detail
        assert _recent(detail.partition("since ")[2].partition(" China time")[0]), detail

    # The plan made before the suppression is checked again as its campaign starts.
    out = stale.send(sms_client, campaign="spring", journal=url, progress=False)
    assert out["sms_status"].tolist() == ["rejected", "rejected", "sent"]
    assert out["sms_reason"].astype(object).tolist()[:2] == ["suppressed", "suppressed"]
    assert "complaint (ticket 4711" in out["sms_detail"].iloc[0]

    again = frame.sms.send(
        sms_client, "您好{name}", campaign="spring-again", journal=url, progress=False
    )
    assert again["sms_status"].tolist() == ["rejected", "rejected", "sent"]

    delivered = _delivered(sim)
    assert "13800138000" not in delivered.index, delivered
    assert "13912345678" not in delivered.index, delivered
    assert delivered.to_dict() == {"13700000001": 2}  # once per campaign


# -- 2. a removal made in one process is seen by another ---------------------------------


def test_a_removal_in_one_process_is_seen_by_the_next_plan_of_another(
    fresh_postgres_url, sim, sms_client, team_mate
):
    url = fresh_postgres_url
    frame = pd.DataFrame({"phone": ["13800138000", "139 1234 5678"]})
    team_mate.ready()
    added = team_mate.ask(
        do="suppress",
        journal=url,
        numbers=["+86 138 0013 8000", "0086-139-1234-5678"],
        reason="opt_out",
        note="replied TD",
    )
    assert added["status"] == ["suppressed", "suppressed"], added
    before = frame.sms.plan("hello", journal=url).rows
    assert before["sms_reason"].astype(object).tolist() == ["suppressed", "suppressed"]

    removed = team_mate.ask(
        do="unsuppress", journal=url, numbers=["+86 139-1234-5678"], note="opted in again"
    )
    assert removed["status"] == ["removed"], removed

    after = frame.sms.plan("hello", journal=url).rows
    assert after["sms_status"].tolist() == ["rejected", "pending"]
    assert after["sms_reason"].astype(object).iloc[0] == "suppressed"
    assert pd.isna(after["sms_reason"].iloc[1])

    active = suppressions(url)
    assert active["phone"].tolist() == ["+8613800138000"]
    history = suppressions(url, history=True)
    events = history[history["phone"] == "+8613912345678"]
    assert events["action"].tolist() == ["add", "remove"], history
    assert events["note"].tolist() == ["replied TD", "opted in again"]
    assert events["reason"].iloc[0] == "opt_out"
    assert events["at"].is_monotonic_increasing
    assert all(_by_ok(by) for by in events["by"]), events["by"]
    assert history[history["phone"] == "+8613800138000"]["action"].tolist() == ["add"]

    out = frame.sms.send(sms_client, "hello", campaign="welcome-back", journal=url, progress=False)
    assert out["sms_status"].tolist() == ["rejected", "sent"]
    assert _delivered(sim).to_dict() == {"13912345678": 1}


# -- 3. two processes suppressing at the same time ---------------------------------------

PER_CHILD, OVERLAP = 500, 250


def test_two_processes_suppressing_at_once_both_succeed_and_the_list_is_the_union(
    fresh_postgres_url,
):
    url = fresh_postgres_url  # a new database: the two also race to create the tables
    first = [f"1380000{i:04d}" for i in range(PER_CHILD)]
    start = PER_CHILD - OVERLAP
    second = [f"+86 138 0000 {i:04d}" for i in range(start, start + PER_CHILD)]
    jobs = [
        {"numbers": first, "reason": "opt_out", "note": "list A"},
        {"numbers": second, "reason": "complaint", "note": "list B"},
    ]
    with Child() as one, Child() as other:
        one.ready(), other.ready()  # both imported: now they suppress at once
        for child, job in zip((one, other), jobs, strict=True):
            child.give(do="suppress", journal=url, **job)
        results = [one.answer(), other.answer()]

    for result, count in zip(results, (PER_CHILD, PER_CHILD), strict=True):
        assert len(result["status"]) == count
        assert set(result["status"]) <= {"suppressed", "already_suppressed"}, set(result["status"])
    union = {f"+86138{n:08d}" for n in range(start + PER_CHILD)}
    newly = sum(status == "suppressed" for r in results for status in r["status"])
    assert newly == len(union)  # each number added by exactly one of the two

    active = suppressions(url)
    assert active["phone"].is_unique, active[active["phone"].duplicated()]
    assert set(active["phone"]) == union
    assert set(active["reason"]) <= {"opt_out", "complaint"}
    only_first = active.set_index("phone").loc[[f"+86138{n:08d}" for n in range(start)]]
    assert (only_first["note"] == "list A").all()
    history = suppressions(url, history=True)
    assert (history["action"] == "add").all()
    assert history["phone"].is_unique  # one event per number: no change recorded twice


# -- 4. a frequency cap counts another process's campaign --------------------------------


def test_a_cap_counts_the_messages_another_process_sent(
    fresh_postgres_url, sim, auth, sms_client, team_mate
):
    url = fresh_postgres_url
    theirs = [f"1390000{i:04d}" for i in range(6)]
    overlap = theirs[3:]
    mine = [f"+86 139 0000 {n[-4:]}" for n in overlap] + [f"137-0000-{i:04d}" for i in range(3)]
    frame = pd.DataFrame({"phone": mine})
    stale = frame.sms.plan("b", cap=(1, "7D"))  # made before campaign a was sent
    assert (stale.rows["sms_status"] == "pending").all()

    sent = team_mate.ready().ask(
        do="send",
        journal=url,
        wsdl=sim.wsdl_url,
        auth=list(auth),
        numbers=theirs,
        message="a",
        campaign="a",
    )
    assert sent["sms_status"] == ["sent"] * len(theirs), sent

    plan = frame.sms.plan("b", cap=(1, "7D"), journal=url, campaign="b")
    assert plan.rows["sms_status"].tolist() == ["rejected"] * 3 + ["pending"] * 3

    out = stale.send(sms_client, campaign="b", journal=url, progress=False)
    assert out["sms_status"].tolist() == ["rejected"] * 3 + ["sent"] * 3
    for rows in (plan.rows, out):
        assert rows["sms_reason"].astype(object).tolist()[:3] == ["capped"] * 3
        for detail in rows["sms_detail"].iloc[:3]:
            assert "1 message within 7 days of this one (cap: 1 per 7 days)" in detail, detail
            assert detail.endswith("campaign 'a'"), detail
            assert _recent(detail.partition("the latest ")[2].partition(" China time")[0])

    delivered = _delivered(sim)
    for number in overlap:
        assert delivered.get(number) == 1, delivered
    assert delivered.to_dict() == {n: 1 for n in theirs + [f"1370000{i:04d}" for i in range(3)]}
    assert sim.deliveries()["message"].value_counts().to_dict() == {"a": 6, "b": 3}


def test_journals_suppressing_the_same_numbers_at_once_record_each_once(fresh_postgres_url):
    from test_hygiene import check_each_change_recorded_once, suppress_at_once

    suppressions(fresh_postgres_url)
    results = suppress_at_once(fresh_postgres_url)
    check_each_change_recorded_once(fresh_postgres_url, results)
