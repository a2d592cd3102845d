"""Tests that need a system program (Chromium, PostgreSQL) skip with a one-line reason
saying how to get it where it is missing, and fail under CI, where .ci/run installs it:
the README's test command passes on a machine with only Python and pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDS = {
    "Chromium": ("tests/test_widgets_browser.py", "apt-get install -y chromium"),
    "PostgreSQL": (
        "tests/test_journal.py::test_a_database_password_never_shows_in_the_journals_repr",
        "postgresql",
    ),
}


def run_without_programs(test: str, ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {
        "SMSFRAME_TEST_CHROMIUM": "/nonexistent/chromium",
        "SMSFRAME_TEST_PG_BIN": "/nonexistent",
    }
    if ci:
        env["CI"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rsf", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("program", sorted(NEEDS))
def test_a_missing_program_skips_with_how_to_get_it(program):
    test, hint = NEEDS[program]
    done = run_without_programs(test, ci=False)
    assert done.returncode == 0, done.stdout[-2000:]
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all(hint in line for line in skipped), done.stdout[-2000:]


@pytest.mark.parametrize("program", sorted(NEEDS))
def test_a_missing_program_fails_under_ci(program):
    test, hint = NEEDS[program]
    done = run_without_programs(test, ci=True)
    assert done.returncode == 1, done.stdout[-2000:]
    assert hint in done.stdout
