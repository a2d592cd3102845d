"""A journal that is not what it should be (damaged, from another version, read-only, in
a missing folder, no URL at all), odd campaign names, and hostile names in the CLI's
output: each a clear error in words, or a journal read as it is; never a raw database
or encoding error, never a terminal escape printed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

import smsframe
from smsframe import JournalError
from smsframe.journal import Journal

ACCOUNT = (101, "demo", "errors-pw")

pytestmark = pytest.mark.sim(ACCOUNT, balance=1000)


def send(client, journal, campaign="c"):
    frame = pd.DataFrame({"phone": ["13900000001", "13900000002"]})
    return frame.sms.send(client, message="hi", campaign=campaign, journal=journal, progress=False)


def test_a_damaged_file_is_not_a_journal(tmp_path, sms_client):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is no database at all " * 100)
    for open_it in (lambda: Journal(path), lambda: smsframe.audit(str(path), "c")):
        with pytest.raises(JournalError, match="is not a smsframe journal, or is damaged"):
            open_it()
    with pytest.raises(JournalError, match="damaged"):
        send(sms_client, str(path))


def test_a_journal_from_another_version_says_so(tmp_path, sms_client):
    path = tmp_path / "journal.sqlite"
    send(sms_client, str(path))
    with sqlite3.connect(path) as db:  # as an older smsframe's tables might be
        db.execute("ALTER TABLE calls DROP COLUMN detail")
    for use in (lambda: smsframe.audit(str(path), "c"), lambda: send(sms_client, str(path), "d")):
        with pytest.raises(JournalError, match="another version of smsframe"):
            use()


def test_a_read_only_journal_can_be_audited(tmp_path, sms_client):
    path = tmp_path / "journal.sqlite"
    send(sms_client, str(path))
    # Read-only media, as SQLite sees them (the tests run as root: file modes would not do).
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    audit = smsframe.audit(read_only, "c")
    assert audit.status["count"].to_dict() == {"sent": 2}
    assert smsframe.audit(str(path), "c").status["count"].to_dict() == {"sent": 2}
    journal = Journal(read_only, read_only=True)
    assert len(journal.campaign("c")) == 2
    with pytest.raises(JournalError, match="cannot be written"):
        journal.start_campaign("new", 101, 10)
    journal.close()


def test_a_missing_folder_and_an_address_that_is_no_url(tmp_path):
    with pytest.raises(JournalError, match=r"folder .*nowhere does not exist: create it"):
        Journal(tmp_path / "nowhere" / "journal.sqlite")
    with pytest.raises(JournalError, match="is not a journal's address"):
        Journal("postgres+nosuchdriver://user:Pw-db-1234@host/db")
    with pytest.raises(JournalError) as raised:
        Journal("postgres+nosuchdriver://user:Pw-db-1234@host/db")
    assert "Pw-db-1234" not in str(raised.value)
    assert Journal(str(tmp_path / "plain.sqlite")).url.startswith("sqlite:///")  # a bare path


@pytest.mark.parametrize("name", ["nul\x00name", "lone \ud800 surrogate", "line\nbreak", " "])
def test_a_campaign_name_that_cannot_be_stored_is_refused_in_words(tmp_path, sms_client, name):
    with pytest.raises(ValueError, match="printable characters"):
        send(sms_client, str(tmp_path / "journal.sqlite"), campaign=name)


def test_the_cli_prints_no_terminal_escape_from_a_campaign_name(tmp_path, sms_client):
    hostile = "promo\x1b[2J\x1b]0;owned\x07\x9b31m"
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    with journal.lease(hostile):  # a name written by another tool, or an older smsframe
        journal.start_campaign(hostile, 101, 100)
    journal.close()
    send(sms_client, str(path))
    for command in (["campaigns"], ["audit", "--campaign", hostile]):
        shown = subprocess.run(
            [sys.executable, "-m", "smsframe.cli", *command, "--journal", str(path)],
            capture_output=True,
            text=True,
        )
        output = shown.stdout + shown.stderr
        assert "promo" in output
        assert not any(ch in output for ch in "\x1b\x07\x9b"), output
        assert "\\x1b" in output
