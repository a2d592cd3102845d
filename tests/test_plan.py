"""Plans: groups, calls of at most chunk_size, shared and distinct Timestamps, summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from frames import contacts
from hypothesis import given, settings
from hypothesis import strategies as st

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.outcomes import is_missing
from smsframe.plan import MAX_CHUNK, call_figures, chunk_calls, content_groups
from smsframe.simulator import Simulator

CONTACTS = {"prefix": "135", "name": ["n0", "n1", "n2"]}  # frames.contacts: n0, 13500000000, ...


def test_plan_rows_calls_and_summary():
    df = pd.concat(
        [contacts(250, **CONTACTS), pd.DataFrame({"name": ["x"], "phone": ["nope"]})],
        ignore_index=True,
    )
    plan = df.sms.plan(message="您好{name}", chunk_size=40)
    summary = plan.summary()
    assert summary["recipients"] == 250 and summary["rejected"] == 1
    assert plan.rows["sms_status"].tolist().count("pending") == 250
    # Three rendered messages -> three groups; 84, 83, 83 rows -> 3 calls each.
    assert plan.calls.groupby("message").size().to_dict() == {"您好n0": 3, "您好n1": 3, "您好n2": 3}
    assert plan.calls["recipients"].max() <= 40
    assert plan.calls.groupby("group_key")["timestamp"].nunique().eq(1).all()
    assert plan.calls.drop_duplicates("group_key")["timestamp"].is_unique
    assert summary["cost"] == plan.calls["cost"].sum() == 250
    assert "250 recipients" in repr(plan) and "not_a_number" in repr(plan)
    assert "<table>" in plan._repr_html_()
    assert plan.rejected().to_dict() == {"not_a_number": 1}


def test_long_messages_cost_parts_per_recipient():
    plan = contacts(10, **CONTACTS).sms.plan(message="长" * 150)
    assert plan.calls["parts"].tolist() == [3]
    assert plan.cost == 30


def test_chunk_size_is_bounded_by_the_provider_limit():
    with pytest.raises(ValueError, match="1000"):
        contacts(3, **CONTACTS).sms.plan(message="hi", chunk_size=MAX_CHUNK + 1)
    with pytest.raises(ValueError):
        contacts(3, **CONTACTS).sms.plan(message="hi", chunk_size=0)


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=300),
    chunk=st.integers(1, 50),
)
def test_every_pending_row_is_in_exactly_one_call_of_its_group(messages, chunk):
    rows = pd.DataFrame(
        {
            "sms_phone": [f"1350000{i:04d}" for i in range(len(messages))],
            "sms_message": messages,
            "sms_parts": 1,
            "sms_status": ["pending"] * len(messages),
        }
    )
    calls = chunk_calls(rows, chunk, first_timestamp=1000)
    positions = sorted(p for call in calls["positions"] for p in call)
    assert positions == list(range(len(messages)))
    for call in calls.itertuples():
        assert 1 <= call.recipients <= chunk
        assert {messages[p] for p in call.positions} == {call.message}
        assert list(call.positions) == sorted(call.positions)  # rows keep their order


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "bb", "c"]),  # message
            st.sampled_from(["pending", "pending", "rejected"]),
            st.sampled_from([None, "1", "22"]),  # ext
        ),
        max_size=200,
    ),
    chunk=st.integers(1, 40),
    some=st.booleans(),
)
def test_call_figures_add_up_what_chunk_calls_makes(rows, chunk, some):
    frame = pd.DataFrame(
        {
            "sms_phone": [f"1350000{i:04d}" for i in range(len(rows))],
            "sms_message": [r[0] for r in rows],
            "sms_parts": [len(r[0]) for r in rows],  # parts follow the message
            "sms_status": [r[1] for r in rows],
            "sms_ext": pd.Series([r[2] for r in rows], dtype=object),
        }
    )
    to_send = np.arange(len(frame)) % 3 != 0 if some else None
    calls = chunk_calls(frame, chunk, to_send=to_send)
    figures = call_figures(frame, chunk, to_send=to_send)
    parts = int(calls["parts"].sum()) if len(calls) else 0
    cost = int(calls["cost"].sum()) if len(calls) else 0
    assert (figures.calls, figures.parts, figures.cost) == (len(calls), parts, cost)


CONSTANT = "同一条消息"  # one str object in every row, as a constant message is rendered


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([CONSTANT, CONSTANT, "b", None]),  # message (None: not rendered)
            st.sampled_from([None, None, "1"]),  # ext
            st.sampled_from([None, "2031-01-01 09:00", "2031-01-02 09:00"]),  # schedule time
        ),
        max_size=60,
    ),
    dtype=st.sampled_from(["python", "object", "pyarrow"]),
    with_times=st.booleans(),
)
def test_content_groups_are_the_distinct_contents_as_met(rows, dtype, with_times):
    messages = [r[0] for r in rows]
    frame = pd.DataFrame(
        {
            "sms_message": (
                pd.Series(messages, dtype=object)
                if dtype == "object"
                else pd.Series(messages, dtype=pd.StringDtype(dtype, na_value=np.nan))
            ),
            "sms_ext": pd.Series([r[1] for r in rows], dtype=object),
        }
    )
    if with_times:
        times = pd.to_datetime(pd.Series([r[2] for r in rows], dtype=object))
        frame["sms_scheduled_for"] = times.dt.tz_localize("Asia/Shanghai")
    group, contents = content_groups(frame)

    def seen(value):  # a missing message is None; a time stays as it is (NaT too)
        return None if is_missing(value) else value

    expected = [
        (seen(m), e, t if with_times else None)
        for m, e, t in zip(
            frame["sms_message"],
            frame["sms_ext"],
            frame["sms_scheduled_for"] if with_times else [None] * len(frame),
            strict=True,
        )
    ]
    distinct = list(dict.fromkeys(expected))  # in the order they are met
    assert group.tolist() == [distinct.index(content) for content in expected]
    assert contents == distinct


def test_content_groups_of_more_contents_than_a_byte_counts():
    """300 messages, each with and without an ext: 600 groups, numbered as met."""
    messages = [f"消息{i}" for i in range(300)] * 2
    frame = pd.DataFrame({"sms_message": messages, "sms_ext": [None] * 300 + ["1"] * 300})
    group, contents = content_groups(frame)
    assert group.tolist() == list(range(600))
    assert contents[299] == ("消息299", None, None) and contents[300] == ("消息0", "1", None)


def test_balance_check(tmp_path):
    with Simulator() as sim:
        sim.add_account(101, "demo", "pw", balance=7)
        client = SmsClient(sim.wsdl_url, 101, "demo", "pw")
        check = contacts(10, **CONTACTS).sms.plan(message="hi").check(client)
        assert (check.cost, check.balance, check.enough) == (10, 7, False)
        assert "short by 3" in repr(check)


def test_no_two_groups_share_a_timestamp_for_the_same_message_across_campaigns(tmp_path):
    journal = Journal(f"sqlite:///{tmp_path / 'j.sqlite'}")
    groups = pd.DataFrame(
        {"group_key": ["g1", "g2"], "message_hash": ["m", "m"], "timestamp": [500, 500]}
    )
    first = journal.group_timestamps("c1", groups)
    second = journal.group_timestamps("c2", groups)
    stamps = [*first.values(), *second.values()]
    assert len(set(stamps)) == 4
    assert journal.group_timestamps("c1", groups) == first  # recorded, stable on re-run
