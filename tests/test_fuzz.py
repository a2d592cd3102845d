"""Arbitrary frames through normalize, plan and send: never a crash; every row gets a
status, and every row not sent gets a reason."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smsframe  # noqa: F401 - registers df.sms
from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

ACCOUNT = (101, "demo", "fuzz-pw")
COUNTER = itertools.count()

mobile = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
cell = st.one_of(
    st.none(),
    st.just(math.nan),
    st.just(pd.NA),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=24),
    st.text(max_size=40),
    st.text(alphabet="０１２３４５６７８９٠١٢٣٤٥٦٧٨٩०१२३४५६७८९+- ()", max_size=20),
    st.sampled_from(
        [
            "😀",
            "📱13800138000",
            "１３８００１３８０００",
            "8" * 10_000,
            "\x00",
            "\ud800",
            "a\x1bb",
            "13800138000；\ud80013900139000",
        ]
    ),
    mobile,
    mobile.map(lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}"),
    mobile.map(int),
    mobile.map(float),
)


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=25))
    phones = draw(st.lists(cell, min_size=n, max_size=n))
    names = draw(st.lists(cell, min_size=n, max_size=n))
    kind = draw(st.sampled_from(["range", "duplicates", "multi", "strings"]))
    if kind == "range":
        index = pd.RangeIndex(n)
    elif kind == "duplicates":
        index = pd.Index([i // 2 for i in range(n)])
    elif kind == "multi":
        index = pd.MultiIndex.from_arrays(
            [[i % 2 for i in range(n)], [str(i // 3) for i in range(n)]]
        )
    else:
        index = pd.Index([f"row-{i % 4}" for i in range(n)], dtype=object)
    return pd.DataFrame(
        {
            "phone": pd.Series(phones, dtype=object, index=index),
            "name": pd.Series(names, dtype=object, index=index),
        }
    )


def assert_every_row_accounted_for(df: pd.DataFrame, out: pd.DataFrame) -> None:
    assert len(out) == len(df)
    assert out.index.equals(df.index)
    assert out["sms_status"].notna().all()
    not_sent = ~out["sms_status"].isin(["sent", "scheduled", "pending"])
    assert out.loc[not_sent, "sms_reason"].notna().all()
    pd.testing.assert_frame_equal(out[df.columns], df)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames())
def test_normalize_never_raises_and_gives_every_row_a_phone_or_a_reason(df):
    out = df.sms.normalize()
    assert out.index.equals(df.index)
    assert (out["sms_phone"].notna() ^ out["sms_reason"].notna()).all() or (
        out.loc[out["sms_reason"] == "duplicate", "sms_phone"].notna().all()
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames(), template=st.sampled_from(["hi", "您好{name}", "{name}{name}{name}", "  "]))
def test_plan_never_raises_and_every_row_is_pending_or_rejected_with_a_reason(df, template):
    plan = df.sms.plan(message=template)
    rows = plan.rows
    assert rows.index.equals(df.index)
    assert set(rows["sms_status"].astype(str)) <= {"pending", "rejected"}
    rejected = rows["sms_status"] == "rejected"
    assert rows.loc[rejected, "sms_reason"].notna().all()
    assert rows.loc[~rejected, "sms_reason"].isna().all()
    assert plan.summary()["recipients"] == int((~rejected).sum())


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with Simulator() as sim:
        sim.add_account(*ACCOUNT, balance=10**9)
        journal = Journal(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'journal.sqlite'}")
        yield sim, SmsClient(sim.wsdl_url, *ACCOUNT), journal


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(df=frames())
def test_send_never_raises_and_every_row_gets_a_status_and_a_reason(provider, df):
    sim, client, journal = provider
    campaign = f"fuzz-{next(COUNTER)}"
    out = df.sms.send(
        client, message="您好{name}", campaign=campaign, journal=journal, progress=False
    )
    assert_every_row_accounted_for(df, out)
    assert set(out["sms_status"].astype(str)) <= {"sent", "failed", "rejected"}
    sent = out.loc[out["sms_status"] == "sent", "sms_phone"]
    deliveries = sim.deliveries()
    mine = deliveries[deliveries["phone"].isin(sent)]
    assert sorted(sent) == sorted(set(sent))  # one row per number (duplicates rejected)
    assert set(sent) <= set(mine["phone"])
