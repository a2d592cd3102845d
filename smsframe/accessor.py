"""The ``df.sms`` accessor: a thin shell over the modules that do the work.

Importing :mod:`smsframe` registers it. Every method takes the frame, calls a
function that can be used without the accessor, and returns a new frame; the
frame itself is never modified. The modules that send, plan and audit are imported
when a method first needs them, so that ``import smsframe`` stays quick.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from smsframe import message as _message
from smsframe import phones as _phones
from smsframe.errors import raises_usage_errors_short
from smsframe.options import DEFAULT_MARGIN, PlanOptions, RunOptions
from smsframe.outcomes import refuse_output_columns

if TYPE_CHECKING:
    from smsframe.audits import Audit
    from smsframe.client import SmsClient
    from smsframe.journal import Journal
    from smsframe.plan import Plan
    from smsframe.widgets import SchedulePanel

__all__ = ["SmsAccessor"]


@pd.api.extensions.register_dataframe_accessor("sms")
class SmsAccessor:
    """SMS campaign tools on a DataFrame of contacts: ``df.sms.normalize()``,
    ``df.sms.render(message)``.

    Examples
    --------
    >>> import pandas as pd
    >>> import smsframe
    >>> contacts = pd.DataFrame(
    ...     {"name": ["王伟", "李娜"], "phone": ["138 0013 8000", "021-62345678"]}
    ... )
    >>> out = contacts.sms.normalize().sms.render("{name}您好，双十一满200减30。")
    >>> out[["sms_phone", "sms_message", "sms_parts", "sms_reason"]]
         sms_phone       sms_message  sms_parts  sms_reason
    0  13800138000  王伟您好，双十一满200减30。          1         NaN
    1          NaN  李娜您好，双十一满200减30。          1  not_mobile
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._obj = frame

    @raises_usage_errors_short
    def normalize(
        self, phone: str = "phone", region: str = "CN", dedupe: bool = True
    ) -> pd.DataFrame:
        """The frame plus ``sms_phone``, ``sms_e164``, ``sms_reason`` from its
        ``phone`` column: see :func:`smsframe.phones.normalize`. A frame that has
        columns of those names already is refused: input columns are never overwritten."""
        refuse_output_columns(self._obj)
        return _phones.normalize_frame(self._obj, phone, region, dedupe=dedupe)

    @raises_usage_errors_short
    def render(self, message: str, keywords: Iterable[str] | str | None = None) -> pd.DataFrame:
        """The frame plus ``sms_message``, ``sms_parts``, ``sms_reason``,
        ``sms_detail``: see :func:`smsframe.message.render_frame`."""
        return _message.render_frame(self._obj, message, keywords=keywords)

    @raises_usage_errors_short
    def plan(
        self,
        message: str,
        *,
        phone: str = "phone",
        region: str = "CN",
        chunk_size: int = 100,
        keywords: Iterable[str] | str | Path | None = None,
        ext: object = None,
        at: object = None,
        margin: timedelta = DEFAULT_MARGIN,
        cap: object = None,
        quiet_hours: object = None,
        journal: Journal | str | Path | None = None,
        campaign: str | None = None,
    ) -> Plan:
        """What a campaign would send, before sending: a :class:`~smsframe.plan.Plan`.

        Nothing is sent and no client is needed. Look at it, then send exactly it
        with ``plan.send(client, campaign=...)``.

        Parameters
        ----------
        message : str
            The text, or a template filled from the row's columns: ``"您好{name}"``.
        phone : str, default "phone"
            The column of phone numbers.
        region : str, default "CN"
            Where numbers without a country code are from (ISO 3166 code).
        chunk_size : int, default 100
            Numbers per provider call, 1 to 1000.
        keywords : list of str, or the path of a text file with one word per line
            Banned words: a row whose message contains one is rejected.
        ext : str or int, optional
            An extension number (1-6 digits) for every row, or the name of a column.
        at : datetime or str, optional
            Plan a schedule for this time (naive means China Standard Time), a text
            such as ``"2030-01-01 09:00"``, or the name of a column of times.
        margin : timedelta, default 2 minutes
            A schedule time must be at least this far in the future.
        cap : (int, str) or list of them, optional
            Frequency caps across campaigns: ``cap=(3, "7D")`` rejects (``capped``) a row
            whose number had 3 messages within 7 days in the journal, any campaign.
        quiet_hours : (str, str), str or False, optional
            China Standard Time clock times between which nothing goes out, e.g.
            ``("21:00", "08:00")``: schedule times inside them are rejected
            (``quiet_hours``), and sending inside them is refused. Default
            ``$SMSFRAME_QUIET_HOURS``, else off.
        journal : Journal, str or Path, optional
            The journal whose suppression list and history the plan reads (rows it
            suppresses are rejected ``suppressed``); default the user's journal, if any.
        campaign : str, optional
            The campaign this plan is for: its own messages do not count toward a cap.

        Returns
        -------
        Plan
            ``rows`` (the frame plus ``sms_*`` columns, status pending or rejected),
            ``calls``, ``summary()``, ``cost``, ``rejected()``, ``check(client)``.

        Examples
        --------
        >>> plan = df.sms.plan(message="您好{name}，双十一满200减30")
        >>> plan.summary()
        rows          4
        recipients    3
        rejected      1
        calls         3
        parts         3
        cost          3
        Name: plan, dtype: int64
        >>> out = plan.send(client, campaign="nov-sale", progress=False)
        """
        from smsframe.plan import build
        from smsframe.suppression import readable

        options = PlanOptions(
            phone, region, chunk_size, keywords, ext, at, margin, cap, quiet_hours
        )
        with readable(journal) as history:
            return build(self._obj, message, options, journal=history, campaign=campaign)

    @raises_usage_errors_short
    def send(
        self,
        client: SmsClient,
        message: str,
        *,
        campaign: str,
        phone: str = "phone",
        region: str = "CN",
        chunk_size: int = 100,
        keywords: Iterable[str] | str | Path | None = None,
        ext: object = None,
        cap: object = None,
        quiet_hours: object = None,
        schedule_if_quiet: bool = False,
        journal: Journal | str | Path | None = None,
        workers: int = 4,
        progress: bool = True,
        resend_unknown: bool = False,
        extend: bool = False,
    ) -> pd.DataFrame:
        """Send ``message`` to every row and write per-row outcomes back.

        Exactly once: every call is recorded in the journal before it is made, and a
        re-run of the same ``campaign`` sends nothing twice (it sends only what is
        left, and returns every row's recorded outcome).

        Parameters
        ----------
        client : SmsClient
            The provider's account.
        message : str
            The text, or a template filled from the row's columns: ``"您好{name}"``.
        campaign : str
            The campaign's name, bound to its content: a re-run with other content
            raises :class:`~smsframe.CampaignMismatch` (see ``extend``).
        phone, region, chunk_size, keywords, ext, cap, quiet_hours
            As :meth:`plan`. Numbers on the journal's suppression list are never sent
            to (``suppressed``); a cap does not count this campaign's own messages.
        schedule_if_quiet : bool, default False
            Inside the quiet hours, schedule the campaign for when they end (SendTimer)
            instead of raising :class:`~smsframe.errors.QuietHoursError`.
        journal : Journal, str or Path, optional
            Where every call is recorded: a Journal, a SQLAlchemy URL or a file path;
            default the user's journal (``smsframe.journal.default_url()``).
        workers : int, default 4
            Calls in flight at once.
        progress : bool, default True
            Show a progress bar.
        resend_unknown : bool, default False
            Send again the rows whose earlier call may or may not have gone out.
        extend : bool, default False
            Accept other content than the campaign was sent with, for the rows it
            never attempted.

        Returns
        -------
        DataFrame
            A new frame, same index, input columns untouched, plus ``sms_status``
            (sent, failed, rejected, unknown, skipped), ``sms_reason``, ``sms_detail``,
            ``sms_state``, ``sms_batch_id``, ``sms_sent_at``...

        Raises
        ------
        AccountError, InsufficientBalance, CampaignBusy, CampaignMismatch, QuietHoursError
            Before anything is sent.
        CampaignInterrupted, ProviderUnavailable, JournalError
            A campaign that stopped midway, once stopped cleanly: ``error.result``
            holds every row; run it again with the same name to send the rest.

        Examples
        --------
        >>> out = df.sms.send(client, message="您好{name}，双十一优惠", campaign="nov-offer")
        >>> out[["sms_phone", "sms_status", "sms_reason"]]
             sms_phone sms_status  sms_reason
        0  13800138000       sent         NaN
        1  13912345678       sent         NaN
        2          NaN   rejected  not_mobile
        3  13700137000       sent         NaN
        """
        options = PlanOptions(
            phone, region, chunk_size, keywords, ext, cap=cap, quiet_hours=quiet_hours
        )
        run = RunOptions(journal, workers, progress, resend_unknown, extend, schedule_if_quiet)
        return _execute(self._obj, message, client, campaign, options, run)

    @raises_usage_errors_short
    def schedule(
        self,
        client: SmsClient,
        message: str,
        *,
        at: object,
        campaign: str,
        phone: str = "phone",
        region: str = "CN",
        chunk_size: int = 100,
        keywords: Iterable[str] | str | Path | None = None,
        margin: timedelta = DEFAULT_MARGIN,
        ext: object = None,
        cap: object = None,
        quiet_hours: object = None,
        journal: Journal | str | Path | None = None,
        workers: int = 4,
        progress: bool = True,
        resend_unknown: bool = False,
        extend: bool = False,
    ) -> pd.DataFrame:
        """Schedule ``message`` for ``at``; **a scheduled batch cannot be cancelled**
        (the provider has no operation for it).

        Parameters
        ----------
        client, message, campaign
            As :meth:`send`.
        at : datetime, str or column name
            One time for every row (a naive datetime means China Standard Time, the
            provider's clock; an aware one is converted), a text such as
            ``"2030-01-01 09:00"``, or the name of a column of times (rows are grouped
            by time). Times in the past or closer than ``margin`` are rejected per row.
        margin : timedelta, default 2 minutes
            A schedule time must be at least this far in the future.
        ext : None
            Refused with a ValueError: the provider cannot schedule with an extension.
        phone, region, chunk_size, keywords, cap, quiet_hours, journal, workers,
        progress, resend_unknown, extend
            As :meth:`send`; a time inside the quiet hours rejects its row.

        Returns
        -------
        DataFrame
            As :meth:`send`, status ``scheduled``, plus ``sms_scheduled_for``
            (Asia/Shanghai).

        Examples
        --------
        >>> from datetime import datetime
        >>> out = df.sms.schedule(
        ...     client, message="明早九点开抢", at=datetime(2030, 1, 1, 9), campaign="jan"
        ... )
        """
        options = PlanOptions(
            phone, region, chunk_size, keywords, ext, at, margin, cap, quiet_hours
        )
        run = RunOptions(journal, workers, progress, resend_unknown, extend)
        return _execute(self._obj, message, client, campaign, options, run)

    def schedule_panel(self, client: SmsClient, message: str, **options) -> SchedulePanel:
        """A panel to schedule this frame: see :class:`smsframe.widgets.SchedulePanel`.

        >>> df.sms.schedule_panel(client, message="明早见", campaign="jan")
        <SchedulePanel campaign 'jan', 4 rows, at ... China Standard Time>
        """
        from smsframe.widgets import SchedulePanel  # ipywidgets only when a panel is made

        return SchedulePanel(client, self._obj, message=message, **options)

    @raises_usage_errors_short
    def audit(self, by: str | list[str] | None = None, **options) -> Audit:
        """What this result frame's campaign did and why: see :func:`smsframe.audits.from_frame`.

        >>> audit = out.sms.audit(by="segment")
        >>> audit.status
                  count  share
        status
        sent          3   0.75
        rejected      1   0.25
        """
        from smsframe.audits import from_frame

        return from_frame(self._obj, by=by, **options)


def _execute(
    df: pd.DataFrame,
    message: str,
    client: SmsClient,
    campaign: str,
    options: PlanOptions,
    run: RunOptions,
) -> pd.DataFrame:
    """Plan and run a campaign, the account's balance fetched while the plan is made."""
    from smsframe.campaign import balance_soon, check_name, execute
    from smsframe.plan import build

    check_name(campaign)
    balance = balance_soon(client)
    plan = build(df, message, options)
    return execute(plan, client, campaign=campaign, options=run, balance=balance)
