"""The examples in smsframe's docstrings run, against the simulator, and show what
they say: docs that run do not rot.

Each example sees its module's names, as ``doctest.testmod`` gives them, and ours:
``pd``, ``smsframe``, ``datetime``, ``timedelta``, a simulator ``sim`` with its
``client``, a contacts frame ``df``, the URL ``url`` of this test's own default
journal, ``out`` (``df`` sent as "nov-promo") and its ``audit``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from datetime import datetime, timedelta

import pandas as pd
import pytest

import smsframe
from smsframe.journal import default_url

MODULES = sorted(
    module.name
    for module in pkgutil.walk_packages(smsframe.__path__, "smsframe.")
    if not module.name.endswith("__main__")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.fixture
def namespace(sim, sms_client, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    url = default_url()  # this test's own (conftest: own_user_data)
    df = pd.DataFrame(
        {
            "name": ["王伟", "李娜", "张敏", "刘洋"],
            "phone": ["138 0013 8000", "+86 139-1234-5678", "021-62345678", "13700137000"],
            "segment": ["vip", "new", "vip", "new"],
        }
    )
    out = df.sms.send(sms_client, "您好{name}", campaign="nov-promo", progress=False)
    return {
        "pd": pd,
        "smsframe": smsframe,
        "datetime": datetime,
        "timedelta": timedelta,
        "sim": sim,
        "client": sms_client,
        "df": df,
        "url": url,
        "out": out,
        "audit": out.sms.audit(by="segment"),
    }


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_run_and_show_what_they_say(name, namespace):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = doctest.DocTestFinder().find(module, name, globs=namespace)
    for test in sorted(tests, key=lambda t: t.name):
        test.globs = {**vars(module), **namespace}  # as doctest.testmod, plus ours
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples of {name} failed (printed above)"
