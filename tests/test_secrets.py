"""Secret hygiene over whole campaigns: with DEBUG logging on for every logger, the
password appears in no log record, repr, exception, warning, journal row (the
database file's bytes) or CLI output."""

from __future__ import annotations

import logging
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import pandas as pd
import pytest

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient, SmsError
from smsframe.journal import Journal
from smsframe.simulator import Simulator

PASSWORD = "Pw-7f3a9c-SECRET"
NEW_PASSWORD = "Pw-new-51be-SECRET"
SECRETS = (PASSWORD, NEW_PASSWORD, "7f3a9c", "51be-SECRET")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        if record.exc_info:
            self.texts.append("".join(traceback.format_exception(*record.exc_info)))


@pytest.fixture
def logs():
    handler = Collect()
    root = logging.getLogger()
    names = [
        "",
        "zeep",
        "zeep.transports",
        "urllib3",
        "requests",
        "sqlalchemy",
        "sqlalchemy.engine",
        "smsframe",
        "smsframe.client",
        "smsframe.runner",
    ]
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler.texts
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def exception_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + repr(vars(error))


def test_a_full_campaign_leaks_no_password_anywhere(tmp_path, logs):
    journal_path = tmp_path / "journal.sqlite"
    url = f"sqlite:///{journal_path}"
    texts: list[str] = []
    with Simulator() as sim, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim.add_account(101, "demo", PASSWORD, balance=10_000)
        sim.mark_unreachable(["13600000003"])
        sim.set_keywords(["赌博"])
        client = SmsClient(sim.wsdl_url, 101, "demo", PASSWORD)
        df = pd.DataFrame(
            {
                "name": ["甲", "乙", "丙", "丁"],
                "phone": ["13600000001", "13600000002", "13600000003", "x"],
            }
        )
        plan = df.sms.plan(message="您好{name}")
        texts += [repr(plan), plan._repr_html_(), repr(client), str(client)]
        sim.inject("SendMessage", "drop-after", times=1)
        sim.inject("SendMessage", "http500", times=1)
        out = df.sms.send(client, message="您好{name}", campaign="s", journal=url, progress=False)
        texts += [repr(out), out.to_html(), out.to_csv()]
        scheduled = df.sms.schedule(
            client,
            message="明天见",
            at="2031-01-01 09:00",
            campaign="t",
            journal=url,
            progress=False,
        )
        texts += [scheduled.to_csv(), repr(Journal(url).scheduled())]
        texts.append(
            df.sms.send(client, message="赌博", campaign="k", journal=url, progress=False).to_csv()
        )
        client.update_password(NEW_PASSWORD)
        texts.append(
            df.sms.send(client, message="again", campaign="u", journal=url, progress=False).to_csv()
        )
        for bad in (
            SmsClient(sim.wsdl_url, 101, "demo", PASSWORD),  # the old one: -3
            SmsClient(sim.wsdl_url, 101, "demo", NEW_PASSWORD),
        ):
            sim.inject("GetBalance", "http500", times=1)
            try:
                bad.balance()
                bad.balance()
                df.sms.send(bad, message="x" * 300, campaign="v", journal=url, progress=False)
            except SmsError as error:
                texts.append(exception_text(error))
        texts += [repr(Journal(url).campaign(name)) for name in "stkuv"]
        texts += [str(w.message) for w in caught]
    assert logs, "DEBUG logging captured nothing: the test would prove nothing"
    for text in [*texts, *logs]:
        assert not leaks(text), text[:500]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite*"))
    assert len(stored) > 10_000
    for secret in SECRETS:
        assert secret.encode() not in stored


def test_cli_output_shows_no_password(tmp_path):
    db = tmp_path / "sim.sqlite"
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smsframe.cli",
            "simulator",
            "serve",
            "--db",
            str(db),
            "--account",
            f"101:demo:{PASSWORD}:100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wsdl = serve.stdout.readline().strip()
        client = SmsClient(wsdl, 101, "demo", PASSWORD)
        client.send("hi", ["13600000001"], timestamp=1)
    finally:
        serve.terminate()
        output, errors = serve.communicate(timeout=10)
    deliveries = subprocess.run(
        [sys.executable, "-m", "smsframe.cli", "simulator", "deliveries", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    demo = subprocess.run(
        [sys.executable, "-m", "smsframe.cli", "demo"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    for text in (wsdl, output, errors, deliveries.stdout, deliveries.stderr):
        assert not leaks(text)
    assert "demo-password" not in demo.stdout + demo.stderr
    assert "13600000001" in deliveries.stdout


DB_PASSWORD = "DbPw-0c1d9e-SECRET"


def test_a_database_password_is_in_no_result_file_log_or_traceback(postgres_url, tmp_path, logs):
    """The journal's URL with its password: the result frame keeps it masked (its attrs
    go into Parquet and pickle files); this process still audits with it; a traceback
    with captured locals through smsframe's frames shows neither password."""
    url = postgres_url.replace("smsframe@", f"smsframe:{DB_PASSWORD}@")  # trust ignores it
    secrets = (DB_PASSWORD, PASSWORD)
    df = pd.DataFrame({"phone": ["13600000001", "13600000002"]})
    with Simulator() as sim:
        sim.add_account(101, "demo", PASSWORD, balance=100)
        client = SmsClient(sim.wsdl_url, 101, "demo", PASSWORD)
        out = df.sms.send(client, message="hi", campaign="db-pw", journal=url, progress=False)
        journal = Journal(url)
        wrong = SmsClient(sim.wsdl_url, 101, "demo", "wrong-" + PASSWORD)
        with pytest.raises(SmsError) as refused:
            df.sms.send(wrong, message="hi", campaign="db-pw-2", journal=journal)
    assert out.attrs["smsframe"]["journal"] == journal.where
    assert "***" in journal.where
    audit = out.sms.audit()  # in this process, the masked URL finds its journal
    assert audit.cost.reconciles
    out.to_parquet(tmp_path / "out.parquet")
    out.to_pickle(tmp_path / "out.pickle")
    files = b"".join((tmp_path / name).read_bytes() for name in ("out.parquet", "out.pickle"))
    ours = refused.value.__traceback__
    while ours is not None and "smsframe" not in ours.tb_frame.f_code.co_filename:
        ours = ours.tb_next
    frames = traceback.StackSummary.extract(traceback.walk_tb(ours), capture_locals=True)
    texts = [*logs, "".join(frames.format()), exception_text(refused.value), audit.to_html()]
    for secret in secrets:
        assert secret.encode() not in files
        assert not [text for text in texts if secret in text]
    journal.close()
    # Another process, from the Parquet file alone: a clear error, no password guessed.
    read_back = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pandas as pd, smsframe\n"
            "out = pd.read_parquet(sys.argv[1])\n"
            "try:\n    out.sms.audit()\n"
            "except smsframe.JournalError as error:\n    print(error)\n",
            str(tmp_path / "out.parquet"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "password masked" in read_back.stdout and "journal=" in read_back.stdout
    # The CLI's output and its exports, from the journal with the password in its URL.
    shown = [
        subprocess.run(
            [sys.executable, "-m", "smsframe.cli", *command, "--journal", url],
            capture_output=True,
            text=True,
            check=True,
        )
        for command in (
            ["campaigns"],
            ["audit", "--campaign", "db-pw", "--html", str(tmp_path / "a.html")],
            ["audit", "--campaign", "db-pw", "--csv", str(tmp_path / "csv")],
        )
    ]
    assert "db-pw" in shown[0].stdout and "***" in shown[0].stdout
    exports = [
        (tmp_path / "a.html").read_text(),
        *(p.read_text() for p in (tmp_path / "csv").iterdir()),
    ]
    for text in [*(s.stdout + s.stderr for s in shown), *exports]:
        for secret in secrets:
            assert secret not in text
