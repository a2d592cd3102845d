"""Per-row outcome columns: what a campaign did to each row of the input frame.

Columns (docs/design.md): sms_phone, sms_e164, sms_reason, sms_message, sms_parts,
sms_timestamp, sms_state, sms_status, sms_detail, sms_batch_id, sms_sent_at
(and sms_scheduled_for for scheduled campaigns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smsframe.codes import CHINA, STATUSES, decode
from smsframe.errors import InvalidValue
from smsframe.phones._output import _text_blocks
from smsframe.phones._values import _large_strings

# Every column smsframe writes into a frame it returns.
OUTPUT_COLUMNS = [
    "sms_phone",
    "sms_e164",
    "sms_reason",
    "sms_message",
    "sms_parts",
    "sms_ext",
    "sms_scheduled_for",
    "sms_timestamp",
    "sms_state",
    "sms_status",
    "sms_detail",
    "sms_batch_id",
    "sms_sent_at",
]
STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))

# Why a row that passed the pre-flight checks was not sent: token -> text.
REASON_TEXT = {
    "fail_phone": "the provider listed this number in FailPhone (bad or unreachable)",
    "provider_refused": "the provider refused the call (see sms_state and sms_detail)",
    "provider_unavailable": "the provider could not be reached; it is safe to send again",
    "invalid_request": "the request could not be built (see sms_detail); nothing was sent",
    "outcome_unknown": "the call may or may not have been processed; check before resending",
    "campaign_stopped": "not sent: the campaign stopped on an account-level refusal",
    "interrupted": "not sent: the campaign was interrupted",
    "lease_lost": "not sent: this process lost its hold on the campaign to another",
    "journal_unavailable": "not sent: the journal stopped answering; nothing was sent twice",
}
# What to do with rows certainly not sent, by reason (else their provider code says).
REASON_ACTION = {
    "fail_phone": "check the number: the provider listed it as bad or unreachable (not charged)",
    "provider_unavailable": "run the campaign again: a rerun resends these rows",
    "campaign_stopped": "fix what stopped the campaign (sms_detail), then run it again: "
    "a rerun sends these rows",
    "interrupted": "run the campaign again: a rerun resends these rows",
}
# What a call with an intent and no outcome says: it was interrupted, nobody knows.
NO_OUTCOME = "interrupted between the call and its answer"

# What a number listed in the FailPhone of an accepted call gets.
FAIL_PHONE: dict[str, Any] = {
    "status": "failed",
    "reason": "fail_phone",
    "detail": REASON_TEXT["fail_phone"],
    "retry": False,
}


def refuse_output_columns(frame: pd.DataFrame) -> None:
    """Input columns are never overwritten: raise if ``frame`` has a column named like
    one smsframe writes (e.g. a result frame given back as contacts)."""
    taken = [column for column in OUTPUT_COLUMNS if column in frame.columns]
    if taken:
        raise InvalidValue(
            f"the input already has column(s) {', '.join(taken)}, which smsframe writes its "
            "results to: rename or drop them first (df.drop(columns=[...])). To send a "
            "campaign again, give it the original contacts, not a result frame"
        )


def is_missing(value: object) -> bool:
    """Whether ``value`` is a missing scalar: None, NaN, NA or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, np.datetime64 | np.timedelta64) and bool(np.isnat(value))


def reason_for(status: str, state: object, listed: bool, resend_safe: bool) -> str | None:
    """The reason token of a recipient's outcome (None when it was sent or scheduled)."""
    if status == "failed":
        if listed:
            return "fail_phone"
        if is_missing(state):
            return "provider_unavailable" if resend_safe else "invalid_request"
        return "provider_refused"
    return "outcome_unknown" if status == "unknown" else None


def rerun_resends(operation: str, state: float | None) -> bool:
    """Whether a re-run of the campaign sends a failed call's rows again: the provider
    certainly did not accept it and the cause may be gone (the provider was unreachable,
    answered -9, or refused the account: recharged, enabled, IP bound since). Content
    refusals (-13, -10, -6...) would fail again and stay failed."""
    if state is None or is_missing(state):
        return True
    code = decode(operation, int(state))
    return code.resend_safe and (code.transient or code.account_level)


@dataclass(frozen=True)
class Recipients:
    """A campaign's recipients by call: ``phone[i]`` got the outcome of
    ``calls.iloc[call_of[i]]``, except the positions ``listed``, whose numbers that
    call's FailPhone listed (they failed: :data:`FAIL_PHONE`)."""

    calls: pd.DataFrame
    phone: pa.Array  # unique
    call_of: np.ndarray
    listed: np.ndarray
    lookup: pd.Index  # phone's number keys (int64), or its texts when one has no key

    def index(self, phones: Any, keys: np.ndarray | None = None) -> np.ndarray:
        """The recipient of each of ``phones`` (-1: none); ``keys``: their
        :func:`number_keys`, where the caller has them already."""
        if self.lookup.dtype == np.int64:  # -1, no key, is nobody's
            keys = number_keys(phones) if keys is None else keys
            return self.lookup.get_indexer(pd.Index(keys, copy=False))
        return self.lookup.get_indexer(pd.Index(_texts(_arrow_text(phones)), dtype=object))

    def call_ids(self, phones: Any) -> np.ndarray:
        """The id of the latest call of each of ``phones`` (-1: never called)."""
        where = self.index(phones)
        ids = self.calls["call_id"].to_numpy(dtype="int64")[self.call_of]
        return np.where(where >= 0, ids[where], -1)

    def frame(self) -> pd.DataFrame:
        """One row per recipient (:data:`RECIPIENT_COLUMNS`)."""
        rows = self.calls[RECIPIENT_COLUMNS[1:]].iloc[self.call_of].reset_index(drop=True)
        rows.insert(0, "phone", _texts(self.phone))
        listed = rows.index[self.listed]
        for column, value in FAIL_PHONE.items():
            rows.loc[listed, column] = value
        return rows


def number_keys(values: Any) -> np.ndarray:
    """Each number of ``values`` as one int64, equal exactly where the texts are equal
    (-1: missing, or not a number as smsframe sends it: 1 to 17 ASCII digits, after a
    "+" for an international one). Integers hash far faster than strings: matching a
    campaign's rows to its recipients takes no Python object per row.

    >>> number_keys(["13800138000", "+85291234567", None, "x"]).tolist()
    [113800138000, 285291234567, -1, -1]
    """
    text = _arrow_text(values)
    international = pc.fill_null(pc.starts_with(text, "+"), False)
    digits = text
    if pc.any(international).as_py():  # rare: leave the others' texts alone (cheaper)
        digits = pc.if_else(international, pc.utf8_slice_codeunits(text, 1), text)
    length = pc.binary_length(digits)
    keyable = pc.fill_null(
        pc.and_(pc.ascii_is_decimal(digits), pc.less_equal(length, 17)), False
    ).to_numpy(zero_copy_only=False)
    value = pc.cast(pc.if_else(keyable, digits, pa.scalar("0", text.type)), pa.int64())
    # 10**length marks where the digits start (leading zeros count) and the sign:
    # [10**L, 2*10**L) national, [2*10**L, 3*10**L) international, disjoint for every L.
    length = pc.fill_null(length, 0).to_numpy()
    keys = _POWERS_OF_10[np.where(keyable, length, 0)]
    keys *= 1 + international.to_numpy(zero_copy_only=False)
    keys += value.to_numpy(zero_copy_only=False)
    keys[~keyable] = -1
    return keys


_POWERS_OF_10 = 10 ** np.arange(19, dtype=np.int64)


def _arrow_text(values: Any) -> pa.Array:
    """``values`` as one Arrow large_string array (what is not text: null)."""
    if isinstance(values, pd.Series | pd.Index):
        values = values.array
    try:
        array = (
            values
            if isinstance(values, pa.Array | pa.ChunkedArray)
            else pa.array(values, from_pandas=True)
        )
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_null(array.type) or pa.types.is_string(array.type):
            array = array.cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # text mixed with
        array = None  # other values, or a lone surrogate
    if array is None or not pa.types.is_large_string(array.type):
        array = _large_strings([v if isinstance(v, str) else None for v in values])
    return array


def _texts(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)


RECIPIENT_COLUMNS = [
    "phone",
    "status",
    "reason",
    "state",
    "detail",
    "batch_id",
    "timestamp",
    "scheduled_for",
    "sent_at",
    "retry",
    "call_id",
]


# What each call sent, kept beside the outcome (the result shows what was sent).
CONTENT_COLUMNS = ["group_key", "message", "parts", "ext"]


def recipients_of(calls: pd.DataFrame) -> Recipients | None:
    """The recipients of a campaign's ``calls`` (the journal's rows, in the order they
    were made), each with the outcome of its latest call (None: no calls).

    A call with an intent and no outcome was interrupted: its numbers are ``unknown``.
    """
    if calls.empty:
        return None
    calls = calls.copy()
    missing = calls["status"].isna()
    calls.loc[missing, "status"] = "unknown"
    calls.loc[missing, "detail"] = NO_OUTCOME
    # What a call says of all its numbers, decided once per kind of call ...
    calls["reason"], calls["retry"] = _call_verdicts(calls)
    calls["outcome_at"] = pd.to_datetime(calls["outcome_at"], utc=True)
    calls["scheduled_for"] = pd.to_datetime(calls["scheduled_for"], utc=True).dt.tz_convert(CHINA)
    calls = calls.rename(columns={"outcome_at": "sent_at", "id": "call_id"})
    # ... then it goes to each of its numbers, the latest call of a number winning ...
    lists = pc.split_pattern(_arrow_text(calls["numbers"]), ";")
    phone = pc.list_flatten(lists)
    call_of = pc.list_parent_indices(lists).to_numpy().astype(np.intp)
    keys = number_keys(phone)
    # Keyed by number where every number has a key (smsframe only sends such), else by text.
    lookup = pd.Index(keys) if (keys >= 0).all() else pd.Index(_texts(phone), dtype=object)
    latest = ~lookup.duplicated(keep="last")
    if not latest.all():
        keep = np.flatnonzero(latest)
        phone, call_of, lookup = phone.take(keep), call_of[keep], lookup[keep]
    # ... but the numbers it listed in FailPhone fail, one by one.
    fail_phone = calls["fail_phone"].fillna("")
    listing = np.flatnonzero(
        (calls["status"].isin(["sent", "scheduled"]) & fail_phone.ne("")).to_numpy()
    )
    fail_phones = fail_phone.to_numpy(dtype=object)
    listed_in = {int(call): set(str(fail_phones[call]).split(";")) for call in listing}
    candidates = np.flatnonzero(np.isin(call_of, listing))
    texts = phone.take(candidates).to_pylist()
    listed = candidates[
        [t in listed_in[call_of[i]] for t, i in zip(texts, candidates, strict=True)]
    ]
    calls = calls.reindex(columns=[*RECIPIENT_COLUMNS[1:], *CONTENT_COLUMNS])
    return Recipients(calls.reset_index(drop=True), phone, call_of, listed, lookup)


def _call_verdicts(calls: pd.DataFrame) -> tuple[list[str | None], list[bool]]:
    """Each call's reason for all its numbers and whether a re-run resends them, worked
    out once per distinct (status, state, resend_safe, operation): a campaign's
    thousands of calls are of a few kinds."""
    decided: dict[tuple, tuple[str | None, bool]] = {}
    reasons, retries = [], []
    for status, state, safe, operation in zip(
        calls["status"].tolist(),
        calls["state"].tolist(),
        calls["resend_safe"].tolist(),
        calls["operation"].tolist(),
        strict=True,
    ):
        kind = (status, None if is_missing(state) else state, bool(safe), operation)
        if kind not in decided:
            decided[kind] = (
                reason_for(status, kind[1], False, kind[2]),
                status == "failed" and kind[2] and rerun_resends(operation, kind[1]),
            )
        reason, retry = decided[kind]
        reasons.append(reason)
        retries.append(retry)
    return reasons, retries


class OutcomeWriter:
    """Collects per-row values by position, then builds the result frame at once.

    Statuses and reasons are kept as category codes: the result's categoricals are
    made from them without looking at a string per row.
    """

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        n = len(rows)
        reasons = rows["sms_reason"]
        before: list[str] = (
            list(reasons.cat.categories) if isinstance(reasons.dtype, pd.CategoricalDtype) else []
        )
        self.reasons = list(dict.fromkeys([*before, *REASON_TEXT]))  # pre-flight ones first
        self.status = _codes(rows["sms_status"], STATUSES)
        self.reason = _codes(reasons, self.reasons)
        self.detail = rows["sms_detail"].to_numpy(dtype=object).copy()
        self.state = np.full(n, np.nan)
        self.batch_id = np.full(n, np.nan)
        self.timestamp = np.full(n, np.nan)
        self.sent_at = np.full(n, np.datetime64("NaT", "us"))
        # What was sent, as the journal recorded it, where it differs from the row's
        # content now (a column copied only then).
        self.content: dict[str, np.ndarray] = {}

    def set(self, positions: np.ndarray, *, status: str, reason: str | None, detail: str) -> None:
        """The same outcome for every row at ``positions`` (no call made)."""
        self.status[positions] = STATUSES.index(status)
        if reason is not None and reason not in self.reasons:
            self.reasons.append(reason)
        self.reason[positions] = -1 if reason is None else self.reasons.index(reason)
        self.detail[positions] = detail

    def write(
        self,
        positions: np.ndarray,
        recipients: Recipients,
        which: np.ndarray,
        other_content: np.ndarray | None = None,
    ) -> None:
        """Recorded outcomes: the row at ``positions[k]`` is recipient ``which[k]`` of
        ``recipients`` (:meth:`Journal.recipients`). ``other_content``: whether that
        row's content now differs from what its call sent (then the recorded content is
        shown); default every row."""
        calls = recipients.calls
        call = recipients.call_of[which]
        listed = np.zeros(len(recipients.phone), dtype=bool)
        listed[recipients.listed] = True
        listed = listed[which]
        for name, values, override in (
            ("status", _codes(calls["status"], STATUSES), STATUSES.index(FAIL_PHONE["status"])),
            ("reason", _codes(calls["reason"], self.reasons), self.reasons.index("fail_phone")),
            ("detail", calls["detail"].to_numpy(dtype=object), FAIL_PHONE["detail"]),
        ):
            values = values[call]
            values[listed] = override
            getattr(self, name)[positions] = values
        for name in ("state", "batch_id", "timestamp"):
            number = pd.to_numeric(calls[name]).to_numpy(dtype=float, na_value=np.nan)
            getattr(self, name)[positions] = number[call]
        sent_at = pd.to_datetime(calls["sent_at"], utc=True).dt.tz_convert(None)
        self.sent_at[positions] = sent_at.to_numpy(dtype="datetime64[us]")[call]
        if other_content is not None:
            positions, call = positions[other_content], call[other_content]
        if not len(positions):
            return
        for column, recorded in _RECORDED.items():
            if column in self.rows.columns:
                if column not in self.content:
                    self.content[column] = self.rows[column].to_numpy(dtype=object).copy()
                values = calls[recorded].to_numpy(dtype=object)[call]
                known = pd.notna(values) if column in ("sms_message", "sms_parts") else True
                self.content[column][positions] = np.where(
                    known, values, self.content[column][positions]
                )

    def frame(self) -> pd.DataFrame:
        """The rows with the outcome columns."""
        out = self.rows.copy()
        for column, values in self.content.items():
            dtype = self.rows[column].dtype
            if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
                out[column] = text_column(values, out.index).astype(dtype)  # few distinct
            else:
                out[column] = pd.Series(values, index=out.index).astype(dtype)
        status = pd.Categorical.from_codes(self.status, dtype=STATUS_DTYPE)
        out["sms_status"] = status.set_categories(_possible(status, self.rows))
        reason = pd.CategoricalDtype(self.reasons)
        out["sms_reason"] = pd.Categorical.from_codes(self.reason, dtype=reason)
        out["sms_detail"] = text_column(self.detail, out.index)
        for column, values in (
            ("sms_timestamp", self.timestamp),
            ("sms_state", self.state),
            ("sms_batch_id", self.batch_id),
        ):
            out[column] = _whole_numbers(values)
        sent_at = pd.Series(self.sent_at, index=out.index).dt.tz_localize("UTC")
        out["sms_sent_at"] = sent_at.dt.tz_convert(CHINA)  # every time in China's
        return out


def _whole_numbers(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Floats holding whole numbers or NaN as a nullable Int64 array, without a cast
    that checks each value."""
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


# Result column <- the recorded call's column.
_RECORDED = {
    "sms_message": "message",
    "sms_parts": "parts",
    "sms_ext": "ext",
    "sms_scheduled_for": "scheduled_for",
}


def text_column(values: Sequence[object] | np.ndarray, index: pd.Index) -> pd.Series:
    """Text that repeats (details, codes' meanings) as pandas stores text by default
    (``str`` from pandas 3, else object), the same dtype as every other text column of a
    result; missing stays missing. In Arrow, blocks of rows with no text or one text
    share their memory (:func:`smsframe.phones._output._text_blocks`).
    """
    return _text_blocks(len(values), np.asarray(values, dtype=object), index)


# The statuses each kind of frame can hold, in the order shown.
KIND_STATUSES = {
    "plan": ["pending", "rejected"],
    "send": ["sent", "failed", "rejected", "unknown", "skipped"],
    "schedule": ["scheduled", "failed", "rejected", "unknown", "skipped"],
}


def _possible(status: pd.Categorical, rows: pd.DataFrame) -> list[str]:
    """The statuses a result of this kind can hold (and any it does hold)."""
    kind = "schedule" if "sms_scheduled_for" in rows.columns else "send"
    held = [s for s in pd.unique(status.dropna()) if s not in KIND_STATUSES[kind]]
    return [*KIND_STATUSES[kind], *held]


def _codes(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """The code of each of ``values`` among ``categories`` (-1: missing), to write to."""
    return pd.Categorical(values, categories=list(categories)).codes.copy()
