"""The ``smsframe`` command as a new user meets it: ``--version``; ``--help`` in plain
text, every option saying what it is and its default; a mistake in ``--journal`` (or
another argument) as one line saying what to do, no traceback, a non-zero exit status,
and never a password.

Each command runs in another process, as from a shell, with a user data directory of
its own (``XDG_DATA_HOME``): the default journal is in ``tmp_path``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import smsframe
from smsframe.cli import build_parser
from smsframe.journal import Journal

pytestmark = pytest.mark.timeout(120)

SECRET = "Pw-7f3a91-SECRET"
RST = re.compile(r"``|:(func|class|meth|mod|attr|data|exc|obj|ref|doc|py:\w+):`")


def smsframe_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``smsframe ARGS`` run in ``tmp_path``, with its own user data directory."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "user-data")}
    env.pop("SMSFRAME_JOURNAL", None)
    return subprocess.run(
        [sys.executable, "-m", "smsframe.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=90,
    )


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The parser and every command's parser under it, with the command's words."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


COMMANDS = [path for path, _ in parsers(build_parser())]


def one_clear_line(done: subprocess.CompletedProcess[str], *says: str) -> str:
    """The error line of a command that failed as it should: a non-zero status, at most
    3 lines on stderr, the last ``smsframe: error: ...``, no traceback, saying ``says``."""
    assert done.returncode != 0, done.stdout
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    lines = done.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, done.stderr
    assert lines[-1].startswith("smsframe: error: "), done.stderr
    for words in says:
        assert words in lines[-1], lines[-1]
    return lines[-1]


def test_version(tmp_path):
    done = smsframe_cli(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"smsframe {smsframe.__version__}"


def test_every_command_is_seen():
    assert set(COMMANDS) == {
        (),
        ("demo",),
        ("audit",),
        ("campaigns",),
        ("simulator",),
        ("simulator", "serve"),
        ("simulator", "deliveries"),
        ("suppress",),
        ("suppress", "add"),
        ("suppress", "remove"),
        ("suppress", "list"),
    }


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "smsframe")
def test_help_is_plain_text_with_a_description_and_every_option_explained(tmp_path, command):
    done = smsframe_cli(tmp_path, *command, "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not RST.search(text), text
    # A description between the usage and the options.
    description = text.split("\n\n")[1]
    assert not description.startswith(("options:", "positional")), text
    assert len(description.split()) >= 8, description
    # Every option: its help on its line, or on the next one when the option is long.
    lines = text.splitlines()
    options = [i for i, line in enumerate(lines) if re.match(r"  -", line)]
    assert options
    for i in options:
        helped = re.match(r"  -\S.*?\s{2,}\S", lines[i]) or re.match(r"\s{8,}\S", lines[i + 1])
        assert helped, lines[i]
    if command not in ((), ("simulator",)):
        assert "example:" in text  # a line to copy


def test_every_option_of_the_parser_says_what_it_is_and_its_default():
    for path, parser in parsers(build_parser()):
        assert parser.description and not RST.search(parser.description), path
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"smsframe {' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help.strip(), where
            assert not RST.search(action.help), where
            optional = action.option_strings and not isinstance(action, argparse._VersionAction)
            if optional:
                assert "default" in action.help or "required" in action.help, where
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._get_subactions():
                    assert choice.help and choice.help.strip(), (where, choice.dest)


# -- --journal: what a new user may type -----------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["campaigns", "--journal", "x/y.sqlite"], ["x does not exist", "check the path"]),
        (["audit", "--campaign", "c", "--journal", "./x/y.sqlite"], ["x does not exist"]),
        (["demo", "--journal", "./x/y.sqlite"], ["x does not exist", "create it"]),
    ],
    ids=["campaigns", "audit", "demo"],
)
def test_a_journal_in_a_missing_folder(tmp_path, args, says):
    one_clear_line(smsframe_cli(tmp_path, *args), *says)
    assert not (tmp_path / "x").exists()


def test_a_journal_that_is_not_there(tmp_path):
    line = one_clear_line(
        smsframe_cli(tmp_path, "campaigns", "--journal", "demo.sqlite"),
        f"no journal at {tmp_path / 'demo.sqlite'}",
        "check the path",
    )
    assert "leave out --journal" in line
    assert not (tmp_path / "demo.sqlite").exists()
    # The default journal, before any campaign: where it is looked for, and what to do.
    default = tmp_path / "user-data" / "smsframe" / "journal.sqlite"
    one_clear_line(smsframe_cli(tmp_path, "campaigns"), str(default), "give --journal")


@pytest.mark.parametrize(
    ("journal", "says"),
    [
        ("postgres://user@127.0.0.1:1/db", ["write postgresql://user@127.0.0.1:1/db"]),
        ("sqlite:/x", ["has no '://'", "sqlite:///path/journal.sqlite"]),
        ("sqlite://journal.sqlite", ["three slashes"]),
        ("sqlit:///journal.sqlite", ["no database is called 'sqlit'", "give a file path"]),
    ],
)
@pytest.mark.parametrize("command", [["campaigns"], ["audit", "--campaign", "c"], ["demo"]])
def test_a_journal_url_with_a_typo(tmp_path, command, journal, says):
    one_clear_line(smsframe_cli(tmp_path, *command, "--journal", journal), *says)
    assert not [p for p in tmp_path.iterdir() if p.name != "user-data"]  # nothing created


@pytest.mark.parametrize("command", [["campaigns"], ["audit", "--campaign", "c"], ["demo"]])
def test_a_folder_given_as_the_journal(tmp_path, command):
    (tmp_path / "journals").mkdir()
    one_clear_line(
        smsframe_cli(tmp_path, *command, "--journal", "journals"),
        "is a folder",
        f"give a file, e.g. {tmp_path / 'journals' / 'journal.sqlite'}",
    )
    assert not list((tmp_path / "journals").iterdir())


def test_a_file_that_is_no_journal(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    one_clear_line(
        smsframe_cli(tmp_path, "campaigns", "--journal", "notes.txt"),
        "is not a smsframe journal",
        "give another journal (--journal",
    )


@pytest.mark.parametrize("command", [["campaigns"], ["audit", "--campaign", "c"]])
def test_a_database_server_that_is_down_says_so_and_shows_no_password(tmp_path, command):
    pytest.importorskip("psycopg")  # postgresql:// is psycopg's in SQLAlchemy 2.1
    url = f"postgresql://user:{SECRET}@127.0.0.1:1/db"  # nothing listens on port 1
    done = smsframe_cli(tmp_path, *command, "--journal", url)
    line = one_clear_line(done, "postgresql://user:***@127.0.0.1:1/db", "database server is up")
    assert done.returncode == 1
    assert "run this command again" in line  # not the advice for a campaign
    assert SECRET not in done.stdout + done.stderr


def test_a_url_given_without_journal_is_echoed_without_its_password(tmp_path):
    done = smsframe_cli(tmp_path, "campaigns", f"postgresql://user:{SECRET}@db@127.0.0.1/db")
    assert done.returncode == 2
    assert "unrecognized arguments: postgresql://user:***@127.0.0.1/db" in done.stderr
    assert "SECRET" not in done.stdout + done.stderr


def test_a_missing_driver_is_named_and_no_password_shown(tmp_path):
    url = f"postgresql+nosuchdriver://user:{SECRET}@127.0.0.1:1/db"
    done = smsframe_cli(tmp_path, "campaigns", "--journal", url)
    one_clear_line(done, "user:***@", "give a file path")
    assert SECRET not in done.stdout + done.stderr
    # A URL typo without '://' cannot be masked: only its scheme is shown.
    done = smsframe_cli(tmp_path, "campaigns", "--journal", f"postgresql:user:{SECRET}@h/db")
    one_clear_line(done, "(postgresql:)", "has no '://'")
    assert SECRET not in done.stdout + done.stderr


def test_a_good_journal_as_a_path_a_url_or_the_default(tmp_path):
    """The checks refuse no journal that works."""
    Journal(tmp_path / "team.sqlite").close()
    (tmp_path / "user-data" / "smsframe").mkdir(parents=True)
    Journal(tmp_path / "user-data" / "smsframe" / "journal.sqlite").close()
    for args in (
        ["--journal", "team.sqlite"],
        ["--journal", f"sqlite:///{tmp_path / 'team.sqlite'}"],
        [],
    ):
        done = smsframe_cli(tmp_path, "campaigns", *args)
        assert done.returncode == 0, done.stderr
        assert "no campaigns in this journal" in done.stdout
    one_clear_line(
        smsframe_cli(tmp_path, "audit", "--campaign", "nope", "--journal", "team.sqlite"),
        "no campaign 'nope'",
    )


# -- other arguments ----------------------------------------------------------------


def test_an_output_file_that_cannot_be_written_is_refused_before_the_audit(tmp_path):
    Journal(tmp_path / "team.sqlite").close()
    audit = ["audit", "--campaign", "c", "--journal", "team.sqlite"]
    one_clear_line(
        smsframe_cli(tmp_path, *audit, "--html", "out/report.html"), "out does not exist"
    )
    one_clear_line(smsframe_cli(tmp_path, *audit, "--plot", "charts.xyz"), ".png")
    (tmp_path / "tables").write_text("a file")
    one_clear_line(smsframe_cli(tmp_path, *audit, "--csv", "tables"), "give a folder")


def test_simulator_databases_that_are_not_one(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    one_clear_line(smsframe_cli(tmp_path, "simulator", "serve", "--db", "folder"), "is a folder")
    one_clear_line(
        smsframe_cli(tmp_path, "simulator", "serve", "--db", "no/sim.sqlite"), "does not exist"
    )
    for action in ("serve", "deliveries"):
        one_clear_line(
            smsframe_cli(tmp_path, "simulator", action, "--db", "notes.txt"),
            "is not a simulator's database",
        )
    one_clear_line(
        smsframe_cli(tmp_path, "simulator", "deliveries", "--db", "none.sqlite"),
        "no simulator database at none.sqlite",
    )
    done = smsframe_cli(tmp_path, "simulator", "serve", "--db", "s.sqlite", "--port", "70000")
    assert done.returncode == 2 and "give 0 to 65535" in done.stderr  # argparse's usage
