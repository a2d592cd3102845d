"""Notebook panels: :class:`BalancePanel` and :class:`SchedulePanel` (ipywidgets).

Thin shells: the figures come from :class:`~smsframe.client.SmsClient`, the
preview from :func:`smsframe.plan.build`, scheduling from
:meth:`smsframe.plan.Plan.send` and the upcoming batches from
:meth:`smsframe.journal.Journal.scheduled`. The panels only lay out what those
return. An error is shown inside the panel in plain words (never a traceback)
and the panel keeps working. No panel ever shows the account's password.

Examples
--------
>>> from smsframe.widgets import BalancePanel, SchedulePanel
>>> BalancePanel(client, warn_below=500)                       # last line of a cell
<BalancePanel account 101: balance=...>
>>> panel = df.sms.schedule_panel(client, message="明早十点开抢", campaign="flash-sale")
>>> panel                                                       # pick a time, Schedule
<SchedulePanel campaign 'flash-sale', 4 rows, at ... China Standard Time>
>>> panel.ask(); panel.confirm()                                # what the buttons do
>>> panel.result["sms_status"].tolist()                         # the per-row outcomes
['scheduled', 'scheduled', 'rejected', 'scheduled']
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from datetime import date, datetime, time, timedelta
from html import escape

import ipywidgets as widgets
import pandas as pd

from smsframe import plan as _plan
from smsframe.client import Balance, SmsClient
from smsframe.codes import CHINA, CODES, decode
from smsframe.errors import (
    AccountError,
    CampaignBusy,
    CampaignMismatch,
    InsufficientBalance,
    SmsError,
    UsageError,
)
from smsframe.journal import Journal
from smsframe.options import DEFAULT_MARGIN, PlanOptions, RunOptions

__all__ = ["BalancePanel", "SchedulePanel"]

log = logging.getLogger("smsframe.widgets")

ZONE = "China Standard Time"
ZONE_NOTE = "China Standard Time (Asia/Shanghai, UTC+8), the provider's clock"
NO_CANCEL = "A scheduled batch cannot be cancelled: the provider has no way to cancel it."
TIME_FORMAT = "%Y-%m-%d %H:%M"

_STYLE = {
    "error": "color:#a40000;background:#fdecea;border:1px solid #f5c2c0;padding:4px 8px",
    "warning": "color:#7a4a00;background:#fff4e5;border:1px solid #ffd8a8;padding:4px 8px",
    "ok": "color:#1e5e20;background:#edf7ed;border:1px solid #b7dfb9;padding:4px 8px",
    "info": "color:var(--jp-ui-font-color1, #333);padding:2px 0",
}


def _note(kind: str, text: str) -> str:
    """``text`` (plain, escaped here) in a coloured box."""
    return f'<div style="{_STYLE[kind]}">{escape(text)}</div>'


def _table(rows: list[tuple[str, object]], caption: str = "") -> str:
    cells = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{escape(str(k))}</th>'
        f'<td style="text-align:right">{escape(str(v))}</td></tr>'
        for k, v in rows
    )
    head = f'<caption style="text-align:left">{escape(caption)}</caption>' if caption else ""
    return f"<table>{head}{cells}</table>"


# Errors worded by smsframe alone (the code table, the plan's figures): no password can
# be in them, and masking the password's text would mangle words it happens to be in.
_OUR_WORDS = (AccountError, InsufficientBalance, CampaignBusy, CampaignMismatch, UsageError)
# The provider's code table ("-9: the provider failed to receive the data (接收数据失败)"),
# as the client quotes it in its other errors: ours too, longest first.
_CODE_TEXTS = sorted({str(code) for code in CODES.values()}, key=len, reverse=True)


def _scrub(text: str, client: SmsClient) -> str:
    """``client.scrub(text)``, but a code-table text that the masking cut into (the
    password is one of its words: "data", "数据") is put back as the table has it.

    Only where the masked text holds the whole masked phrase, from its first character
    to its last: what comes back is the table's own text, character for character,
    never a password quoted from elsewhere."""
    masked = client.scrub(text)
    if masked == text:
        return masked
    for phrase in _CODE_TEXTS:
        cut = client.scrub(phrase)
        if cut != phrase and cut[0] == phrase[0] and cut[-1] == phrase[-1]:
            masked = masked.replace(cut, phrase)
    return masked


def _plain(error: BaseException, client: SmsClient | None = None) -> str:
    """An error as one line of plain words, any password in it masked; never a traceback."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    if client is not None and not isinstance(error, _OUR_WORDS):
        text = _scrub(text, client)
    log.debug("shown in a panel: %s: %s", type(error).__name__, text)  # no traceback either
    if isinstance(error, SmsError | ValueError | TypeError | KeyError):
        return text
    return f"unexpected error ({type(error).__name__}): {text}"


def _china(value: datetime) -> datetime:
    """``value`` as an aware Asia/Shanghai time (naive means China Standard Time)."""
    return value.replace(tzinfo=CHINA) if value.tzinfo is None else value.astimezone(CHINA)


def _close_tree(widget: widgets.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


class _Panel(widgets.VBox):
    """A VBox that closes its whole tree; displays as a widget in JupyterLab."""

    def close(self) -> None:
        for child in self.children:
            _close_tree(child)
        super().close()

    @property
    def closed(self) -> bool:
        return self.comm is None


class BalancePanel(_Panel):
    """The account's Balance, Sended, Totaled and state, with a Refresh button.

    Parameters
    ----------
    client : the account to watch.
    refresh_every : seconds between automatic refreshes (a background thread that
        stops when the panel is closed, or when "auto-refresh" is unticked).
    warn_below : show a warning when the balance is below this many messages.
    plan : a :class:`~smsframe.plan.Plan`; warn when the balance cannot pay for it.

    Examples
    --------
    >>> from smsframe.widgets import BalancePanel
    >>> panel = BalancePanel(client, refresh_every=30, warn_below=500)
    >>> panel                        # shows the figures, refreshed every 30 s
    <BalancePanel account 101: balance=...>
    >>> panel.close()                # stops refreshing
    >>> BalancePanel(client, plan=df.sms.plan(message="您好"))   # enough for this plan?
    <BalancePanel account 101: balance=...>
    """

    def __init__(
        self,
        client: SmsClient,
        *,
        refresh_every: float | None = None,
        warn_below: int | None = None,
        plan: _plan.Plan | None = None,
    ) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if refresh_every is not None and not (
            isinstance(refresh_every, int | float)
            and not isinstance(refresh_every, bool)
            and refresh_every > 0
        ):
            raise ValueError(
                f"refresh_every must be a number of seconds > 0, got {refresh_every!r}"
            )
        self.client = client
        self.refresh_every = refresh_every
        self.warn_below = warn_below
        self.plan = plan
        self.balance: Balance | None = None  # the last figures read
        self.error = ""  # the last error, in plain words ("" after a good refresh)
        self.updated_at: datetime | None = None

        title = widgets.HTML(
            f"<b>SMS balance</b> · account {client.account_id} ({escape(str(client.name))})"
        )
        self.figures = widgets.HTML(_note("info", "reading the balance…"))
        self.figures.add_class("smsframe-balance-figures")
        self.warning = widgets.HTML("")
        self.warning.add_class("smsframe-balance-warning")
        self.status = widgets.HTML("")
        self.status.add_class("smsframe-balance-status")
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Read the balance again"
        )
        self.refresh_button.add_class("smsframe-balance-refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        controls = [self.refresh_button]
        self.auto_refresh = widgets.Checkbox(
            value=refresh_every is not None,
            description=f"auto-refresh every {refresh_every:g} s" if refresh_every else "",
            indent=False,
            layout=widgets.Layout(
                width="auto", display="flex" if refresh_every is not None else "none"
            ),
        )
        self.auto_refresh.observe(self._toggle_auto, names="value")
        controls.append(self.auto_refresh)
        super().__init__(
            children=[title, self.figures, self.warning, self.status, widgets.HBox(controls)],
            layout=widgets.Layout(border="1px solid #ddd", padding="6px", width="fit-content"),
        )
        self.add_class("smsframe-balance-panel")
        self._busy = threading.Lock()
        self.refresh()
        if refresh_every is not None:
            self._start_auto()

    def __repr__(self) -> str:
        figures = f"balance={self.balance.balance}" if self.balance else "balance unknown"
        return f"<BalancePanel account {self.client.account_id}: {figures}>"

    # -- refreshing ------------------------------------------------------------
    def refresh(self) -> None:
        """Read the balance now; an error is shown in the panel, never raised."""
        if self.closed or not self._busy.acquire(blocking=False):
            return  # a refresh is already running
        try:
            self.refresh_button.disabled = True
            try:
                balance = self.client.balance()
            except Exception as error:
                self.error = _plain(error, self.client)
                if self.balance is None:  # no figures yet: not "reading" any more either
                    self.figures.value = ""
                since = (
                    f" The figures shown are from {self.updated_at:%H:%M:%S}."
                    if self.updated_at
                    else ""
                )
                self.status.value = _note(
                    "error", f"Could not read the balance: {self.error}.{since}"
                )
                return
            self.balance, self.error = balance, ""
            self.updated_at = datetime.now(CHINA)
            self._show(balance)
        finally:
            self.refresh_button.disabled = False
            self._busy.release()

    def _show(self, balance: Balance) -> None:
        code = decode("GetBalance", balance.state)
        self.figures.value = _table(
            [
                ("Balance", f"{balance.balance:,}"),
                ("Sended", f"{balance.sent:,}"),
                ("Totaled", f"{balance.total:,}"),
                ("Account state", f"{balance.state}: {code.en} ({code.zh})"),
            ]
        )
        warnings_ = []
        if self.warn_below is not None and balance.balance < self.warn_below:
            warnings_.append(
                f"Low balance: {balance.balance:,} messages left (warning below "
                f"{self.warn_below:,}); recharge before the next campaign."
            )
        if self.plan is not None:
            check = _plan.BalanceCheck(self.plan.cost, balance.balance)
            if check.enough:
                plan_note = _note(
                    "ok", f"The plan costs at most {check.cost:,} messages: the balance is enough."
                )
            else:
                warnings_.append(
                    f"The plan costs at most {check.cost:,} messages: short by "
                    f"{check.cost - check.balance:,}; recharge or send to fewer recipients."
                )
                plan_note = ""
        else:
            plan_note = ""
        self.warning.value = "".join(_note("warning", w) for w in warnings_) + plan_note
        self.status.value = _note("info", f"Updated {self.updated_at:%Y-%m-%d %H:%M:%S} {ZONE}.")

    # -- auto-refresh ----------------------------------------------------------
    def _start_auto(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_auto_refresh,
            args=(weakref.ref(self), self._stop, float(self.refresh_every)),
            name="smsframe-balance-refresh",
            daemon=True,
        )
        self._thread.start()

    def _stop_auto(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1)  # a refresh in flight finishes on its own

    def _toggle_auto(self, change: dict) -> None:
        if change["new"] and self.refresh_every is not None and not self.closed:
            self._start_auto()
        else:
            self._stop_auto()

    @property
    def auto_refreshing(self) -> bool:
        """Whether the auto-refresh thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop auto-refresh and remove the panel from the notebook."""
        self._stop_auto()
        super().close()


def _auto_refresh(panel_ref: weakref.ref, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        panel = panel_ref()
        if panel is None or panel.closed:
            return
        panel.refresh()
        del panel


class SchedulePanel(_Panel):
    """Schedule a campaign from a notebook: pick a date and a time (China Standard
    Time), see the plan update, press Schedule and confirm.

    Parameters
    ----------
    client : the account that sends.
    df : the contacts.
    message : the message, a constant or a ``{column}`` template (editable in the panel).
    phone : the column of phone numbers.
    campaign : the campaign's name in the journal (editable); each number is
        scheduled once per campaign name.
    journal : a :class:`~smsframe.journal.Journal` or its URL (default: the SQLite
        journal of this user: :func:`smsframe.journal.default_url`).
    at : the time shown at first (default: tomorrow 10:00 China Standard Time).
    chunk_size, region, keywords, margin : as :class:`smsframe.options.PlanOptions`.
    workers : as :class:`smsframe.options.RunOptions`.

    After scheduling, the per-row outcomes are in ``panel.result``.

    Examples
    --------
    >>> from smsframe.widgets import SchedulePanel
    >>> panel = SchedulePanel(client, df, message="明早十点开抢", campaign="flash-sale")
    >>> panel                                          # pick a time, press Schedule
    <SchedulePanel campaign 'flash-sale', 4 rows, at ... China Standard Time>
    >>> panel.ask(); panel.confirm()                   # what Schedule, then Confirm, do
    >>> panel.result["sms_status"].tolist()            # once scheduled
    ['scheduled', 'scheduled', 'rejected', 'scheduled']
    """

    def __init__(
        self,
        client: SmsClient,
        df: pd.DataFrame,
        *,
        message: str,
        phone: str = "phone",
        campaign: str,
        journal: Journal | str | None = None,
        at: datetime | None = None,
        chunk_size: int = 100,
        region: str = "CN",
        keywords: list[str] | None = None,
        margin: timedelta = DEFAULT_MARGIN,
        workers: int = 4,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a DataFrame, got {type(df).__name__}")
        self.client = client
        self.df = df
        self.phone = phone
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)
        self.result: pd.DataFrame | None = None  # the per-row outcomes of the last run
        self.plan: _plan.Plan | None = None  # the plan previewed
        self.balance: Balance | None = None
        self.error = ""  # the last error, in plain words
        self.running = False
        # Validated now: a bad option is an error here, not in the panel later.
        self._options = PlanOptions(phone, region, chunk_size, keywords, margin=margin)
        self._workers = RunOptions(workers=workers).workers

        start = _china(at) if at is not None else _tomorrow_at_ten()
        self.message_input = widgets.Textarea(
            value=message,
            description="Message",
            continuous_update=False,
            layout=widgets.Layout(width="36em", height="4.5em"),
        )
        self.campaign_input = widgets.Text(
            value=campaign,
            description="Campaign",
            continuous_update=False,
            tooltip="each number is scheduled once per campaign name",
        )
        self.date_picker = widgets.DatePicker(value=start.date(), description="Date")
        self.date_picker.add_class("smsframe-schedule-date")
        self.time_picker = widgets.TimePicker(
            value=start.time().replace(second=0, microsecond=0, tzinfo=None), step=60
        )
        self.time_picker.add_class("smsframe-schedule-time")
        zone = widgets.HTML(f"<span title='naive times are China Standard Time'>{ZONE_NOTE}</span>")
        self.preview = widgets.HTML("")
        self.preview.add_class("smsframe-schedule-preview")
        self.schedule_button = widgets.Button(
            description="Schedule…",
            button_style="primary",
            icon="clock-o",
            tooltip="asks for confirmation first",
        )
        self.schedule_button.add_class("smsframe-schedule-button")
        self.confirm_text = widgets.HTML("")
        self.confirm_button = widgets.Button(description="Yes, schedule", button_style="danger")
        self.confirm_button.add_class("smsframe-schedule-confirm")
        self.cancel_button = widgets.Button(description="Cancel")
        self.cancel_button.add_class("smsframe-schedule-cancel")
        self.confirm_box = widgets.VBox(
            [self.confirm_text, widgets.HBox([self.confirm_button, self.cancel_button])],
            layout=widgets.Layout(display="none", border="1px solid #f5c2c0", padding="4px"),
        )
        self.confirm_box.add_class("smsframe-schedule-confirmation")
        self.status = widgets.HTML("")
        self.status.add_class("smsframe-schedule-status")
        self.summary = widgets.HTML("")
        self.summary.add_class("smsframe-schedule-summary")
        self.upcoming = widgets.HTML("")
        self.upcoming.add_class("smsframe-schedule-upcoming")
        self.upcoming_button = widgets.Button(description="Refresh list", icon="refresh")

        self.schedule_button.on_click(lambda _: self.ask())
        self.confirm_button.on_click(lambda _: self.confirm())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.upcoming_button.on_click(lambda _: self.show_upcoming())
        for control in (self.message_input, self.date_picker, self.time_picker):
            control.observe(self._changed, names="value")
        self.campaign_input.observe(self._changed, names="value")

        super().__init__(
            children=[
                widgets.HTML("<b>Schedule a campaign</b>"),
                self.message_input,
                self.campaign_input,
                widgets.HBox([self.date_picker, self.time_picker]),
                zone,
                self.preview,
                self.schedule_button,
                self.confirm_box,
                self.status,
                self.summary,
                widgets.HTML("<b>Upcoming scheduled batches</b> (from the journal)"),
                self.upcoming,
                self.upcoming_button,
            ],
            layout=widgets.Layout(border="1px solid #ddd", padding="6px", width="fit-content"),
        )
        self.add_class("smsframe-schedule-panel")
        self._read_balance()
        self.update_preview()
        self.show_upcoming()

    def __repr__(self) -> str:
        return (
            f"<SchedulePanel campaign {self.campaign_input.value!r}, {len(self.df)} rows, "
            f"at {self._at_text()}>"
        )

    # -- what is on screen -----------------------------------------------------
    @property
    def at(self) -> datetime | None:
        """The picked time, aware, in Asia/Shanghai (None until both are picked)."""
        day, clock = self.date_picker.value, self.time_picker.value
        if not isinstance(day, date) or not isinstance(clock, time):
            return None
        return datetime.combine(day, clock.replace(tzinfo=None), tzinfo=CHINA)

    def _at_text(self) -> str:
        at = self.at
        return f"{at:{TIME_FORMAT}} {ZONE}" if at else "no time picked"

    def _changed(self, _change: dict) -> None:
        self._hide_confirmation()
        self.update_preview()

    def _read_balance(self) -> None:
        try:
            self.balance = self.client.balance()
        except Exception as error:
            self.balance = None
            self._balance_error = _plain(error, self.client)
        else:
            self._balance_error = ""

    def _plan_for(self, at: datetime) -> _plan.Plan:
        return _plan.build(self.df, self.message_input.value, self._options.replace(at=at))

    def update_preview(self) -> None:
        """Plan the campaign for the picked time and show it."""
        at = self.at
        if at is None:
            self.plan = None
            self.preview.value = _note("warning", "Pick a date and a time.")
            self.schedule_button.disabled = True
            return
        try:
            self.plan = self._plan_for(at)
        except Exception as error:
            self.plan = None
            self.preview.value = _note(
                "error", f"Cannot plan this campaign: {_plain(error, self.client)}"
            )
            self.schedule_button.disabled = True
            return
        if self.balance is None:
            self._read_balance()
        self.preview.value = self._preview_html(self.plan, at)
        self.schedule_button.disabled = bool(self.running or self.plan.summary()["recipients"] == 0)

    def _preview_html(self, plan: _plan.Plan, at: datetime) -> str:
        s = plan.summary()
        parts = sorted(set(plan.calls["parts"])) if len(plan.calls) else []
        rows = [
            ("Rows", f"{s['rows']:,}"),
            ("Recipients", f"{s['recipients']:,}"),
            ("Rejected", f"{s['rejected']:,}"),
            ("Calls", f"{s['calls']:,}"),
            (
                "SMS parts per message",
                "–".join(map(str, dict.fromkeys((parts[0], parts[-1])))) if parts else "–",
            ),
            ("Cost (messages, at most)", f"{s['cost']:,}"),
        ]
        notes = []
        if self.balance is not None:
            check = _plan.BalanceCheck(plan.cost, self.balance.balance)
            rows.append(("Balance", f"{check.balance:,}"))
            if not check.enough:
                notes.append(
                    _note(
                        "warning",
                        f"The balance is short by {check.cost - check.balance:,} messages: "
                        "recharge, or nothing will be scheduled.",
                    )
                )
        else:
            notes.append(_note("warning", f"Balance unknown: {self._balance_error}"))
        rejected = plan.rejected()
        reasons = ""
        if len(rejected):
            reasons = _table(
                [
                    (f"{reason}: {_plan.REASON_TEXT.get(reason, reason)}", f"{n:,}")
                    for reason, n in rejected.items()
                ],
                caption="Rejected by reason",
            )
        if s["recipients"] == 0:
            notes.append(_note("warning", "Nothing to schedule: every row is rejected."))
        head = f"<div>Plan for <b>{at:{TIME_FORMAT}}</b> {ZONE}</div>"
        return head + _table(rows) + reasons + "".join(notes)

    # -- scheduling ------------------------------------------------------------
    def ask(self) -> None:
        """Step 1 of the Schedule button: show what will happen and ask to confirm."""
        if self.running:
            return
        self.update_preview()
        if self.plan is None or self.schedule_button.disabled:
            return
        s = self.plan.summary()
        self.confirm_text.value = (
            f"<div><b>Schedule {s['recipients']:,} recipients</b> in {s['calls']:,} calls "
            f"for <b>{self._at_text()}</b>, at most {s['cost']:,} messages charged, as "
            f"campaign <b>{escape(self.campaign_input.value)}</b>?</div>"
            + _note("warning", NO_CANCEL)
        )
        self.confirm_box.layout.display = "flex"
        self.status.value = ""

    def cancel(self) -> None:
        self._hide_confirmation()
        self.status.value = _note("info", "Nothing was scheduled.")

    def _hide_confirmation(self) -> None:
        self.confirm_box.layout.display = "none"

    def confirm(self) -> None:
        """Step 2: schedule (the button stays disabled until it is done)."""
        if self.running or self.confirm_box.layout.display == "none":
            return
        at = self.at
        self._hide_confirmation()
        self.running = True
        self.schedule_button.disabled = True
        self.confirm_button.disabled = True
        self.summary.value = ""
        self.status.value = _note("info", f"Scheduling for {self._at_text()}…")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                plan = self._plan_for(at)  # planned again: the time may be too near now
                result = plan.send(
                    self.client,
                    campaign=self.campaign_input.value,
                    journal=self.journal,
                    progress=False,
                    workers=self._workers,
                )
        except Exception as error:
            self.error = _plain(error, self.client)
            self.status.value = _note("error", f"Nothing was scheduled: {self.error}")
            self._read_balance()
        else:
            self.result, self.error = result, ""
            self._read_balance()
            self.status.value = "".join(_note("warning", str(w.message)) for w in caught)
            self.summary.value = self._summary_html(result, at)
        finally:
            self.running = False
            self.confirm_button.disabled = False
            self.update_preview()
            self.show_upcoming()

    def _summary_html(self, result: pd.DataFrame, at: datetime) -> str:
        status = result["sms_status"].value_counts()
        status = status[status > 0]
        scheduled = int(status.get("scheduled", 0))
        batches = result.loc[result["sms_status"] == "scheduled", "sms_batch_id"].dropna()
        ids = ", ".join(str(int(b)) for b in sorted(batches.unique()))
        trouble = sum(int(status.get(s, 0)) for s in ("failed", "unknown", "skipped"))
        head = (
            f"Campaign {self.campaign_input.value!r}: {scheduled:,} recipients scheduled for "
            f"{at:{TIME_FORMAT}} {ZONE}" + (f" (batch Id {ids})." if ids else ".")
        )
        parts = [_note("warning" if trouble or not scheduled else "ok", head)]
        parts.append(
            _table([(k, f"{int(v):,}") for k, v in status.items()], caption="Rows by status")
        )
        reasons = result.loc[result["sms_status"] != "scheduled", "sms_reason"].value_counts()
        reasons = reasons[reasons > 0]
        if len(reasons):
            parts.append(
                _table([(k, f"{int(v):,}") for k, v in reasons.items()], caption="Not scheduled")
            )
        if status.get("unknown", 0):
            parts.append(
                _note(
                    "warning",
                    f"{int(status['unknown']):,} rows have an unknown outcome: they may have "
                    "been scheduled; check with the provider before scheduling them again.",
                )
            )
        if self.balance is not None:
            parts.append(_note("info", f"Balance now {self.balance.balance:,}."))
        return "".join(parts)

    # -- the journal -------------------------------------------------------------
    def show_upcoming(self) -> None:
        """List the journal's scheduled batches still to go out."""
        try:
            batches = self.journal.scheduled(upcoming=True)
        except Exception as error:
            self.upcoming.value = _note("error", f"Cannot read the journal: {_plain(error)}")
            return
        if batches.empty:
            self.upcoming.value = _note("info", "No upcoming scheduled batches in the journal.")
            return
        shown = batches.assign(
            scheduled_for=batches["scheduled_for"].dt.strftime(TIME_FORMAT),
            batch_id=batches["batch_id"].astype("Int64"),
        ).rename(columns={"scheduled_for": f"scheduled for ({ZONE})", "batch_id": "batch Id"})
        self.upcoming.value = shown.to_html(index=False, border=0)


def _tomorrow_at_ten() -> datetime:
    return datetime.combine(datetime.now(CHINA).date() + timedelta(days=1), time(10), CHINA)
