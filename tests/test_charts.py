"""The audit's charts, as a new user sees them in JupyterLab: a Chinese campaign name
and Chinese segments render in a CJK font that pip installs (no "Glyph missing"),
the timeline reads in clock times of China Standard Time, reasons read in words,
``by=`` adds a chart, and the user's matplotlib settings are left alone.

Each figure is drawn (``savefig``) after ``plot()`` returned, outside its settings,
as Jupyter draws it."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import warnings
from datetime import datetime

import matplotlib
import pandas as pd
import pytest
from frames import contacts
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text
from pylopdf_fonts_zh_cn import sans_path

import smsframe  # noqa: F401 - registers df.sms
from smsframe.codes import CHINA

CAMPAIGN = "双十一促销"
CITIES = ["北京", "上海", "广州"]
BANNED = "赌博"
CJK_FONT = str(sans_path())  # the OFL font file of the package smsframe depends on


def city_contacts(n: int = 30) -> pd.DataFrame:
    """``n`` contacts in three Chinese cities; rows 0-3 carry a banned word (-13), rows
    4-5 no phone number at all (rejected before sending)."""
    frame = contacts(n, "139", name="客户{i}", offer=["双十一满200减30"], city=CITIES)
    frame.loc[0:3, "offer"] = f"{BANNED}大奖"
    frame.loc[4:5, "phone"] = "hello"
    return frame


@pytest.fixture
def out(sim, sms_client, journal) -> pd.DataFrame:
    """The result frame of a small real campaign on the simulator."""
    sim.set_keywords([BANNED])
    return city_contacts().sms.send(
        sms_client,
        message="您好{name}，{offer}",
        campaign=CAMPAIGN,
        journal=journal,
        progress=False,
        chunk_size=10,
        workers=1,
    )


def drawn(figure: Figure) -> list[str]:
    """Draws ``figure`` as Jupyter does (after ``plot()``); the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=60)
    assert buffer.getvalue().startswith(b"\x89PNG")
    return [str(w.message) for w in caught]


def chart(figure: Figure, title: str):
    (axes,) = [a for a in figure.axes if a.get_title().startswith(title)]
    return axes


def labels(ticks: list[Text]) -> list[str]:
    return [t.get_text() for t in ticks if t.get_text()]


def test_the_campaign_has_reasons_to_chart(out):
    counts = out["sms_status"].value_counts()
    assert counts["sent"] == 24 and counts["failed"] == 4 and counts["rejected"] == 2
    assert set(out.loc[out["sms_status"] == "failed", "sms_state"]) == {-13}


def test_chinese_text_draws_without_a_missing_glyph(out):
    figure = out.sms.audit(by="city").plot()
    missing = [message for message in drawn(figure) if "Glyph" in message]
    assert missing == []
    assert CAMPAIGN in figure.get_suptitle()
    assert set(CITIES) <= set(labels(chart(figure, "rows by city").get_yticklabels()))


def test_every_text_is_set_in_the_pip_installed_cjk_font(out):
    figure = out.sms.audit(by="city").plot()
    drawn(figure)
    title = figure._suptitle  # matplotlib keeps the suptitle's Text here
    assert font_manager.findfont(title.get_fontproperties()) == CJK_FONT
    texts = [t for t in figure.findobj(Text) if t.get_text()]
    assert len(texts) > 20
    fonts = {str(font_manager.findfont(t.get_fontproperties())) for t in texts}
    assert fonts == {CJK_FONT}


def test_the_timeline_reads_in_clock_times_of_china(out):
    figure = out.sms.audit().plot()
    drawn(figure)
    timeline = chart(figure, "recipients over time")
    ticks = labels(timeline.get_xticklabels())
    assert len(ticks) >= 2 and len(set(ticks)) == len(ticks)
    sent_at = out["sms_sent_at"].dropna().dt.tz_convert(CHINA)
    first, last = sent_at.min(), sent_at.max()
    for tick in ticks:
        clock = datetime.strptime(tick, "%H:%M:%S" if tick.count(":") == 2 else "%H:%M")
        at = pd.Timestamp.combine(first.date(), clock.time()).tz_localize(CHINA)
        if at < first - pd.Timedelta(hours=12):  # the window crosses midnight
            at += pd.Timedelta(days=1)
        assert first - pd.Timedelta(minutes=2) <= at <= last + pd.Timedelta(minutes=2), tick
    label = timeline.get_xlabel()
    assert "China Standard Time" in label and "UTC+8" in label
    assert f"{first:%Y-%m-%d}" in label
    assert not timeline.xaxis.get_offset_text().get_text()  # no offset in a corner


def test_reasons_read_in_words_not_codes(out):
    figure = out.sms.audit().plot()
    drawn(figure)
    reasons = labels(chart(figure, "rows not sent").get_yticklabels())
    assert len(reasons) == 2
    assert not [r for r in reasons if re.fullmatch(r"code -?\d+", r.strip())]
    banned = [r for r in reasons if "banned keyword" in r.replace("\n", " ")]
    assert banned and "-13" in banned[0]  # the provider's meaning, and its code
    rejected = [r for r in reasons if "phone number" in r.replace("\n", " ")]
    assert rejected and "not_a_number" not in rejected[0]  # the token's text


def test_by_charts_rows_per_segment_by_status(out):
    audit = out.sms.audit(by="city")
    plain, segmented = out.sms.audit().plot(), audit.plot()
    assert len(segmented.axes) == len(plain.axes) + 1 == 4
    segments = chart(segmented, "rows by city")
    assert [a.get_title() for a in segmented.axes[:3]] == [a.get_title() for a in plain.axes]
    bars = {}  # per city (the bars' y order), the rows of its stacked bars
    ticks = [t.get_text() for t in segments.get_yticklabels()]
    for patch in segments.patches:
        city = ticks[round(patch.get_y() + patch.get_height() / 2)]
        bars[city] = bars.get(city, 0) + patch.get_width()
    assert bars == audit.segments["rows"].to_dict()
    legend = [t.get_text() for t in segments.get_legend().get_texts()]
    assert legend == ["sent", "failed", "rejected"]
    assert not [m for m in drawn(segmented) if "Glyph" in m]


def test_the_users_matplotlib_settings_are_left_alone(out):
    audit = out.sms.audit(by="city")
    before = dict(matplotlib.rcParams)
    drawn(audit.plot())
    assert dict(matplotlib.rcParams) == before
    with matplotlib.rc_context({"font.family": ["serif"], "font.size": 13}):
        drawn(audit.plot())
        assert matplotlib.rcParams["font.family"] == ["serif"]
        assert matplotlib.rcParams["font.size"] == 13
    assert dict(matplotlib.rcParams) == before


def test_importing_smsframe_loads_no_matplotlib_and_no_font():
    code = (
        "import sys, smsframe\n"
        "print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'pylopdf'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
