"""The README's Python examples run, in order and in one namespace, as a reader would
paste them into a notebook: against the simulator they start, from the repository's
folder (they read data/contacts.csv), with this test's own journal."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def readme(monkeypatch):
    monkeypatch.chdir(ROOT)
    document = Sybil(parsers=[PythonCodeBlockParser()]).parse(ROOT / "README.md")
    yield document
    for name, close in (("balance", "close"), ("panel", "close"), ("sim", "stop")):
        if name in document.namespace:
            getattr(document.namespace[name], close)()


def test_every_python_example_of_the_readme_runs(readme):
    examples = list(readme.examples())
    assert len(examples) >= 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing to warn a reader about
        for example in examples:
            example.evaluate()
    namespace = readme.namespace
    out = namespace["out"]
    recipients = namespace["plan"].summary()["recipients"]
    # the last example sends, or at night (its quiet hours) schedules for 08:00
    done = out["sms_status"].isin(["sent", "scheduled"]).sum()
    assert len(out) == 3000 and done == recipients
    assert namespace["sim"].deliveries()["message"].str.contains(r"\.\.\.").sum() == 0


def test_no_example_sends_placeholder_text():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'message="..."' not in text
