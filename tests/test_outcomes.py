"""outcomes.py on its own: what the journal's calls mean for each recipient, and how
the result frame's outcome columns are written. Plain frames in, no journal, no network."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsframe.outcomes import (
    FAIL_PHONE,
    NO_OUTCOME,
    OutcomeWriter,
    is_missing,
    number_keys,
    reason_for,
    recipients_of,
    refuse_output_columns,
    rerun_resends,
    text_column,
)
from smsframe.phones._output import _present, _text_blocks, _texts_at
from smsframe.plan import build

T0 = pd.Timestamp("2030-01-01 01:00", tz="UTC")


def calls_frame(*calls: dict) -> pd.DataFrame:
    """Calls as the journal gives them, in the order they were made."""
    defaults = {
        "status": "sent",
        "state": 1,
        "resend_safe": False,
        "operation": "SendMessage",
        "outcome_at": T0,
        "scheduled_for": None,
        "fail_phone": None,
        "detail": None,
        "batch_id": 7,
        "timestamp": 100,
        "group_key": "g",
        "message": "hello",
        "parts": 1,
        "ext": None,
    }
    return pd.DataFrame([{**defaults, "id": i + 1, **call} for i, call in enumerate(calls)])


@pytest.mark.parametrize(
    ("status", "state", "listed", "safe", "reason"),
    [
        ("sent", 1, False, False, None),
        ("scheduled", 1, False, False, None),
        ("failed", 1, True, False, "fail_phone"),
        ("failed", None, False, True, "provider_unavailable"),
        ("failed", None, False, False, "invalid_request"),
        ("failed", -13, False, True, "provider_refused"),
        ("unknown", None, False, False, "outcome_unknown"),
        ("unknown", -100, False, False, "outcome_unknown"),
    ],
)
def test_the_reason_of_an_outcome(status, state, listed, safe, reason):
    assert reason_for(status, state, listed, safe) == reason


@pytest.mark.parametrize(
    ("operation", "state", "resends"),
    [
        ("SendMessage", None, True),  # never reached the provider
        ("SendMessage", float("nan"), True),
        ("SendMessage", -9, True),  # the provider failed to receive: transient
        ("SendMessage", -8, True),  # balance: once recharged
        ("SendMessage", -30, True),  # unbound IP: once bound
        ("SendMessage", -13, False),  # banned keyword: would fail again
        ("SendMessage", -10, False),
        ("SendTimer", -12, False),
        ("SendMessage", -100, False),  # may have been accepted: never
    ],
)
def test_a_rerun_resends_only_what_may_now_succeed_and_was_certainly_not_accepted(
    operation, state, resends
):
    assert rerun_resends(operation, state) is resends


def test_missing_values_of_every_kind():
    for value in (None, np.nan, pd.NA, pd.NaT, np.datetime64("NaT"), np.float32("nan")):
        assert is_missing(value), value
    for value in (0, "", "nan", np.datetime64("2030-01-01"), 1.5):
        assert not is_missing(value), value


def test_no_calls_no_recipients():
    assert recipients_of(calls_frame().iloc[0:0]) is None


def test_each_number_gets_the_outcome_of_its_latest_call():
    calls = calls_frame(
        {
            "numbers": "13800000001;13800000002",
            "status": "failed",
            "state": None,
            "resend_safe": True,
        },
        {"numbers": "13800000002;13800000003", "batch_id": 8},
    )
    frame = recipients_of(calls).frame().set_index("phone")
    assert frame["status"].to_dict() == {
        "13800000001": "failed",
        "13800000002": "sent",
        "13800000003": "sent",
    }
    assert frame.loc["13800000001", "reason"] == "provider_unavailable"
    assert bool(frame.loc["13800000001", "retry"])  # a rerun resends it
    assert frame["call_id"].to_dict() == {"13800000001": 1, "13800000002": 2, "13800000003": 2}
    assert frame.loc["13800000002", "batch_id"] == 8


def test_the_numbers_an_accepted_call_listed_in_failphone_fail_alone():
    calls = calls_frame(
        {"numbers": "13800000001;13800000002;13800000003", "fail_phone": "13800000002"}
    )
    frame = recipients_of(calls).frame().set_index("phone")
    assert frame["status"].to_dict() == {
        "13800000001": "sent",
        "13800000002": "failed",
        "13800000003": "sent",
    }
    for column, value in FAIL_PHONE.items():
        assert frame.loc["13800000002", column] == value


def test_a_call_with_an_intent_and_no_outcome_is_unknown_for_each_of_its_numbers():
    calls = calls_frame(
        {
            "numbers": "13800000001;13800000002",
            "status": None,
            "state": None,
            "outcome_at": None,
            "batch_id": None,
        }
    )
    frame = recipients_of(calls).frame()
    assert frame["status"].tolist() == ["unknown", "unknown"]
    assert frame["reason"].tolist() == ["outcome_unknown", "outcome_unknown"]
    assert frame["detail"].tolist() == [NO_OUTCOME, NO_OUTCOME]
    assert not frame["retry"].any()  # never resent blindly


def test_recipients_look_up_their_calls_by_number():
    recipients = recipients_of(calls_frame({"numbers": "13800000001;13800000002"}))
    phones = np.array(["13800000002", "13900000000", "13800000001"], dtype=object)
    assert recipients.index(phones).tolist() == [1, -1, 0]
    assert recipients.call_ids(phones).tolist() == [1, -1, 1]


@pytest.mark.parametrize(
    "phones",
    [
        np.array(["13800000002", "13900000000", None, "13800000001", np.nan], dtype=object),
        pd.Series(["13800000002", "13900000000", None, "13800000001", None], dtype="string"),
        ["13800000002", "13900000000", 13800000001.0, "13800000001", "+13800000001"],
    ],
    ids=["object", "string", "mixed"],
)
def test_any_spelling_of_the_rows_finds_the_recipients(phones):
    recipients = recipients_of(calls_frame({"numbers": "13800000001;13800000002"}))
    assert recipients.index(phones).tolist() == [1, -1, -1, 0, -1]


def test_numbers_that_have_no_key_are_looked_up_by_their_text():
    recipients = recipients_of(calls_frame({"numbers": "13800000001;１３８;+"}))
    assert recipients.lookup.dtype == object  # a journal written by hand, say
    assert recipients.index(["+", "13800000001", "138", "１３８"]).tolist() == [2, 0, -1, 1]
    repeated = recipients_of(calls_frame({"numbers": "x;y"}, {"numbers": "y", "batch_id": 8}))
    assert repeated.frame().set_index("phone")["batch_id"].to_dict() == {"x": 7, "y": 8}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="+0123456789１x", max_size=19), max_size=30))
def test_number_keys_are_equal_exactly_where_the_numbers_are(texts):
    keys = number_keys(texts)
    for text, key in zip(texts, keys, strict=True):
        assert (key >= 0) == bool(re.fullmatch(r"\+?[0-9]{1,17}", text))
    keyed = [(t, k) for t, k in zip(texts, keys, strict=True) if k >= 0]
    for a, key_a in keyed:
        for b, key_b in keyed:
            assert (key_a == key_b) == (a == b)


def test_the_writer_fills_recorded_outcomes_and_keeps_pre_flight_rejections():
    contacts = pd.DataFrame({"phone": ["13800000001", "not a number", "13800000002"]})
    plan = build(contacts, "hello")
    writer = OutcomeWriter(plan.rows)
    recipients = recipients_of(
        calls_frame(
            {
                "numbers": "13800000001;13800000002",
                "message": "hello (as sent)",
                "fail_phone": "13800000002",
            }
        )
    )
    positions = np.array([0, 2])
    writer.write(
        positions,
        recipients,
        recipients.index(np.array(["13800000001", "13800000002"], dtype=object)),
    )
    out = writer.frame()
    assert out["sms_status"].tolist() == ["sent", "rejected", "failed"]
    assert pd.isna(out["sms_reason"].iloc[0])
    assert out["sms_reason"].iloc[2] == "fail_phone"
    assert out["sms_batch_id"].tolist()[0] == 7 and pd.isna(out["sms_batch_id"].iloc[1])
    assert out["sms_message"].iloc[0] == "hello (as sent)"  # what was sent, as recorded
    assert out["sms_sent_at"].iloc[0] == T0
    assert str(out["sms_status"].dtype) == "category"
    assert out["phone"].tolist() == contacts["phone"].tolist()  # input columns untouched


def test_the_writer_sets_one_outcome_for_rows_never_called():
    plan = build(pd.DataFrame({"phone": ["13800000001", "13800000002"]}), "hi")
    writer = OutcomeWriter(plan.rows)
    writer.set(np.array([1]), status="skipped", reason="interrupted", detail="stopped")
    out = writer.frame()
    assert out["sms_status"].tolist() == ["pending", "skipped"]
    assert out["sms_reason"].iloc[1] == "interrupted"
    assert out["sms_detail"].iloc[1] == "stopped"


def test_input_columns_named_like_outputs_are_refused_not_overwritten():
    refuse_output_columns(pd.DataFrame({"phone": [], "sms": []}))  # fine
    with pytest.raises(ValueError, match=r"sms_status.*rename or drop"):
        refuse_output_columns(pd.DataFrame({"phone": [], "sms_status": []}))


TEXT = pd.Series(["x"]).dtype  # pandas' default dtype of text
arrow_text = pytest.mark.skipif(
    getattr(TEXT, "storage", None) != "pyarrow", reason="pandas keeps text outside Arrow here"
)
CELLS = st.one_of(
    st.sampled_from([None, np.nan, pd.NA, "重复", "重复", "重复", "other"]),
    st.text(max_size=4),
    st.integers(-5, 5),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(CELLS, st.integers(1, 20_000)), max_size=6),
)
def test_a_text_column_holds_exactly_its_values(runs):
    """Runs of one value, spanning blocks (16,384 rows) or not: the column is the values
    as pandas writes text, whether its blocks share their memory or not."""
    values = np.empty(sum(n for _, n in runs), dtype=object)
    at = 0
    for value, n in runs:
        values[at : at + n] = [value] * n
        at += n
    index = pd.RangeIndex(len(values))
    expected = pd.Series(values, dtype=TEXT, index=index)
    pd.testing.assert_series_equal(text_column(values, index), expected)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 70_000), st.data())
def test_a_sparse_text_column_is_missing_but_where_told(n, data):
    drawn = data.draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=50))
    rows = np.array(data.draw(st.permutations(sorted(drawn))), dtype=np.intp)  # any order
    rows = rows[rows < n]
    texts = np.array([data.draw(st.sampled_from(["a", "重复", None])) for _ in rows], dtype=object)
    index = pd.RangeIndex(n)
    values = np.full(n, None, dtype=object)
    values[rows] = texts
    column = _text_blocks(n, texts, index, rows)
    pd.testing.assert_series_equal(column, pd.Series(values, dtype=TEXT, index=index))
    assert _present(column).tolist() == np.flatnonzero(column.notna()).tolist()
    picked = np.sort(rng_rows(n, 30))
    assert list(_texts_at(column, picked)) == [
        None if pd.isna(v) else v for v in column.iloc[picked].to_numpy(dtype=object)
    ]


def rng_rows(n: int, k: int) -> np.ndarray:
    return np.random.default_rng(n).integers(0, n, size=k if n else 0)


def arrow_bytes(column: pd.Series) -> int:
    """The bytes a text column's Arrow buffers hold, each shared buffer counted once."""
    chunks = pa.chunked_array(pa.array(column.array)).chunks
    return sum({b.address: b.size for c in chunks for b in c.buffers() if b is not None}.values())


@arrow_text
def test_a_plans_details_share_their_memory_where_rows_have_none():
    """Detail is missing in most rows of a plan: its blocks of missing rows are one
    buffer, not 8 bytes a row; the rows that have one keep it."""
    n = 200_000
    phones = [f"138{i:08d}" for i in range(n)]
    phones[5], phones[150_000] = "hello", phones[0]  # not a number; a duplicate
    plan = build(pd.DataFrame({"phone": phones}), "双十一优惠，回T退订")
    detail = plan.rows["sms_detail"]
    assert arrow_bytes(detail) < 2 * n  # spelled out row by row: over 8 * n
    assert detail.notna().sum() == 2
    assert detail.iloc[150_000] == "the same number as row 0"
    assert plan.rows["sms_reason"].iloc[5] == "not_a_number"


@pytest.mark.parametrize("dtype", [np.dtype(object), pd.StringDtype("python", na_value=np.nan)])
def test_text_columns_where_pandas_keeps_text_outside_arrow(monkeypatch, dtype):
    """pandas 2's object text, or Python strings: the same values, in that dtype."""
    from smsframe.phones import _output

    monkeypatch.setattr(_output, "_DEFAULT_TEXT", dtype)
    index = pd.RangeIndex(5)
    column = _text_blocks(5, np.array(["b", "a"], dtype=object), index, np.array([4, 1]))
    assert column.dtype == dtype
    assert [None if pd.isna(v) else v for v in column] == [None, "a", None, None, "b"]
    assert _present(column).tolist() == [1, 4]
    assert _texts_at(column, np.array([1, 4])).tolist() == ["a", "b"]


def test_a_lone_surrogate_in_a_text_column_is_written_as_its_escape():
    """UTF-8 (Arrow) cannot hold one: the column shows it escaped, never raises."""
    values = np.array(["ok", "bad \ud800", None] + ["same \udfff"] * 20_000, dtype=object)
    column = text_column(values, pd.RangeIndex(len(values)))
    assert column.iloc[1] == "bad \\ud800" and column.iloc[-1] == "same \\udfff"
    assert pd.isna(column.iloc[2])
