"""``smsframe suppress add|remove|list``: the journal's suppression list from a shell.

Most commands run in this process (:func:`smsframe.cli.main`), the way a shell would
call them; a few in another process, with :func:`test_cli.smsframe_cli`. Every journal
is in ``tmp_path`` (conftest gives each test a user data directory of its own).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from test_cli import one_clear_line, smsframe_cli

import smsframe  # noqa: F401  (the .sms accessor)
from smsframe.cli import main
from smsframe.journal import as_url, masked
from smsframe.suppression import REASONS, suppressions

pytestmark = pytest.mark.timeout(120)

A, B, C = "+8613800138000", "+8613900139000", "+8613700137000"


def run(capsys, *args: str) -> tuple[int, str, str]:
    """``smsframe ARGS`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        status = main(list(args))
    except SystemExit as exit:  # argparse's usage errors and --help
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def journal(tmp_path) -> str:
    """A journal file's path, not created yet."""
    return str(tmp_path / "team.sqlite")


def listed(journal: str) -> list[str]:
    return list(suppressions(journal)["phone"])


def test_add_numbers_in_any_spelling_counts_one_number_once(capsys, journal):
    status, out, err = run(
        capsys,
        "suppress",
        "add",
        "+86 138 0013 8000",
        "138-0013-8000",
        "13900139000",
        "--journal",
        journal,
    )
    assert status == 0, err
    assert out == f"suppressed 2 numbers in {masked(as_url(journal))}\n"
    assert err == ""
    assert listed(journal) == [A, B]
    assert set(suppressions(journal)["reason"]) == {"opt_out"}

    status, out, err = run(
        capsys, "suppress", "add", "0086 138 0013 8000", "13700137000", "--journal", journal
    )
    assert status == 0, err
    assert out.startswith("suppressed 1 number in ") and out.endswith(" (1 already suppressed)\n")
    assert listed(journal) == [A, B, C]


def test_add_from_a_csv_file_by_its_column(capsys, tmp_path, journal):
    csv = tmp_path / "complaints.csv"
    pd.DataFrame(
        {"name": ["王伟", "李娜", "张三"], "mobile": ["138 0013 8000", "139-0013-9000", ""]}
    ).to_csv(csv, index=False)
    # The default column, phone, is not there: the file's columns are named.
    status, _, err = run(capsys, "suppress", "add", "--csv", str(csv), "--journal", journal)
    assert status == 2
    assert "no column 'phone'" in err and "'mobile'" in err and "give --column" in err
    assert not Path(journal).exists()

    status, out, err = run(
        capsys,
        "suppress",
        "add",
        "13700137000",
        "--csv",
        str(csv),
        "--column",
        "mobile",
        "--reason",
        "complaint",
        "--journal",
        journal,
    )
    assert status == 1  # the empty cell is no number
    assert "suppressed 3 numbers" in out and "1 not a number: ''" in out
    assert listed(journal) == [C, A, B]
    assert set(suppressions(journal)["reason"]) == {"complaint"}


@pytest.mark.parametrize(
    "text",
    [
        "tel\n138 0013 8000\n+86 139-0013-9000\n",  # one column, not called phone
        "138 0013 8000\n+86 139-0013-9000\n",  # numbers alone: no header to lose
        "Unnamed: 0\n13800138000\n13900139000\n",
    ],
    ids=["named", "no-header", "unnamed"],
)
def test_add_from_a_csv_file_of_one_column(capsys, tmp_path, journal, text):
    csv = tmp_path / "opt-outs.csv"
    csv.write_text(text, encoding="utf-8")
    status, out, err = run(capsys, "suppress", "add", "--csv", str(csv), "--journal", journal)
    assert status == 0, err
    assert out.startswith("suppressed 2 numbers in ")
    assert listed(journal) == [A, B]


def test_values_that_are_no_numbers_are_named_and_the_others_added(capsys, journal):
    status, out, err = run(
        capsys,
        "suppress",
        "add",
        "13800138000",
        "?",
        "abc",
        "\x1b]0;owned\x07",
        "12",
        "13900139000",
        "--journal",
        journal,
    )
    assert status == 1
    assert out.startswith("suppressed 2 numbers in ")
    assert "4 not numbers: '?', 'abc', '\\x1b]0;owned\\x07', ..." in out
    assert "\x1b" not in out + err and "\x07" not in out + err
    [line] = err.splitlines()
    assert line.startswith("smsframe: error: 4 values are no phone numbers and were not added")
    assert "the other numbers are on the list" in line
    assert listed(journal) == [A, B]  # nothing lost

    status, out, err = run(capsys, "suppress", "add", "hello", "--journal", journal)
    assert status == 1
    assert "no number was added" in err


def test_remove_then_list_shows_both_events_with_who_and_when(capsys, journal):
    url = masked(as_url(journal))
    run(capsys, "suppress", "add", "13800138000", "--note", "replied T", "--journal", journal)
    status, out, err = run(
        capsys,
        "suppress",
        "remove",
        "+86 138 0013 8000",
        "13900139000",
        "--note",
        "opted in again",
        "--journal",
        journal,
    )
    assert status == 0, err
    assert out == f"removed 1 number from {url} (1 was not suppressed)\n"
    assert listed(journal) == []

    status, out, err = run(capsys, "suppress", "list", "--journal", journal)
    assert status == 0, err
    assert out == f"no number is suppressed in {url}\n"

    status, out, err = run(capsys, "suppress", "list", "--history", "--journal", journal)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"2 events of the suppression list of {url}:"
    assert lines[1].split() == ["phone", "action", "reason", "note", "at", "(China", "time)", "by"]
    added, removed = lines[2:]
    assert added.split()[:5] == [A, "add", "opt_out", "replied", "T"]
    assert removed.split()[:5] == [A, "remove", "opted", "in", "again"]
    events = suppressions(journal, history=True)
    for line, event in zip((added, removed), events.itertuples(), strict=True):
        at = event.at.tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M")
        assert f"{at} {event.by}" in line  # China time, then who
        assert "@" in event.by


def test_list_as_csv_parses_back(capsys, tmp_path, journal):
    run(capsys, "suppress", "add", "13800138000", "--note", 'a, "b"\nc', "--journal", journal)
    run(capsys, "suppress", "add", "13900139000", "--reason", "blocked", "--journal", journal)

    status, out, err = run(capsys, "suppress", "list", "--csv", "-", "--journal", journal)
    assert status == 0, err
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert list(table.columns) == ["phone", "reason", "note", "since", "by"]
    assert list(table["phone"]) == [A, B]
    assert list(table["reason"]) == ["opt_out", "blocked"]
    assert list(table["note"]) == ['a, "b"\nc', ""]
    since = pd.to_datetime(table["since"])
    assert str(since.dt.tz) == "UTC+08:00"
    assert (since.dt.tz_convert("UTC") == suppressions(journal)["since"]).all()

    out_file = tmp_path / "history.csv"
    status, out, err = run(
        capsys, "suppress", "list", "--history", "--csv", str(out_file), "--journal", journal
    )
    assert status == 0, err
    assert out == f"2 events written to {out_file}\n"
    history = pd.read_csv(out_file, dtype=str, keep_default_na=False)
    assert list(history.columns) == ["phone", "action", "reason", "note", "at", "by"]
    assert list(history["action"]) == ["add", "add"]

    status, _, err = run(
        capsys, "suppress", "list", "--csv", str(tmp_path / "no" / "x.csv"), "--journal", journal
    )
    assert status == 2 and "does not exist" in err


def test_a_plan_afterwards_rejects_a_suppressed_number(capsys, journal):
    status, _, err = run(
        capsys, "suppress", "add", "138 0013 8000", "--reason", "complaint", "--journal", journal
    )
    assert status == 0, err
    contacts = pd.DataFrame({"phone": ["13800138000", "13900139000"]})
    plan = contacts.sms.plan(message="【x】hi", journal=as_url(journal))
    reasons = plan.rows["sms_reason"]
    assert reasons.iloc[0] == "suppressed"
    assert pd.isna(reasons.iloc[1])

    run(capsys, "suppress", "remove", "13800138000", "--journal", journal)
    plan = contacts.sms.plan(message="【x】hi", journal=as_url(journal))
    assert plan.rows["sms_reason"].isna().all()


def test_a_note_with_control_characters_is_printed_escaped(capsys, journal):
    note = "T\x1b[31m red\x07 \x9b2J"
    run(capsys, "suppress", "add", "13800138000", "--note", note, "--journal", journal)
    assert list(suppressions(journal)["note"]) == [note]  # kept as given
    for history in ([], ["--history"]):
        status, out, err = run(capsys, "suppress", "list", *history, "--journal", journal)
        assert status == 0, err
        assert "T\\x1b[31m red\\x07 \\x9b2J" in out
        assert not {"\x1b", "\x07", "\x9b"} & set(out)


def test_no_numbers_is_a_usage_error_saying_how_to_give_them(capsys, tmp_path, journal):
    for verb in ("add", "remove"):
        status, out, err = run(capsys, "suppress", verb, "--journal", journal)
        assert status == 2 and out == ""
        assert f"no numbers to {verb}: give them as arguments (smsframe suppress {verb}" in err
        assert "--csv FILE" in err
    (tmp_path / "empty.csv").write_text("phone\n")
    status, _, err = run(
        capsys, "suppress", "add", "--csv", str(tmp_path / "empty.csv"), "--journal", journal
    )
    assert status == 2 and "has no rows" in err
    status, _, err = run(
        capsys, "suppress", "add", "--csv", str(tmp_path / "none.csv"), "--journal", journal
    )
    assert status == 2 and "no such file" in err
    assert not Path(journal).exists()


def test_remove_from_a_journal_that_is_not_there(capsys, journal):
    status, _, err = run(capsys, "suppress", "remove", "13800138000", "--journal", journal)
    assert status == 2 and f"no journal at {journal}" in err
    assert not Path(journal).exists()


def test_an_invalid_reason_names_the_valid_ones(tmp_path):
    done = smsframe_cli(tmp_path, "suppress", "add", "13800138000", "--reason", "spam")
    assert done.returncode == 2
    assert "argument --reason: invalid choice: 'spam'" in done.stderr
    for reason in REASONS:
        assert reason in done.stderr.splitlines()[-1]
    assert not (tmp_path / "user-data" / "smsframe" / "journal.sqlite").exists()


def test_in_a_shell_with_the_default_journal(tmp_path):
    """Another process, without --journal: the user's own journal."""
    default = tmp_path / "user-data" / "smsframe" / "journal.sqlite"
    done = smsframe_cli(tmp_path, "suppress", "list")
    one_clear_line(done, f"no journal at {default}")

    done = smsframe_cli(tmp_path, "suppress", "add", "+86 138 0013 8000", "13800138000", "x")
    assert done.returncode == 1
    assert done.stdout == (f"suppressed 1 number in sqlite:///{default} (1 not a number: 'x')\n")
    one_clear_line(done, "1 value is no phone number and was not added ('x')")

    done = smsframe_cli(tmp_path, "suppress", "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"1 number is suppressed in sqlite:///{default}:"
    assert A in done.stdout and "opt_out" in done.stdout


@pytest.mark.parametrize("action", [(), ("add",), ("remove",), ("list",)])
def test_help_says_what_the_list_does(capsys, action):
    status, out, _ = run(capsys, "suppress", *action, "--help")
    assert status == 0
    description = " ".join(out.split("\n\n")[1].split())
    if action in ((), ("add",), ("list",)):
        assert "no campaign on this journal" in description or "never sent to by any" in (
            description
        )
    if action in ((), ("remove",)):
        assert "recorded" in description and "never deleted" in description
    assert "example:\n  smsframe suppress" in out
