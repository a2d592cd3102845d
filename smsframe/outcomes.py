"""Per-row outcome columns: what a campaign did to each row of the input frame.

Columns (DESIGN.md): sms_phone, sms_e164, sms_reason, sms_message, sms_parts,
sms_timestamp, sms_state, sms_status, sms_detail, sms_batch_id, sms_sent_at
(and sms_scheduled_for for scheduled campaigns).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from smsframe.codes import decode

if TYPE_CHECKING:
    from smsframe.journal import Recipients

STATUSES = ["sent", "scheduled", "failed", "rejected", "unknown", "skipped", "pending"]
STATUS_DTYPE = pd.CategoricalDtype(STATUSES)

# Why a row that passed the pre-flight checks was not sent: token -> text.
REASON_TEXT = {
    "fail_phone": "the provider listed this number in FailPhone (bad or unreachable)",
    "provider_refused": "the provider refused the call (see sms_state and sms_detail)",
    "provider_unavailable": "the provider could not be reached; it is safe to send again",
    "invalid_request": "the request could not be built (see sms_detail); nothing was sent",
    "outcome_unknown": "the call may or may not have been processed; check before resending",
    "campaign_stopped": "not sent: the campaign stopped on an account-level refusal",
    "interrupted": "not sent: the campaign was interrupted",
}

# What a number listed in the FailPhone of an accepted call gets.
FAIL_PHONE = {
    "status": "failed",
    "reason": "fail_phone",
    "detail": REASON_TEXT["fail_phone"],
    "retry": False,
}


def reason_for(status: str, state: object, listed: bool, resend_safe: bool) -> str | None:
    """The reason token of a recipient's outcome (None when it was sent or scheduled)."""
    if status == "failed":
        if listed:
            return "fail_phone"
        if pd.isna(state):
            return "provider_unavailable" if resend_safe else "invalid_request"
        return "provider_refused"
    return "outcome_unknown" if status == "unknown" else None


def rerun_resends(operation: str, state: object) -> bool:
    """Whether a re-run of the campaign sends a failed call's rows again: the provider
    certainly did not accept it and the cause may be gone (the provider was unreachable,
    answered -9, or refused the account: recharged, enabled, IP bound since). Content
    refusals (-13, -10, -6...) would fail again and stay failed."""
    if pd.isna(state):
        return True
    code = decode(operation, int(state))
    return code.resend_safe and (code.transient or code.account_level)


class OutcomeWriter:
    """Collects per-row values by position, then builds the result frame at once.

    Statuses and reasons are kept as category codes: the result's categoricals are
    made from them without looking at a string per row.
    """

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        n = len(rows)
        reasons = rows["sms_reason"]
        before = reasons.cat.categories if isinstance(reasons.dtype, pd.CategoricalDtype) else []
        self.reasons = list(dict.fromkeys([*before, *REASON_TEXT]))  # pre-flight ones first
        self.status = _codes(rows["sms_status"], STATUSES)
        self.reason = _codes(reasons, self.reasons)
        self.detail = rows["sms_detail"].to_numpy(dtype=object).copy()
        self.state = np.full(n, np.nan)
        self.batch_id = np.full(n, np.nan)
        self.timestamp = np.full(n, np.nan)
        self.sent_at = np.full(n, np.datetime64("NaT", "us"))

    def set(self, positions: np.ndarray, *, status: str, reason: str | None, detail: str) -> None:
        """The same outcome for every row at ``positions`` (no call made)."""
        self.status[positions] = STATUSES.index(status)
        self.reason[positions] = -1 if reason is None else self.reasons.index(reason)
        self.detail[positions] = detail

    def write(self, positions: np.ndarray, recipients: Recipients, which: np.ndarray) -> None:
        """Recorded outcomes: the row at ``positions[k]`` is recipient ``which[k]`` of
        ``recipients`` (:meth:`Journal.recipients`)."""
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

    def frame(self) -> pd.DataFrame:
        """The rows with the outcome columns."""
        out = self.rows.copy()
        out["sms_status"] = pd.Categorical.from_codes(self.status, dtype=STATUS_DTYPE)
        out["sms_reason"] = pd.Categorical.from_codes(self.reason, categories=self.reasons)
        out["sms_detail"] = pd.array(self.detail, dtype="string")
        for column, values in (
            ("sms_timestamp", self.timestamp),
            ("sms_state", self.state),
            ("sms_batch_id", self.batch_id),
        ):
            out[column] = pd.array(values, dtype="Float64").astype("Int64")
        out["sms_sent_at"] = pd.Series(self.sent_at, index=out.index).dt.tz_localize("UTC")
        return out


def _codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """The code of each of ``values`` among ``categories`` (-1: missing), to write to."""
    return pd.Categorical(values, categories=categories).codes.copy()
