"""A campaign's name is bound to what it sends.

The journal records a campaign's content on its first run (account, kind, message
template), and each call's message, ext and schedule time. A later run under the same
name must send the same: the same template, account and kind, and, for every row the
campaign attempted, the same rendered message, ext and schedule time. Otherwise it is
refused with :class:`~smsframe.errors.CampaignMismatch` before any call, saying what
differs. New rows with the same content extend the campaign.

``extend=True`` accepts other content: rows the campaign never attempted get it; rows
it attempted keep what they were sent (their recorded outcome and content are shown).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smsframe.errors import CampaignMismatch
from smsframe.journal import Content
from smsframe.outcomes import Recipients, is_missing
from smsframe.plan import Plan, first_of_its_number, group_key

WAYS_ON = (
    "Nothing was sent. To send the new content to every row, use a new campaign name; "
    "to send it only to the rows this campaign never attempted, pass extend=True"
)


def check(
    name: str,
    bound: Content | None,
    content: Content,
    plan: Plan,
    recorded: Recipients | None,
    keys: np.ndarray | None = None,
) -> None:
    """Raise :class:`CampaignMismatch` if running ``plan`` as campaign ``name`` would send
    other content than the campaign was sent with (``keys``: the plan's numbers'
    :func:`~smsframe.outcomes.number_keys`, if known)."""
    differences = [] if bound is None else _campaign_differences(bound, content)
    changed = _changed_rows(plan, recorded, keys)
    if not differences and not len(changed):
        return
    if recorded is not None and len(changed):
        differences.append(_example(plan.rows, recorded, changed))
    raise CampaignMismatch(
        f"campaign {name!r} was sent with other content than this run's: "
        f"{'; '.join(differences)}. {WAYS_ON}"
    )


def _campaign_differences(bound: Content, content: Content) -> list[str]:
    differences = []
    if bound.account_id != content.account_id:
        differences.append(f"account {bound.account_id} then, {content.account_id} now")
    if bound.kind != content.kind:
        differences.append(f"it was a {bound.kind} then, a {content.kind} now")
    if bound.template != content.template:
        differences.append(f"message {bound.template!r} then, {content.template!r} now")
    return differences


def _changed_rows(plan: Plan, recorded: Recipients | None, keys: np.ndarray | None) -> np.ndarray:
    """Positions of the rows the campaign attempted that would now send other content."""
    if recorded is None:
        return np.array([], dtype=int)
    rows = plan.rows
    where = recorded.index(rows["sms_phone"], keys)
    group, contents = plan.contents
    has_message = np.array([message is not None for message, *_ in contents], dtype=bool)
    attempted = np.flatnonzero((where >= 0) & has_message[group] & first_of_its_number(rows))
    if not len(attempted):
        return attempted
    return attempted[content_differs(plan, recorded, where, attempted)]


def content_differs(
    plan: Plan, recorded: Recipients, where: np.ndarray, positions: np.ndarray
) -> np.ndarray:
    """Whether each row of ``plan`` at ``positions`` (recipient ``where[position]``)
    would now send other content (message, ext, schedule time) than its recorded call
    did: a row's content key against its call's, compared as codes of the few distinct
    keys, not as a string per row."""
    group, contents = plan.contents
    now = np.array([group_key(content) for content in contents], dtype=object)
    then = recorded.calls["group_key"].to_numpy(dtype=object)
    codes = pd.factorize(np.concatenate([now, then]))[0]
    now_code = codes[: len(now)][group[positions]]
    then_code = codes[len(now) :][recorded.call_of[where[positions]]]
    return now_code != then_code


def _example(rows: pd.DataFrame, recorded: Recipients, changed: np.ndarray) -> str:
    """One changed row in words: what it was sent, what it would get now."""
    row = rows.iloc[changed[0]]
    call = recorded.calls.iloc[recorded.call_of[recorded.index(np.array([row["sms_phone"]]))[0]]]
    then, now = [], []
    for label, column, was in (
        ("message", "sms_message", call["message"]),
        ("ext", "sms_ext", call["ext"]),
        ("time", "sms_scheduled_for", call["scheduled_for"]),
    ):
        is_now = row[column] if column in row.index else None
        if _shown(was) != _shown(is_now):
            then.append(f"{label} {_shown(was)}")
            now.append(f"{label} {_shown(is_now)}")
    said = f"{', '.join(then)} then, {', '.join(now)} now" if then else "other content"
    return (
        f"{len(changed):,} row(s) it attempted would get other content, e.g. "
        f"{row['sms_phone']}: {said}"
    )


def _shown(value: object) -> str:
    if is_missing(value):
        return "none"
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M}"
    return repr(value) if isinstance(value, str) else str(value)
