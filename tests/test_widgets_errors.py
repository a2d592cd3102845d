"""What the panels show when something goes wrong, and what a notebook keeps of a
campaign's progress bar once it is saved."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from smsframe import SmsClient
from smsframe.codes import decode
from smsframe.errors import OutcomeUnknown
from smsframe.widgets import BalancePanel


@pytest.mark.parametrize("password", ["wrong", "用户", "错误"])
def test_a_refused_account_shows_the_providers_words_intact(sim, password):
    # A wrong password that is a word of the provider's own message for -3.
    client = SmsClient(sim.wsdl_url, 101, "demo", password)
    panel = BalancePanel(client)
    try:
        meaning = decode("GetBalance", -3)
        assert meaning.en in panel.error and meaning.zh in panel.error
        assert "***" not in panel.error
        assert "reading the balance" not in panel.figures.value  # one state at a time
        assert "Could not read the balance" in panel.status.value
    finally:
        panel.close()


def test_a_password_in_words_from_elsewhere_is_still_masked(sim):
    client = SmsClient(sim.wsdl_url, 101, "demo", "p4ss-Word-77")
    sim.inject("GetBalance", "http500", times=1)
    panel = BalancePanel(client)
    try:
        assert "HTTP 500" in panel.error and "p4ss-Word-77" not in panel.status.value
    finally:
        panel.close()


@pytest.mark.parametrize(("fault", "password"), [("state-9", "data"), ("state-9", "数据")])
def test_a_providers_code_quoted_in_another_error_is_intact(sim, fault, password):
    # -9 is no refusal of the account: the client says it in a ProviderUnavailable.
    sim.update_account(101, password=password)
    sim.inject("GetBalance", fault, times=1)
    panel = BalancePanel(SmsClient(sim.wsdl_url, 101, "demo", password))
    try:
        assert panel.error.startswith(f"GetBalance: {decode('GetBalance', -9)}; "), panel.error
        assert "***" not in panel.error
        assert "reading the balance" not in panel.figures.value
        panel.refresh()  # the account is fine: the figures replace the error
        assert panel.error == "" and "Balance" in panel.figures.value
        assert "Could not read" not in panel.status.value
    finally:
        panel.close()


class Echoing(SmsClient):
    """A provider whose error quotes the request back, password included."""

    def balance(self):
        raise OutcomeUnknown(
            f"GetBalance: {decode('GetBalance', -9)}; it answered <Psw>data</Psw> data"
        )


def test_a_password_quoted_beside_the_providers_words_is_masked(sim):
    panel = BalancePanel(Echoing(sim.wsdl_url, 101, "demo", "data"))
    try:
        assert panel.error == (
            f"GetBalance: {decode('GetBalance', -9)}; it answered <Psw>********</Psw> ********"
        )
    finally:
        panel.close()


@pytest.mark.parametrize(
    "password",
    [str(decode("GetBalance", -9)), "-9: the provider", "data (接收数据失败)"],
)
def test_a_password_that_starts_or_ends_a_code_text_stays_masked(sim, password):
    # The code text is put back only where the masked phrase is whole, its first and
    # last characters included: never in place of a password quoted on its own.
    class Quoting(SmsClient):
        def balance(self):
            raise RuntimeError(f"<Psw>{password}</Psw>; GetBalance: {decode('GetBalance', -9)}")

    panel = BalancePanel(Quoting(sim.wsdl_url, 101, "demo", password))
    try:
        assert password not in panel.error
        assert panel.error.startswith("unexpected error (RuntimeError): <Psw>********</Psw>; ")
    finally:
        panel.close()


CELL = """\
import pandas as pd, smsframe
from smsframe.simulator import Simulator
sim = Simulator().start()
sim.add_account(101, "demo", "secret", balance=1000)
client = smsframe.SmsClient(sim.wsdl_url, 101, "demo", "secret")
df = pd.DataFrame({"phone": [f"139{i:08d}" for i in range(20)]})
out = df.sms.send(client, "hi", campaign="c", chunk_size=5, journal=JOURNAL)
sim.stop()
"""


def test_a_saved_notebook_shows_the_progress_bars_final_count(tmp_path):
    notebook = nbformat.v4.new_notebook()
    journal = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    notebook.cells = [nbformat.v4.new_code_cell(CELL.replace("JOURNAL", repr(journal)))]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    shown = [
        output["data"]["text/plain"]
        for output in notebook.cells[0].outputs
        if "text/plain" in output.get("data", {})
    ]
    assert any("20/20" in text for text in shown), shown
    assert not any(" 0/20" in text for text in shown), shown
