"""The ``df.sms`` accessor: a thin shell over the modules that do the work.

Importing :mod:`smsframe` registers it. Every method takes the frame, calls a
function that can be used without the accessor, and returns a new frame; the
frame itself is never modified.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from smsframe import campaign as _campaign
from smsframe import message as _message
from smsframe import phones as _phones
from smsframe import plan as _plan
from smsframe import widgets as _widgets
from smsframe.audits import Audit, from_frame
from smsframe.outcomes import refuse_output_columns

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

    def normalize(
        self, phone: str = "phone", region: str = "CN", dedupe: bool = True
    ) -> pd.DataFrame:
        """The frame plus ``sms_phone``, ``sms_e164``, ``sms_reason`` from its
        ``phone`` column: see :func:`smsframe.phones.normalize`. A frame that has
        columns of those names already is refused: input columns are never overwritten."""
        refuse_output_columns(self._obj)
        return _phones.normalize_frame(self._obj, phone, region, dedupe=dedupe)

    def render(self, message: str, keywords: Iterable[str] | str | None = None) -> pd.DataFrame:
        """The frame plus ``sms_message``, ``sms_parts``, ``sms_reason``,
        ``sms_detail``: see :func:`smsframe.message.render_frame`."""
        return _message.render_frame(self._obj, message, keywords=keywords)

    def plan(self, message: str, **options) -> _plan.Plan:
        """What a campaign would send, before sending: see :func:`smsframe.plan.build`.

        >>> df.sms.plan(message="您好{name}", chunk_size=100)
        """
        return _plan.build(self._obj, message, **options)

    def send(self, client, message: str, **options) -> pd.DataFrame:
        """Send and write per-row outcomes back: see :func:`smsframe.campaign.send`.

        >>> out = df.sms.send(client, message="您好{name}", campaign="nov-promo")
        """
        return _campaign.send(self._obj, client, message=message, **options)

    def schedule(self, client, message: str, **options) -> pd.DataFrame:
        """Schedule (cannot be cancelled): see :func:`smsframe.campaign.schedule`.

        >>> out = df.sms.schedule(client, message="明早见", at="send_at", campaign="jan")
        """
        return _campaign.schedule(self._obj, client, message=message, **options)

    def schedule_panel(self, client, message: str, **options):
        """A panel to schedule this frame: see :class:`smsframe.widgets.SchedulePanel`.

        >>> df.sms.schedule_panel(client, message="明早见", campaign="jan")
        """
        return _widgets.SchedulePanel(client, self._obj, message=message, **options)

    def audit(self, by: str | list[str] | None = None, **options) -> Audit:
        """What this result frame's campaign did and why: see :func:`smsframe.audits.from_frame`.

        >>> out.sms.audit(by="segment", journal=url, campaign="nov-promo")
        """
        return from_frame(self._obj, by=by, **options)
