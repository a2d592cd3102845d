"""BalancePanel and SchedulePanel driven from Python against a real simulator.

The panels are built as a notebook would build them, their buttons clicked and
their pickers set; the tests assert what the panels show (the text of their
widgets) and what the simulator received.
"""

from __future__ import annotations

import re
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from frames import contacts
from ipywidgets import Widget

import smsframe
from smsframe import BalancePanel, SchedulePanel, SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

CHINA = "Asia/Shanghai"
ACCOUNT_ID, NAME, PASSWORD = 101, "demo", "Wdg-s3cret-pw"
MESSAGE = "【smsframe】周五上午十点开抢，回T退订"

pytestmark = [
    pytest.mark.sim((ACCOUNT_ID, NAME, PASSWORD), balance=1000),
    pytest.mark.sms_client(timeout=5, operation_timeout=5),
]


@pytest.fixture
def journal(tmp_path):
    return f"sqlite:///{tmp_path / 'journal.sqlite'}"


@pytest.fixture
def panels():
    """Every panel a test makes is closed afterwards (stopping any auto-refresh)."""
    made: list[Widget] = []
    yield made
    for panel in made:
        panel.close()


@pytest.fixture
def address_book() -> pd.DataFrame:
    """Seven contacts as people type them: five mobiles, a landline, a word."""
    return contacts(
        7,
        name=["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵强"],
        phone=[
            "138 0013 8000",
            "+86 139-0000-0001",
            "13700000002",
            "15000000003",
            "18600000004",
            "021-62345678",  # a landline
            "hello",
        ],
        index=pd.Index([11, 12, 13, 14, 15, 16, 17], name="contact_id"),
    )


def text(widget: Widget) -> str:
    """Everything a person can read in ``widget`` and its children, tags stripped."""
    found: list[str] = []

    def walk(w: Widget) -> None:
        for name in ("description", "value", "tooltip", "placeholder"):
            value = getattr(w, name, None)
            if isinstance(value, str):
                found.append(value)
        for child in getattr(w, "children", ()):
            walk(child)

    walk(widget)
    return unescape(re.sub(r"<[^>]+>", " ", "\n".join(found)))


def shown(widget: Widget) -> str:
    return re.sub(r"\s+", " ", text(widget))


def assert_plain(panel: Widget) -> None:
    words = text(panel)
    assert PASSWORD not in words
    assert PASSWORD not in repr(panel)
    assert "Traceback" not in words and 'File "' not in words


def later(days: int = 3, hour: int = 9, minute: int = 30) -> datetime:
    day = datetime.now(ZoneInfo(CHINA)).date()
    return datetime.combine(day + timedelta(days=days), time(hour, minute))


# -- BalancePanel --------------------------------------------------------------
def test_balance_panel_shows_the_figures_and_the_decoded_state(sms_client, panels):
    panel = BalancePanel(sms_client)
    panels.append(panel)
    words = shown(panel)
    assert "Balance 1,000" in words
    assert "Sended 0" in words
    assert "Totaled 1,000" in words
    assert "Account state 101: account OK" in words
    assert "account 101 (demo)" in words
    assert panel.balance.balance == 1000 and panel.error == ""
    assert "smsframe-balance-panel" in panel._dom_classes
    assert_plain(panel)


def test_refresh_shows_the_new_balance_after_a_send(sim, sms_client, panels):
    panel = BalancePanel(sms_client)
    panels.append(panel)
    sms_client.send("您好", ["13800138000", "13900000001", "13700000002"], timestamp=1764000000)
    assert "Balance 1,000" in shown(panel)  # nothing refreshes by itself
    panel.refresh_button.click()
    assert "Balance 997" in shown(panel)
    assert "Sended 3" in shown(panel)
    assert sim.balance(ACCOUNT_ID)["Balance"] == 997


def test_low_balance_warning_and_the_cost_of_a_plan(sms_client, address_book, panels):
    low = BalancePanel(sms_client, warn_below=5000)
    fine = BalancePanel(sms_client, warn_below=10)
    big = pd.DataFrame({"phone": [f"139{i:08d}" for i in range(1200)]})
    short = BalancePanel(sms_client, plan=big.sms.plan(message=MESSAGE))
    enough = BalancePanel(sms_client, plan=address_book.sms.plan(message=MESSAGE))
    panels.extend([low, fine, short, enough])
    assert "Low balance: 1,000 messages left (warning below 5,000)" in shown(low)
    assert "Low balance" not in shown(fine)
    assert "costs at most 1,200 messages: short by 200" in shown(short)
    assert "costs at most 5 messages: the balance is enough" in shown(enough)


def test_a_wrong_password_is_shown_in_plain_words_and_the_panel_recovers(sim, sms_client, panels):
    panel = BalancePanel(sms_client)
    panels.append(panel)
    sim.update_account(ACCOUNT_ID, password="changed-elsewhere")
    panel.refresh_button.click()  # never raises
    words = shown(panel)
    assert "Could not read the balance" in words
    assert "wrong organisation code, account name or password" in words
    assert "The figures shown are from" in words and "Balance 1,000" in words
    assert panel.error and not panel.refresh_button.disabled
    assert_plain(panel)

    sim.update_account(ACCOUNT_ID, password=PASSWORD)
    panel.refresh_button.click()
    assert panel.error == ""
    assert "Could not read" not in shown(panel)
    assert "Updated" in shown(panel)


def test_provider_faults_and_a_provider_that_is_down(sim, sms_client, panels):
    panel = BalancePanel(sms_client)
    panels.append(panel)
    sim.inject("GetBalance", "http500", times=1)
    panel.refresh_button.click()
    assert "Could not read the balance: GetBalance: the provider's answer could not be read" in (
        shown(panel)
    )
    panel.refresh_button.click()
    assert panel.error == "" and "Balance 1,000" in shown(panel)

    sim.stop()
    panel.refresh_button.click()
    assert "cannot reach the provider" in shown(panel)
    assert_plain(panel)


def test_a_panel_for_an_unreachable_provider_still_builds(panels):
    with Simulator() as gone:
        url = gone.wsdl_url
    client = SmsClient(url, ACCOUNT_ID, NAME, PASSWORD, timeout=2)
    panel = BalancePanel(client, warn_below=100)
    panels.append(panel)
    assert "Could not read the balance: could not load the service description" in shown(panel)
    assert panel.balance is None
    assert_plain(panel)


def test_auto_refresh_follows_the_account_and_stops_when_the_panel_is_closed(sim, sms_client):
    panel = BalancePanel(sms_client, refresh_every=0.1)
    try:
        assert panel.auto_refreshing
        sms_client.send("您好", ["13800138000"], timestamp=1764000001)
        deadline = clock.monotonic() + 10
        while "Balance 999" not in shown(panel) and clock.monotonic() < deadline:
            clock.sleep(0.05)
        assert "Balance 999" in shown(panel)
    finally:
        panel.close()
    assert not panel.auto_refreshing and panel.closed
    calls = sim.requests["GetBalance"]
    clock.sleep(0.5)
    assert sim.requests["GetBalance"] == calls


def test_unticking_auto_refresh_stops_it(sim, sms_client, panels):
    panel = BalancePanel(sms_client, refresh_every=0.1)
    panels.append(panel)
    panel.auto_refresh.value = False
    assert not panel.auto_refreshing
    calls = sim.requests["GetBalance"]
    clock.sleep(0.4)
    assert sim.requests["GetBalance"] == calls
    panel.auto_refresh.value = True
    assert panel.auto_refreshing


def test_refresh_every_must_be_positive(sms_client):
    with pytest.raises(ValueError, match="refresh_every"):
        BalancePanel(sms_client, refresh_every=0)


# -- SchedulePanel ---------------------------------------------------------------
def test_the_preview_shows_the_plan_in_china_standard_time(
    sms_client, address_book, journal, panels
):
    at = later()
    panel = SchedulePanel(
        sms_client, address_book, message=MESSAGE, campaign="fri", journal=journal, at=at
    )
    panels.append(panel)
    words = shown(panel)
    assert "China Standard Time (Asia/Shanghai, UTC+8)" in words
    assert f"Plan for {at:%Y-%m-%d %H:%M} China Standard Time" in words
    assert "Recipients 5" in words and "Rejected 2" in words
    assert "Calls 1" in words and "Cost (messages, at most) 5" in words
    assert "Balance 1,000" in words
    assert "not_mobile" in words and "not_a_number" in words
    assert "No upcoming scheduled batches" in words
    assert panel.date_picker.value == at.date() and panel.time_picker.value == at.time()
    assert panel.at == at.replace(tzinfo=ZoneInfo(CHINA))
    assert not panel.schedule_button.disabled

    # A time in the past rejects every row: nothing to schedule.
    panel.date_picker.value = date(2020, 1, 1)
    assert "schedule_in_past" in shown(panel)
    assert "Nothing to schedule" in shown(panel)
    assert panel.schedule_button.disabled
    panel.date_picker.value = None
    assert "Pick a date and a time" in shown(panel) and panel.schedule_button.disabled


def test_an_aware_time_is_shown_in_china_standard_time(sms_client, address_book, journal, panels):
    at = datetime(2031, 3, 1, 1, 15, tzinfo=UTC)
    panel = SchedulePanel(
        sms_client, address_book, message=MESSAGE, campaign="x", journal=journal, at=at
    )
    panels.append(panel)
    assert panel.date_picker.value == date(2031, 3, 1)
    assert panel.time_picker.value == time(9, 15)


def test_schedule_asks_for_confirmation_then_reaches_the_simulator(
    sim, address_book, journal, panels
):
    class WatchedClient(SmsClient):
        """Records whether the Schedule button was disabled during each call."""

        panel: SchedulePanel | None = None
        seen: list[bool] = []  # noqa: RUF012

        def schedule(self, *args, **kwargs):
            self.seen.append(self.panel.schedule_button.disabled)
            return super().schedule(*args, **kwargs)

    client = WatchedClient(sim.wsdl_url, ACCOUNT_ID, NAME, PASSWORD)
    panel = SchedulePanel(client, address_book, message=MESSAGE, campaign="fri", journal=journal)
    client.panel = panel
    panels.append(panel)
    at = later(days=4, hour=9, minute=45)
    panel.date_picker.value = at.date()
    panel.time_picker.value = at.time()

    panel.schedule_button.click()
    assert panel.confirm_box.layout.display == "flex"
    words = shown(panel.confirm_box)
    assert f"Schedule 5 recipients in 1 calls for {at:%Y-%m-%d %H:%M} China Standard Time" in words
    assert "A scheduled batch cannot be cancelled" in words
    assert sim.requests["SendTimer"] == 0

    panel.cancel_button.click()
    assert panel.confirm_box.layout.display == "none"
    assert "Nothing was scheduled" in shown(panel)
    panel.confirm_button.click()  # a stale confirmation does nothing
    assert sim.requests["SendTimer"] == 0 and panel.result is None

    panel.schedule_button.click()
    panel.confirm_button.click()
    assert client.seen == [True]  # disabled while running
    assert not panel.schedule_button.disabled  # and enabled again after

    expected = pd.Timestamp(at, tz=CHINA)
    deliveries = sim.deliveries()
    assert sorted(deliveries["phone"]) == sorted(
        ["13800138000", "13900000001", "13700000002", "15000000003", "18600000004"]
    )
    assert str(deliveries["scheduled_for"].dt.tz) == CHINA
    assert (deliveries["scheduled_for"] == expected).all()
    assert sim.balance(ACCOUNT_ID)["Balance"] == 995

    result = panel.result
    assert result.index.equals(address_book.index)
    assert result["sms_status"].value_counts()[["scheduled", "rejected"]].tolist() == [5, 2]
    assert (result.loc[result["sms_status"] == "scheduled", "sms_scheduled_for"] == expected).all()

    words = shown(panel)
    assert f"'fri': 5 recipients scheduled for {at:%Y-%m-%d %H:%M} China Standard Time" in words
    assert "Balance now 995" in words
    assert "Rows by status scheduled 5 rejected 2" in words
    upcoming = shown(panel.upcoming)
    assert f"fri {at:%Y-%m-%d %H:%M}" in upcoming
    assert "Balance 995" in shown(panel.preview)
    assert_plain(panel)


def test_scheduling_errors_are_shown_and_the_panel_keeps_working(
    sim, address_book, journal, panels
):
    client = SmsClient(sim.wsdl_url, ACCOUNT_ID, NAME, PASSWORD)
    panel = SchedulePanel(client, address_book, message=MESSAGE, campaign="low", journal=journal)
    panels.append(panel)
    # The balance drops below the plan's cost after the panel read it.
    client.send("您好", [f"139{i:08d}" for i in range(997)], timestamp=1764000002)
    panel.schedule_button.click()
    panel.confirm_button.click()
    words = shown(panel)
    assert "Nothing was scheduled: the plan costs 5 messages but the balance is 3" in words
    assert "short by 2" in words  # the preview read the balance again
    assert sim.requests["SendTimer"] == 0 and panel.result is None
    assert_plain(panel)

    sim.recharge(ACCOUNT_ID, 100)
    sim.inject("SendTimer", "drop-after", times=1)  # processed, but no answer
    panel.upcoming_button.click()
    panel.update_preview()
    panel.schedule_button.click()
    panel.confirm_button.click()
    assert (panel.result["sms_status"] == "unknown").sum() == 5
    assert "5 rows have an unknown outcome" in shown(panel.summary)
    assert "Nothing was scheduled" not in shown(panel)
    assert_plain(panel)


def test_a_bad_phone_column_is_an_error_in_the_panel(sms_client, address_book, journal, panels):
    panel = SchedulePanel(
        sms_client, address_book, message=MESSAGE, phone="mobile", campaign="x", journal=journal
    )
    panels.append(panel)
    assert "Cannot plan this campaign" in shown(panel)
    assert "mobile" in shown(panel.preview)
    assert panel.schedule_button.disabled
    panel.schedule_button.click()
    assert panel.confirm_box.layout.display == "none"


def test_upcoming_batches_come_from_the_journal(sim, sms_client, address_book, journal, panels):
    at = later(days=2, hour=8, minute=0)
    address_book.iloc[:2].sms.schedule(
        sms_client, message=MESSAGE, at=at, campaign="earlier", journal=journal, progress=False
    )
    panel = address_book.sms.schedule_panel(
        sms_client, message=MESSAGE, campaign="x", journal=journal
    )
    panels.append(panel)
    assert isinstance(panel, SchedulePanel)
    upcoming = shown(panel.upcoming)
    assert f"earlier {at:%Y-%m-%d %H:%M}" in upcoming
    assert "China Standard Time" in upcoming
    assert len(Journal(journal).scheduled()) == 1


def test_both_panels_display_as_widgets_and_close_their_whole_tree(
    sms_client, address_book, journal
):
    balance = BalancePanel(sms_client)
    schedule = SchedulePanel(
        sms_client, address_book, message=MESSAGE, campaign="x", journal=journal
    )
    for panel in (balance, schedule):
        bundle = panel._repr_mimebundle_()
        view = bundle["application/vnd.jupyter.widget-view+json"]
        assert view["model_id"] == panel.model_id
        assert PASSWORD not in bundle["text/plain"]
        children = list(panel.children)
        panel.close()
        assert panel.closed and all(child.comm is None for child in children)
    assert smsframe.BalancePanel is BalancePanel
