"""Lint a campaign plan's messages: carrier rules and cost hints, as warnings only.

Nothing here rejects a row: :func:`lint` reads the pending rows of a plan's ``rows``
and returns :class:`Finding` s, one per rule that applies (order of :data:`RULES`),
each saying how many rows it concerns and what to do.

Every check runs once per *distinct* message (the pending rows' ``sms_message``
counted), never per row: 1M rows of one template with 1,000 distinct texts cost one
hash pass plus 1,000 regex searches (0.05-0.2 s).

Mainland carriers expect marketing texts to carry a signature (``【品牌】`` at the
start or end) and an opt-out line, and to go out between 08:00 and 21:00 China
time. A message is *marketing* when it holds one of :data:`MARKETING` (a short
list, case-insensitive); others are transactional and need no opt-out. Quiet hours
count every pending row, marketing or not. Lengths
and parts follow :mod:`smsframe.message` (70 characters = 1 part, then parts of 67).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, fields
from datetime import time

import numpy as np
import pandas as pd

from smsframe.codes import CHINA
from smsframe.errors import InvalidType
from smsframe.hygiene import QuietHours
from smsframe.message import PART_LENGTH, SMS_LENGTH, _parts

__all__ = ["MARKETING", "OPT_OUT", "RULES", "Finding", "lint", "lint_frame"]

#: Rule token -> what it means. Order = order of the findings.
RULES: dict[str, str] = {
    "no_signature": "no 【...】 signature at the start or end of the message",
    "no_opt_out": "a marketing text without an opt-out line (回T退订, reply STOP...)",
    "url": "the message contains a link (http://, https://, www. or a bare domain)",
    "costly_characters": (
        "invisible characters, leading/trailing whitespace or runs of spaces add length "
        "and may cost parts"
    ),
    "quiet_hours": "the send would go out between 21:00 and 08:00 China Standard Time",
    "trim_saves_parts": "a few characters fewer and the message needs one part less",
}

#: When marketing texts are not expected, whatever quiet_hours= says: a warning only.
EVENING_AND_NIGHT = QuietHours(time(21), time(8))
#: Words that make a text marketing (满…减 is 满<number>减).
MARKETING = re.compile(
    r"优惠|促销|折|满[0-9０-９]+减|抢|会员|领券|券|特价|活动|秒杀|红包|包邮|上新|清仓|限时"
    r"|\bsales?\b|%\s*off\b|discount|coupon",
    re.IGNORECASE | re.ASCII,  # \b: a Chinese character is no word character
)
#: An opt-out line: 退订 (回T退订, 退订回T, 回TD退订), 回T, 拒收 (拒收请回复R), reply STOP/TD.
OPT_OUT = re.compile(r"退订|回T|拒收|\breply\s+(?:stop|td|t)\b|unsubscribe", re.I | re.A)
SIGNATURE = re.compile(r"^\s*【[^【】]+】|【[^【】]+】\s*$")
_TLDS = (
    "com|cn|net|org|io|co|cc|me|top|xyz|info|vip|shop|app|hk|tw|ly|gl|to|ai|link|club"
    "|site|online|store|tech|biz|us|uk|jp|mobi|ink|fun|ren|wang"
)
#: A link: a scheme, www., or a bare domain with a common top-level domain (t.cn/xx,
#: example.com). "3.5折", "1.5元", "e.g." are not links.
URL = re.compile(
    rf"https?://|\bwww\.|(?<![A-Za-z0-9.@-])(?:[A-Za-z0-9-]+\.)+(?:{_TLDS})(?![A-Za-z0-9-])",
    re.IGNORECASE | re.ASCII,  # \b: a Chinese character is no word character
)
INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")
_SPACES = re.compile("[ \u3000]{2,}")
TRIM_AT_MOST = 10  # characters: more is a rewrite, not a trim


@dataclass(frozen=True)
class Finding:
    """One rule's warning: how many pending rows, what to do, one affected message.

    >>> from smsframe.lint import Finding
    >>> print(Finding("url", 3, "3 rows contain a link: ..."))
    3 rows contain a link: ...
    """

    rule: str  # a key of RULES
    rows: int  # pending rows it concerns
    text: str  # what is wrong and what to do, one line
    example: str | None = None  # one affected message, first 40 characters

    def __str__(self) -> str:
        return self.text


def _rows(n: int, verb: str = "", singular: str = "") -> str:
    """'1 row needs', '1,204 rows need' (``verb`` plural, ``singular`` default verb+'s')."""
    verb = (singular or verb + "s") if n == 1 and verb else verb
    return f"{n:,} row{'' if n == 1 else 's'}{' ' if verb else ''}{verb}"


def _short(message: str) -> str:
    return message if len(message) <= 40 else message[:40] + "…"


def _cleaned(message: str) -> str:
    return _SPACES.sub(" ", INVISIBLE.sub("", message)).strip()


def _distinct(messages: pd.Series, pending: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pending rows' distinct messages, most frequent first, and their rows."""
    if getattr(messages.dtype, "storage", None) == "pyarrow":  # Arrow hashes in C
        series = messages[pending].value_counts()
        return series.index.to_numpy(dtype=object), series.to_numpy()
    # 1M object strings: Counter 0.07-0.12 s, Series(object).value_counts 0.08-0.17 s,
    # a python-backed str Series' value_counts 0.16-0.26 s
    values = messages.to_numpy(dtype=object)
    if 2 * pending.sum() >= len(pending):  # few rejected: count all, take theirs off
        counts = Counter(values)
        counts.subtract(values[~pending])
    else:
        counts = Counter(values[pending])
    common = counts.most_common()
    common = [(text, k) for text, k in common if k > 0 and isinstance(text, str)]
    texts = np.empty(len(common), dtype=object)
    texts[:] = [text for text, _ in common]
    return texts, np.array([k for _, k in common], dtype=np.int64)


def _finding(rule: str, texts: np.ndarray, n: np.ndarray, hit: np.ndarray, text: str) -> Finding:
    return Finding(rule, int(n[hit].sum()), text, _short(texts[hit][0]))


def lint(rows: pd.DataFrame, *, send_at: pd.Timestamp | None = None) -> list[Finding]:
    """Findings for the pending rows of a plan's ``rows`` (warnings, never rejections).

    ``send_at``: when the rows go out if ``rows`` has no ``sms_scheduled_for``
    (tz-aware; naive means China time; None: now).

    Examples
    --------
    >>> import pandas as pd, smsframe
    >>> from smsframe.lint import lint, lint_frame
    >>> contacts = pd.DataFrame({"phone": ["13800138000", "13900139000"]})
    >>> plan = contacts.sms.plan(message="双十一特价，全场包邮！")
    >>> at = pd.Timestamp("2030-11-11 22:00", tz="Asia/Shanghai")
    >>> for finding in lint(plan.rows, send_at=at):
    ...     print(finding.rule, finding.rows)
    no_signature 2
    no_opt_out 2
    quiet_hours 2
    >>> print(lint(plan.rows, send_at=at)[1])
    2 rows look like marketing without an opt-out line: end it with 回T退订 ...
    """
    if not isinstance(rows, pd.DataFrame) or {"sms_status", "sms_message"} - set(rows.columns):
        raise InvalidType("lint takes a plan's rows, as in lint(df.sms.plan(message=...).rows)")
    pending = (rows["sms_status"] == "pending").to_numpy()
    texts, n = _distinct(rows["sms_message"], pending)

    def has(pattern: re.Pattern) -> np.ndarray:
        return np.fromiter((pattern.search(t) is not None for t in texts), bool, len(texts))

    found: list[Finding] = []
    if (hit := ~has(SIGNATURE)).any():
        text = f"{_rows(n[hit].sum(), 'carry', 'carries')} no 【...】 signature at the start or end"
        found.append(_finding("no_signature", texts, n, hit, text + _SIGN))
    if (hit := has(MARKETING) & ~has(OPT_OUT)).any():
        text = f"{_rows(n[hit].sum(), 'look')} like marketing without an opt-out line" + _OPT
        found.append(_finding("no_opt_out", texts, n, hit, text))
    if (hit := has(URL)).any():
        text = f"{_rows(n[hit].sum(), 'contain')} a link" + _LINK
        found.append(_finding("url", texts, n, hit, text))
    length = np.fromiter(map(len, texts), np.int64, len(texts))
    clean = np.fromiter((len(_cleaned(t)) for t in texts), np.int64, len(texts))
    if (hit := clean < length).any():
        saved = (_parts(length) - _parts(clean))[hit]
        cheaper = int(n[hit][saved > 0].sum())
        fewer = (
            f"{_rows(cheaper)} would need fewer parts without them "
            f"(saves {int((saved * n[hit]).sum()):,} parts)"
            if cheaper
            else "none would need fewer parts, but each costs length"
        )
        text = (
            f"{_rows(n[hit].sum(), 'hold')} characters that add length for nothing (zero-width or "
            f"invisible characters, leading/trailing whitespace, runs of spaces): {fewer}; "
            "remove them"
        )
        found.append(_finding("costly_characters", texts, n, hit, text))
    if len(quiet := _quiet_rows(rows, pending, send_at)):
        first = rows["sms_message"].iloc[np.flatnonzero(pending)[quiet[0]]]
        text = f"{_rows(len(quiet))} would be sent between 21:00 and 08:00 China Standard Time"
        example = None if pd.isna(first) else _short(first)
        found.append(Finding("quiet_hours", len(quiet), text + _QUIET, example))
    parts = _parts(length)
    fewer_parts = parts - 1  # the most characters they hold: 70 for 1, else 67 each
    over = length - np.where(fewer_parts <= 1, SMS_LENGTH, PART_LENGTH * fewer_parts)
    trim = (parts >= 2) & (over <= TRIM_AT_MOST)
    for p in sorted(set(parts[trim].tolist())):
        hit = trim & (parts == p)
        k, most = int(n[hit].sum()), int(over[hit].max())
        chars = f"{most} character" + ("" if most == 1 else "s")
        they, saves = ("it needs", "part") if k == 1 else ("they need", "parts")
        text = (
            f"{_rows(k, 'need')} {p} parts; {chars} shorter and {they} {p - 1}: saves {k:,} {saves}"
        )
        found.append(_finding("trim_saves_parts", texts, n, hit, text))
    return found


_SIGN = (
    ": add your registered signature, e.g. 【品牌】, at the start: carriers block marketing "
    "texts without one"
)
_OPT = ": end it with 回T退订 (or 拒收请回复R): carriers block marketing texts without one"
_LINK = (
    ": carriers often hold back texts with links; use a registered short link or none, "
    "or check the link is on your account's allow list"
)
_QUIET = (
    " (marketing texts are expected 08:00-21:00): schedule them for 08:00 "
    '(df.sms.schedule(..., at=...)) or pass quiet_hours=("21:00", "08:00") to refuse such sends'
)


def _quiet_rows(rows: pd.DataFrame, pending: np.ndarray, send_at: object) -> np.ndarray:
    """Positions of the rows sent between 21:00 and 08:00 China time, among the pending."""
    per_row = "sms_scheduled_for" in rows.columns
    if per_row:
        times = pd.DatetimeIndex(rows["sms_scheduled_for"][pending])
    else:  # every row at once
        times = pd.DatetimeIndex([pd.Timestamp.now(CHINA) if send_at is None else send_at])
    times = times.tz_convert(CHINA) if times.tz else times.tz_localize(CHINA)  # 1M: 20 ms
    quiet = EVENING_AND_NIGHT.contains(pd.Series(times))  # NaT: not quiet
    return np.flatnonzero(quiet if per_row else np.repeat(quiet, pending.sum()))


def lint_frame(findings: list[Finding]) -> pd.DataFrame:
    """The findings as a frame (columns rule, rows, text, example), for display.

    >>> from smsframe.lint import Finding, lint_frame
    >>> lint_frame([Finding("url", 2, "2 rows contain a link", "见 t.cn/x")])
      rule  rows                   text   example
    0  url     2  2 rows contain a link  见 t.cn/x
    """
    columns = [f.name for f in fields(Finding)]
    return pd.DataFrame([asdict(f) for f in findings], columns=columns)
