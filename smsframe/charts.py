"""The audit's charts: rows by status, rows not sent by reason, recipients over time
(clock times in China Standard Time) and, with ``by=``, rows per segment by status.

Text is set in a CJK font that comes with smsframe's dependencies (Noto Sans SC, from
``pylopdf-fonts-zh-cn``, SIL OFL 1.1), registered with matplotlib on the first chart
and used inside ``matplotlib.rc_context``: the user's settings are left as they were.
matplotlib is imported by this module alone, when a chart is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from smsframe.audits import CHARGED
from smsframe.codes import CHINA, STATUSES
from smsframe.errors import warn

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smsframe.audits import Audit

CHART_FONT_PACKAGE = "pylopdf-fonts-zh-cn"  # Noto Sans SC (OFL-1.1): Chinese text in charts
TIME_LABEL = "China Standard Time (UTC+8)"
MIN_TIME_SPAN = 60  # seconds: a quicker campaign is drawn on a minute
TOP_SEGMENTS = 15
_chart_font: dict[str, str] = {}  # family and path, once registered with matplotlib
STATUS_COLORS = {
    "sent": "#2ca02c",
    "scheduled": "#1f77b4",
    "failed": "#d62728",
    "rejected": "#7f7f7f",
    "unknown": "#ff7f0e",
    "skipped": "#9467bd",
    "pending": "#bcbd22",
}


def draw(audit: Audit, figsize: tuple[float, float] | None = None) -> Figure:
    """The figure of :meth:`smsframe.audits.Audit.plot`."""
    import matplotlib
    from matplotlib.figure import Figure  # imported here: matplotlib loads slowly

    segments = audit.segments
    with matplotlib.rc_context(_chart_rc()):
        if figsize is None:
            figsize = (13, 4 + _segments_height(segments) if audit.by else 4)
        figure = Figure(figsize=figsize, layout="constrained")
        widths = [0.8, 1, 1.4]  # the timeline's clock times need the room
        if audit.by:
            heights = [4, _segments_height(segments)]
            grid = figure.add_gridspec(2, 3, width_ratios=widths, height_ratios=heights)
        else:
            grid = figure.add_gridspec(1, 3, width_ratios=widths)
        by_status, by_reason, timeline = (figure.add_subplot(grid[0, i]) for i in range(3))
        name = f" {audit.campaign}" if audit.campaign else ""
        figure.suptitle(f"campaign{name}: {len(audit.rows)} rows", parse_math=False)
        _status_chart(by_status, audit.status)
        _reasons_chart(by_reason, audit.reasons)
        _timeline_chart(timeline, audit.rows[audit.rows["sms_sent_at"].notna()])
        if audit.by:
            _segments_chart(figure.add_subplot(grid[1, :]), segments, audit.by)
        for axes in figure.axes:  # ticks made now take the font (later ones copy them)
            axes.xaxis.get_major_ticks(), axes.yaxis.get_major_ticks()
    return figure


def _empty(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def chart_font() -> tuple[str, str] | None:
    """The CJK font the charts are set in: (family, path), or None without its package.

    Registered with matplotlib's font manager on the first call (a chart's first
    drawing), not when smsframe is imported.
    """
    if not _chart_font:
        try:
            from pylopdf_fonts_zh_cn import sans_path
        except ImportError:
            warn(
                f"{CHART_FONT_PACKAGE} is not installed: Chinese text in the audit's charts "
                f"may show as boxes (pip install {CHART_FONT_PACKAGE})"
            )
            _chart_font.update(family="", path="")
        else:
            from matplotlib import font_manager

            path = str(sans_path())
            font_manager.fontManager.addfont(path)
            family = font_manager.FontProperties(fname=path).get_name()
            _chart_font.update(family=family, path=path)
    if not _chart_font["family"]:
        return None
    return _chart_font["family"], _chart_font["path"]


def _chart_rc() -> dict[str, object]:
    """The settings the charts are drawn with: the CJK font first, then the user's."""
    import matplotlib

    font = chart_font()
    if font is None:
        return {}
    family = matplotlib.rcParams["font.family"]
    family = [family] if isinstance(family, str) else list(family)
    # A font's own name, not a generic family: the texts keep it when the figure is
    # drawn later (by Jupyter), outside these settings.
    return {"font.family": [font[0], *(f for f in family if f != font[0])]}


def _status_chart(axes, status: pd.DataFrame) -> None:
    counts = status["count"].iloc[::-1]
    if len(counts):
        counts.plot.barh(ax=axes, color=[STATUS_COLORS[s] for s in counts.index])
        axes.bar_label(axes.containers[0], padding=2)
        axes.margins(x=0.15)
    else:
        _empty(axes, "no rows")
    axes.set_title("rows by status")
    axes.set_xlabel("rows")
    axes.set_ylabel("")


def _reasons_chart(axes, reasons: pd.DataFrame) -> None:
    """Rows not sent, per reason in words (a provider code by its meaning)."""
    reasons = reasons[~reasons["status"].isin(CHARGED)]
    if len(reasons):
        labels = [
            _reason_label(reason, code, meaning)
            for reason, code, meaning in zip(
                reasons["reason"], reasons["code"], reasons["meaning"], strict=True
            )
        ]
        totals = reasons.assign(label=labels).groupby(["label", "status"], sort=False)
        totals = totals["count"].sum().sort_values().tail(12)
        colors = [STATUS_COLORS[status] for _, status in totals.index]
        totals.index = [label for label, _ in totals.index]
        totals.plot.barh(ax=axes, color=colors)
        axes.bar_label(axes.containers[0], padding=2)
        axes.margins(x=0.15)
        axes.set_ylabel("")
    else:
        _empty(axes, "every row was sent")
    axes.set_title("rows not sent, by reason")
    axes.set_xlabel("rows")


def _reason_label(reason: str, code: object, meaning: str) -> str:
    """A bar's label: the reason's text or the provider code's meaning, shortened to
    its first clause in at most two lines, with the code when the provider gave one."""
    import re
    import textwrap

    text = meaning.removeprefix("not sent: ")
    text = re.split(r" \(|; |: |, listed ", text, maxsplit=1)[0].removeprefix("the ")
    lines = textwrap.wrap(text, 28, max_lines=2, placeholder=" …")
    if reason in ("", "provider_refused") and not pd.isna(code) and f"{code}" not in text:
        lines[-1] += f" ({code})"
    return "\n".join(lines)


def _timeline_chart(axes, called: pd.DataFrame) -> None:
    """Recipients so far by status, against the clock in China Standard Time."""
    import matplotlib.dates as mdates

    axes.set_title("recipients over time")
    axes.set_ylabel("recipients (cumulative)")
    if called.empty:
        _empty(axes, "no call was made")
        return
    at = called["sms_sent_at"].dt.tz_convert(CHINA)
    order = np.argsort(at.to_numpy(), kind="stable")
    at = at.iloc[order]
    status = called["sms_status"].astype(str).to_numpy()[order]
    first, last = at.iloc[0], at.iloc[-1]
    span = last - first
    pad = max(span * 0.04, (pd.Timedelta(seconds=MIN_TIME_SPAN) - span) / 2)
    start, end = first - pad, last + pad
    times = pd.DatetimeIndex([start, *at, end]).tz_convert("UTC").tz_localize(None)
    x = mdates.date2num(times.to_numpy())  # days since matplotlib's epoch, UTC
    for name in (s for s in STATUSES if (status == s).any()):
        so_far = np.cumsum(status == name)
        axes.step(
            x,
            [0, *so_far, so_far[-1]],
            where="post",
            color=STATUS_COLORS[name],
            label=name,
        )
    axes.set_xlim(x[0], x[-1])
    axes.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(tz=CHINA, minticks=3, maxticks=5)
    coarser = {mdates.SECONDLY: 60, mdates.MINUTELY: 60, mdates.HOURLY: 24, mdates.MONTHLY: 12}
    for freq, interval in coarser.items():  # so that 5 ticks suffice at any span
        locator.intervald[freq] = [*locator.intervald[freq], interval]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(
            locator,
            tz=CHINA,
            formats=["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M", "%H:%M:%S"],
            zero_formats=["", "%Y", "%m-%d", "%m-%d", "%H:%M", "%H:%M:%S"],
            show_offset=False,  # the date is in the axis label
        )
    )
    days = f"{first:%Y-%m-%d}"
    if last.date() != first.date():
        days += f" to {last:%Y-%m-%d}"
    axes.set_xlabel(f"{TIME_LABEL}, {days}")
    axes.legend(title="status")


def _segments_height(segments: pd.DataFrame) -> float:
    """Inches for the chart of segments: enough for its bars."""
    return max(2.0, 0.3 * min(len(segments), TOP_SEGMENTS) + 1.2)


def _segments_chart(axes, segments: pd.DataFrame, by: list[str]) -> None:
    """Rows per segment (the largest first), a stacked bar by status, and the share sent."""
    title = f"rows by {' and '.join(by)}, by status"
    if segments.empty:
        _empty(axes, "no rows")
        axes.set_title(title)
        return
    table = segments.sort_values("rows", ascending=False, kind="stable")
    if len(table) > TOP_SEGMENTS:
        title += f" (the {TOP_SEGMENTS} largest of {len(table)})"
    shown = table.head(TOP_SEGMENTS).iloc[::-1]  # the largest at the top
    y = np.arange(len(shown))
    left = np.zeros(len(shown))
    for name in (s for s in STATUSES if s in shown.columns):
        counts = shown[name].to_numpy(dtype=float)
        some = counts > 0  # no empty bar: its edge would stop the margin
        if some.any():
            bars = y[some], counts[some]
            axes.barh(*bars, left=left[some], height=0.7, color=STATUS_COLORS[name], label=name)
        left += counts
    charged = [s for s in CHARGED if s in shown.columns and shown[s].any()]
    went = "/".join(charged) or "sent"  # sent_share counts the rows sent or scheduled
    for row, (rows, share) in enumerate(zip(shown["rows"], shown["sent_share"], strict=True)):
        axes.text(rows, row, f" {rows}, {share:.0%} {went}", va="center")
    axes.set_yticks(y, [_segment_label(value) for value in shown.index])
    axes.margins(x=0.2)  # room for the counts and shares
    axes.set_title(title)
    axes.set_xlabel("rows")
    axes.legend(title="status", loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _segment_label(value: object) -> str:
    values = value if isinstance(value, tuple) else (value,)
    return " / ".join("(missing)" if pd.isna(v) else str(v) for v in values)
