"""``ddf.sms`` (``import smsframe.dask``) on a Dask DataFrame, held to ``df.sms`` on the
same rows: normalize and plan on a distributed cluster equal pandas' row by row (a
duplicate of a number an earlier partition has says which partition), a campaign sent
partition by partition delivers each number once, as pandas does, and resumes after a
SIGKILL or a Ctrl-C without sending anything twice; no task graph holds a password.

The cluster tests share one ``LocalCluster`` (2 worker processes, 1 thread each).
"""

from __future__ import annotations

import importlib.util
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from pathlib import Path

import cloudpickle
import dask
import dask.base
import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pytest
from frames import contacts
from hypothesis import given, settings
from hypothesis import strategies as st
from test_phones import messy_corpus
from truth import assert_true_to_deliveries, delivered_once, when

import smsframe.dask  # registers ddf.sms
from smsframe import (
    AccountError,
    CampaignInterrupted,
    CampaignMismatch,
    InsufficientBalance,
    SmsClient,
)
from smsframe.journal import Journal
from smsframe.preflight import NaiveTimeWarning
from smsframe.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "dask-pw-Zq8#Kestrel-2719"  # a string found nowhere else
DASK_ACCOUNT, PANDAS_ACCOUNT, PARQUET_ACCOUNT = 101, 102, 103
SEND = {"progress": False}


@pytest.fixture(scope="module")
def cluster():
    """A distributed cluster of two worker processes, the default scheduler meanwhile."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler (a test run started in the background ignores it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# -- helpers ------------------------------------------------------------------------
def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as objects, missing values None: Dask turns text into Arrow strings,
    Parquet gives categories back as others; the values must be the same."""
    return pd.DataFrame(
        {
            column: pd.Series(
                [None if _missing(v) else v for v in frame[column].astype(object)],
                index=frame.index,
                dtype=object,
            )
            for column in frame.columns
        },
        index=frame.index,
    )


def _missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame, columns=None) -> None:
    if columns is None:
        assert list(got.columns) == list(want.columns)
        columns = list(want.columns)
    got, want = plain(got[columns]), plain(want[columns])
    assert got.index.equals(want.index)
    for column in columns:
        differ = got[column].ne(want[column]) & ~(got[column].isna() & want[column].isna())
        both = pd.concat([got[column], want[column]], axis=1, keys=["dask", "pandas"])
        assert not differ.any(), f"{int(differ.sum())} rows differ in {column}:\n{both[differ]}"


def partition_of(ddf) -> np.ndarray:
    """Each row's partition number."""
    lengths = ddf.map_partitions(len).compute().tolist()
    return np.repeat(np.arange(len(lengths)), lengths)


def first_partition(normalized: pd.DataFrame, parts: np.ndarray) -> pd.Series:
    """From pandas' rows: for each row whose number a row of an earlier partition sends
    (its first, sendable occurrence), that partition; -1 elsewhere."""
    sendable = normalized["sms_reason"].isna().to_numpy()
    phone = normalized["sms_phone"].astype(object)
    first = pd.Series(parts[sendable], index=phone[sendable].to_numpy())
    assert first.index.is_unique  # pandas sends each number once
    met = phone.map(first).fillna(-1).astype(int).to_numpy()
    cross = (met >= 0) & (met < parts)
    return pd.Series(np.where(cross, met, -1), index=normalized.index)


def bench_corpus():
    spec = importlib.util.spec_from_file_location("bench_phones", ROOT / "bench/bench_phones.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.corpus


def messy_phones(n: int, seed: int) -> list[str | None]:
    """bench/bench_phones.py's ``corpus()`` (its spellings: a third of the rows repeat an
    earlier one, a fifth are numbers spelled as exports give them) and a quarter of
    tests/test_phones.py's adversarial values, shuffled, as text (missing: None)."""
    values = list(bench_corpus()(n - n // 4, "spellings", seed)) + messy_corpus(n // 4, seed)
    random.Random(seed).shuffle(values)
    return [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values
    ]


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    phones = messy_phones(5000, seed=3)
    return pd.DataFrame(
        {
            "name": [f"客户{i}" for i in range(len(phones))],
            "phone": pd.Series(phones, dtype=object),
            "city": [["北京", "上海", "广州"][i % 3] for i in range(len(phones))],
        }
    )


CORPUS_PARTS = 4


# -- 1. normalize and plan equal pandas', row by row ---------------------------------
def test_normalize_on_a_cluster_equals_pandas_row_by_row(cluster, corpus):
    ddf = dd.from_pandas(corpus, npartitions=CORPUS_PARTS)
    assert ddf.npartitions == CORPUS_PARTS
    for dedupe in (False, True):
        got = ddf.sms.normalize(dedupe=dedupe).compute()
        want = corpus.sms.normalize(dedupe=dedupe)
        assert_same_rows(got, want)
    # The corpus holds what the comparison is about: duplicates within a partition and
    # across partitions, and rows to send.
    cross = first_partition(want, partition_of(ddf)) >= 0
    duplicate = want["sms_reason"] == "duplicate"
    assert cross.sum() > 100 and (duplicate & ~cross).sum() > 100
    assert want["sms_reason"].isna().sum() > 1000
    assert want["sms_reason"].nunique() >= 6


def test_plan_on_a_cluster_equals_pandas_row_by_row(cluster, corpus):
    message = "{name}您好，{city}门店双十一优惠"
    ddf = dd.from_pandas(corpus, npartitions=CORPUS_PARTS)
    plan = ddf.sms.plan(message, chunk_size=50)
    want_plan = corpus.sms.plan(message, chunk_size=50)
    got, want = plan.rows.compute(), want_plan.rows
    first = first_partition(want, partition_of(ddf))
    cross = (first >= 0).to_numpy()
    assert cross.sum() > 100

    assert_same_rows(got, want, [c for c in want.columns if c != "sms_detail"])
    detail_got, detail_want = plain(got[["sms_detail"]]), plain(want[["sms_detail"]])
    assert detail_got[~cross].equals(detail_want[~cross])
    expected = "the same number as a row of partition " + first[cross].astype(str)
    assert detail_got["sms_detail"][cross].tolist() == expected.tolist()
    # pandas names the row (of an earlier partition) instead
    assert detail_want["sms_detail"][cross].str.startswith("the same number as row ").all()

    summary, want_summary = plan.summary(), want_plan.summary()
    units = ["rows", "recipients", "rejected", "cost"]
    assert summary[units].tolist() == want_summary[units].tolist()
    assert plan.cost == want_plan.cost
    assert plan.rejected().to_dict() == want_plan.rejected().to_dict()
    # the rows whose number an earlier partition sends, a partition's repeats counted once
    parts = partition_of(ddf)
    assert plan.cross_duplicates == len(
        set(zip(parts[cross], want["sms_phone"][cross], strict=True))
    )


def test_the_plans_figures_from_its_one_pass_are_those_of_its_rows(cluster, corpus):
    """plan() counts each partition before the duplicates across partitions are known,
    then takes their rows out of its figures: the same as counting the final rows."""
    from smsframe.dask import _figures

    frame = corpus.assign(name=corpus["name"].where(corpus.index % 11 != 0))  # no name: some
    for message, chunk in (("双十一优惠，回T退订", 7), ("{name}您好", 3)):
        ddf = dd.from_pandas(frame, npartitions=CORPUS_PARTS)
        plan = ddf.sms.plan(message, chunk_size=chunk)
        recounted = _figures(plan.rows, plan.template, plan.options)
        assert plan.summary().to_dict() == recounted[list(plan.summary().index)].to_dict()
        assert plan.rejected().to_dict() == {
            k.split(":", 1)[1]: v for k, v in recounted.items() if k.startswith("rejected:") and v
        }
        want = frame.sms.plan(message, chunk_size=chunk)
        units = ["rows", "recipients", "rejected", "cost"]
        assert plan.summary()[units].tolist() == want.summary()[units].tolist()
        assert plan.rejected().to_dict() == want.rejected().to_dict()
        assert "template_missing" in plan.rejected() or message.find("{") < 0


# -- 2. a number in partitions 0 and 2 ------------------------------------------------
def test_a_number_met_in_an_earlier_partition_is_a_duplicate_as_with_pandas(cluster):
    df = pd.DataFrame(
        {
            "phone": [
                "138 0013 8000",  # partition 0
                "13900139000；13600136000",  # several numbers: sends none of them
                "hello",
                "13700137000",  # partition 1
                "13900139000",  # not a duplicate: partition 0's cell sent nothing
                "+86 137-0013-7000",  # a duplicate within partition 1
                "+86 138-0013-8000",  # partition 2: partition 0's first number
                "15000150000",
                "0086 150 0015 0000",  # a duplicate within partition 2
            ],
            "name": list("abcdefghi"),
        },
        index=pd.Index(range(100, 109), name="row"),
    )
    ddf = dd.from_pandas(df, chunksize=3)
    assert ddf.map_partitions(len).compute().tolist() == [3, 3, 3]
    plan = ddf.sms.plan("您好{name}")
    want = df.sms.plan("您好{name}")
    rows = plan.rows.compute()

    assert rows.loc[106, "sms_status"] == "rejected"
    assert rows.loc[106, "sms_reason"] == "duplicate"
    assert rows.loc[106, "sms_detail"] == "the same number as a row of partition 0"
    assert want.rows.loc[106, "sms_detail"] == "the same number as row 100"
    assert rows.loc[104, "sms_status"] == "pending"
    assert rows["sms_detail"][[105, 108]].tolist() == want.rows["sms_detail"][[105, 108]].tolist()
    assert_same_rows(rows, want.rows, [c for c in want.rows.columns if c != "sms_detail"])
    assert plan.cross_duplicates == 1

    units = ["rows", "recipients", "rejected", "cost"]
    assert plan.summary()[units].tolist() == want.summary()[units].tolist() == [9, 4, 5, 4]
    assert plan.rejected().to_dict() == want.rejected().to_dict()
    assert plan.rejected().to_dict() == {"duplicate": 3, "several_numbers": 1, "not_a_number": 1}
    normalized = ddf.sms.normalize().compute()
    assert normalized.loc[106, "sms_reason"] == "duplicate"
    assert_same_rows(normalized, df.sms.normalize())


# -- 3. sending on the cluster --------------------------------------------------------
def campaign_frame() -> pd.DataFrame:
    """60 contacts in 4 partitions of 15: numbers repeated in later partitions spelled
    otherwise, a repeat within a partition, junk, two numbers the provider refuses."""
    df = contacts(60, name="客户{i}", city=["北京", "上海", "广州"])
    df.loc[17, "phone"] = "+86 137-0000-0002"  # partition 1 repeats partition 0's row 2
    df.loc[33, "phone"] = "0086 13700000002"  # ... and partition 2
    df.loc[47, "phone"] = "137 0000 0031"  # partition 3 repeats partition 2's row 31
    df.loc[20, "phone"] = "13700000021"  # repeated within partition 1
    df.loc[5, "phone"] = "not a phone"
    df.loc[50, "phone"] = None
    return df


UNREACHABLE = ["13700000009", "13700000040"]
MESSAGE = "{name}您好，{city}门店优惠"


def accounts_sim(balance: int = 100_000, **options) -> Simulator:
    sim = Simulator(**options).start()
    for account in (DASK_ACCOUNT, PANDAS_ACCOUNT, PARQUET_ACCOUNT):
        sim.add_account(account, "demo", PASSWORD, balance=balance)
    return sim


def client_of(sim: Simulator, account: int = DASK_ACCOUNT) -> SmsClient:
    return SmsClient(sim.wsdl_url, account, "demo", PASSWORD)


def delivered(sim: Simulator, account: int = DASK_ACCOUNT) -> pd.Series:
    """Times each number was delivered for ``account``."""
    deliveries = sim.deliveries()
    return deliveries.loc[deliveries["account_id"] == account, "phone"].value_counts()


def url(tmp_path: Path, name: str = "journal") -> str:
    return f"sqlite:///{tmp_path / f'{name}.sqlite'}"


OUTCOME = ["sms_status", "sms_reason", "sms_phone", "sms_message", "sms_parts", "sms_state"]


def test_send_on_a_cluster_equals_pandas_and_delivers_each_number_once(cluster, tmp_path):
    df = campaign_frame()
    ddf = dd.from_pandas(df, chunksize=15)
    assert ddf.npartitions == 4
    options = {"campaign": "nov", "chunk_size": 4, **SEND}
    with accounts_sim() as sim:
        sim.mark_unreachable(UNREACHABLE)
        want = df.sms.send(
            client_of(sim, PANDAS_ACCOUNT), MESSAGE, journal=url(tmp_path, "p"), **options
        )
        out = ddf.sms.send(client_of(sim), MESSAGE, journal=url(tmp_path), **options)
        assert isinstance(out, dd.DataFrame) and out.npartitions == 4
        got = out.compute()
        assert_same_rows(got[df.columns], df)  # the input columns untouched
        assert_same_rows(got, want, OUTCOME)
        assert set(got["sms_status"].astype(str)) == {"sent", "failed", "rejected"}
        assert got.loc[[17, 33, 47], "sms_reason"].tolist() == ["duplicate"] * 3
        assert got.loc[33, "sms_detail"] == "the same number as a row of partition 0"

        # every number sendable delivered exactly once, as with pandas
        times = delivered(sim)
        assert times.max() == 1
        sent = set(got.loc[got["sms_status"] == "sent", "sms_phone"])
        assert set(times.index) == sent == set(delivered(sim, PANDAS_ACCOUNT).index)
        assert len(sent) == 60 - 4 - 2 - 2  # junk, repeats and the refused numbers
        mine = sim.deliveries().query(f"account_id == {DASK_ACCOUNT}")
        assert_true_to_deliveries(got[got["sms_reason"] != "duplicate"], mine)

        # a re-run sends nothing more and says the same
        requests = sim.requests["SendMessage"]
        again = ddf.sms.send(client_of(sim), MESSAGE, journal=url(tmp_path), **options)
        assert_same_rows(again.compute(), got, [*OUTCOME, "sms_batch_id"])
        assert sim.requests["SendMessage"] == requests
        assert delivered(sim).sort_index().equals(times.sort_index())

        # to=: one Parquet file per partition, the same frame as in memory
        folder = tmp_path / "out"
        written = ddf.sms.plan(MESSAGE, chunk_size=4).send(
            client_of(sim, PARQUET_ACCOUNT),
            campaign="nov",
            journal=url(tmp_path, "q"),
            to=folder,
            **SEND,
        )
        files = sorted(p.name for p in folder.iterdir())
        assert files == [f"part.{n:05d}.parquet" for n in range(4)]
        from_files = written.compute()
        assert from_files.index.equals(got.index)
        assert list(from_files.columns) == list(got.columns)
        assert_same_rows(from_files, got, [*df.columns, *OUTCOME, "sms_e164", "sms_detail"])
        assert delivered(sim, PARQUET_ACCOUNT).sort_index().equals(times.sort_index())
        pd.testing.assert_frame_equal(
            plain(pd.concat(pd.read_parquet(folder / name) for name in files)[OUTCOME]),
            plain(from_files[OUTCOME]),
        )
        # a re-run writes the same folder again (nothing sent); other files are refused
        requests = sim.requests["SendMessage"]
        rewritten = ddf.sms.send(
            client_of(sim, PARQUET_ACCOUNT),
            MESSAGE,
            journal=url(tmp_path, "q"),
            to=folder,
            **options,
        )
        assert sorted(p.name for p in folder.iterdir()) == files
        assert_same_rows(rewritten.compute(), from_files, [*OUTCOME, "sms_batch_id"])
        assert sim.requests["SendMessage"] == requests
        (folder / "notes.txt").write_text("mine")
        with pytest.raises(ValueError, match=r"notes\.txt"):
            ddf.sms.send(
                client_of(sim, PARQUET_ACCOUNT),
                MESSAGE,
                journal=url(tmp_path, "q"),
                to=folder,
                **options,
            )
        assert (folder / "notes.txt").read_text() == "mine"


def test_a_send_plans_each_partition_once_and_keeps_no_rows_after(tmp_path, monkeypatch):
    """``ddf.sms.send`` plans each partition once: the pass before any call keeps the
    rows it makes in a temporary folder, which the campaign reads back as it sends, and a
    re-run works out what is left from (at 7c34ce3 every partition was planned again as
    it was sent, and a re-run planned them a third time). The folder goes whether the
    campaign ends or is refused before any call."""
    df = campaign_frame()
    ddf = dd.from_pandas(df, chunksize=15)
    planned: list[int] = []
    real_build = smsframe.dask.build

    def build(frame, *args, **kwargs):
        if len(frame):  # not the columns-only plan
            planned.append(frame.index[0])
        return real_build(frame, *args, **kwargs)

    monkeypatch.setattr(smsframe.dask, "build", build)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    options = {"campaign": "once", "journal": url(tmp_path), "chunk_size": 4, **SEND}
    with accounts_sim() as sim, dask.config.set(scheduler="threads"):
        out = ddf.sms.send(client_of(sim), MESSAGE, **options).compute()
        assert sorted(planned) == [0, 15, 30, 45]
        assert list(temporary.iterdir()) == []
        want = df.sms.send(
            client_of(sim, PANDAS_ACCOUNT), MESSAGE, **{**options, "journal": url(tmp_path, "p")}
        )
        assert_same_rows(out, want, OUTCOME)
        assert out.loc[33, "sms_detail"] == "the same number as a row of partition 0"
        assert delivered(sim).max() == 1

        # a re-run: what is left worked out from the rows kept, not planned again
        planned.clear()
        requests = sim.requests["SendMessage"]
        again = ddf.sms.send(client_of(sim), MESSAGE, **options).compute()
        assert sorted(planned) == [0, 15, 30, 45]
        assert sim.requests["SendMessage"] == requests
        assert_same_rows(again, out, [*OUTCOME, "sms_batch_id"])
        assert list(temporary.iterdir()) == []

        planned.clear()
        sim.add_account(104, "demo", PASSWORD, balance=1)
        with pytest.raises(InsufficientBalance):
            ddf.sms.send(client_of(sim, 104), MESSAGE, **{**options, "campaign": "x"})
        assert sorted(planned) == [0, 15, 30, 45]
        assert list(temporary.iterdir()) == []


def test_an_account_refused_or_a_taken_folder_raises_before_any_partition_is_planned(
    tmp_path, monkeypatch
):
    """A wrong password, or a to= folder holding other files, raises at once: not after
    the pass that plans every partition (minutes on a large dataset; at 09aa7de both
    waited for it)."""
    planned: list[int] = []
    real_build = smsframe.dask.build

    def build(frame, *args, **kwargs):
        if len(frame):
            planned.append(len(frame))
        return real_build(frame, *args, **kwargs)

    monkeypatch.setattr(smsframe.dask, "build", build)
    ddf = dd.from_pandas(contacts(30), npartitions=2)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with accounts_sim() as sim, dask.config.set(scheduler="threads"):
        wrong = SmsClient(sim.wsdl_url, DASK_ACCOUNT, "demo", "wrong")
        with pytest.raises(AccountError):
            ddf.sms.send(wrong, "hi", campaign="c", journal=url(tmp_path), **SEND)
        with pytest.raises(ValueError, match=r"notes\.txt"):
            ddf.sms.send(client_of(sim), "hi", campaign="c", journal=url(tmp_path), to=taken)
        assert planned == [] and sim.deliveries().empty


def test_a_rerun_with_fewer_partitions_leaves_the_folder_true(cluster, tmp_path):
    """The folder holds the re-run's rows, each once (at b6c9fd7 the earlier run's later
    part files stayed: 60 rows of a 40-row frame)."""
    df = contacts(40)
    options = {"campaign": "c", "journal": url(tmp_path), "to": tmp_path / "out", **SEND}
    with accounts_sim() as sim:
        dd.from_pandas(df, npartitions=4).sms.send(client_of(sim), "hi", **options)
        out = dd.from_pandas(df, npartitions=2).sms.send(client_of(sim), "hi", **options)
        assert len(out.compute()) == 40 and len(delivered(sim)) == 40
        folder = dd.read_parquet(tmp_path / "out").compute()
        assert len(folder) == 40
        assert_same_rows(folder, out.compute(), OUTCOME)


def test_insufficient_balance_raises_before_anything_is_delivered(cluster, tmp_path):
    df = campaign_frame()
    with accounts_sim(balance=30) as sim:  # 54 recipients, 1 message each
        ddf = dd.from_pandas(df, chunksize=15)
        with pytest.raises(InsufficientBalance) as raised:
            ddf.sms.send(client_of(sim), MESSAGE, campaign="c", journal=url(tmp_path), **SEND)
        assert (raised.value.cost, raised.value.balance) == (54, 30)
        assert sim.requests["SendMessage"] == 0 and sim.deliveries().empty
        # what is left is what counts: the first two partitions sent (27 recipients),
        # a balance of 27 pays for the rest
        first = dd.from_pandas(df.iloc[:30], chunksize=15)
        first.sms.send(client_of(sim), MESSAGE, campaign="c", journal=url(tmp_path), **SEND)
        assert sim.balance(DASK_ACCOUNT)["Balance"] == 30 - 27
        sim.recharge(DASK_ACCOUNT, 24)
        out = ddf.sms.send(client_of(sim), MESSAGE, campaign="c", journal=url(tmp_path), **SEND)
        assert (out.compute()["sms_status"] == "sent").sum() == 54
        assert delivered(sim).max() == 1 and len(delivered(sim)) == 54


def test_other_content_on_a_rerun_raises_mismatch_before_anything_is_delivered(cluster, tmp_path):
    df = contacts(60, name="客户{i}", city=["北京", "上海", "广州"])
    options = {"campaign": "c", "journal": url(tmp_path), **SEND}
    with accounts_sim() as sim:
        # the campaign sent its last partition only
        dd.from_pandas(df.iloc[45:], chunksize=15).sms.send(client_of(sim), MESSAGE, **options)
        sent = len(sim.deliveries())
        assert sent == 15
        ddf = dd.from_pandas(df, chunksize=15)
        with pytest.raises(CampaignMismatch, match="message"):
            ddf.sms.send(client_of(sim), MESSAGE + "!", **options)
        assert len(sim.deliveries()) == sent
        # the same template, but a row of partition 3 that was sent would read otherwise:
        # found by the pass on the workers before partition 0's new rows are sent
        changed = df.copy()
        changed.loc[55, "city"] = "深圳"
        ddf = dd.from_pandas(changed, chunksize=15)
        with pytest.raises(CampaignMismatch, match="深圳"):
            ddf.sms.send(client_of(sim), MESSAGE, **options)
        assert len(sim.deliveries()) == sent
        # as it was: the rest is sent
        out = dd.from_pandas(df, chunksize=15).sms.send(client_of(sim), MESSAGE, **options)
        assert (out.compute()["sms_status"] == "sent").all()
        assert delivered(sim).max() == 1 and len(delivered(sim)) == 60


def test_a_rerun_on_a_cluster_with_a_journal_object(cluster, journal):
    """A re-run's pass over the partitions (what is left, its content) gets no Journal:
    one cannot be pickled to the workers (at abe60a4 it was, in the RunOptions)."""
    with accounts_sim() as sim:
        first = dd.from_pandas(contacts(20), chunksize=5)
        first.sms.send(client_of(sim), "hi", campaign="c", journal=journal, **SEND)
        assert len(delivered(sim)) == 20
        more = dd.from_pandas(contacts(30), chunksize=5)  # 10 new rows: sent now
        out = more.sms.send(client_of(sim), "hi", campaign="c", journal=journal, **SEND)
        assert (out.compute()["sms_status"] == "sent").all()
        assert len(delivered(sim)) == 30 and delivered(sim).max() == 1


def test_a_naive_schedule_time_warns_the_caller_as_pandas_does(cluster):
    """On a cluster the partitions are planned on the workers: the warning is given
    here all the same (at 651cecc only the workers' logs had it)."""
    df = contacts(20)
    at = "2031-01-01 09:00"
    with warnings.catch_warnings(record=True) as pandas_warned:
        warnings.simplefilter("always")
        df.sms.plan("hi", at=at)
    if not any(issubclass(w.category, NaiveTimeWarning) for w in pandas_warned):
        pytest.skip("this machine's clock is China's: no warning to give")
    with pytest.warns(NaiveTimeWarning, match="no time zone"):
        plan = dd.from_pandas(df, chunksize=5).sms.plan("hi", at=at)
        plan.summary()
        plan.rows.compute()


# -- 4. SIGKILL, then the same campaign again ---------------------------------------
CRASH = textwrap.dedent(
    """
    import sys
    import dask
    import dask.dataframe as dd
    import pandas as pd
    import smsframe.dask
    from smsframe import SmsClient

    wsdl, journal, password = sys.argv[1], sys.argv[2], sys.argv[3]
    rows, parts = int(sys.argv[4]), int(sys.argv[5])
    dask.config.set(scheduler="threads")
    frame = pd.DataFrame({"phone": [f"137{i:08d}" for i in range(rows)]})
    ddf = dd.from_pandas(frame, npartitions=parts)
    client = SmsClient(wsdl, 101, "demo", password)
    print("ready", flush=True)
    ddf.sms.send(client, "闪购", campaign="crash", journal=journal, workers=4,
                 chunk_size=25, progress=False)
    print("done", flush=True)
    """
)
CRASH_ROWS, CRASH_PARTS = 2000, 5


def test_sigkill_midway_then_the_same_campaign_from_dask_never_delivers_twice(cluster, tmp_path):
    journal = url(tmp_path)
    rng = random.Random(4)
    sizes = [str(CRASH_ROWS), str(CRASH_PARTS)]
    with Simulator(latency_ms=20) as sim:
        sim.add_account(DASK_ACCOUNT, "demo", PASSWORD, balance=10 * CRASH_ROWS)
        process = subprocess.Popen(
            [sys.executable, "-c", CRASH, sim.wsdl_url, journal, PASSWORD, *sizes],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout.readline().strip() == "ready"
            # killed within the second partition or later (16 calls a partition)
            calls = rng.randrange(20, 50)
            deadline = time.monotonic() + 60
            while sim.requests["SendMessage"] < calls and time.monotonic() < deadline:
                time.sleep(0.002)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        at_crash = len(sim.deliveries())
        assert 0 < at_crash < CRASH_ROWS, "the kill should land mid-campaign"

        frame = pd.DataFrame({"phone": [f"137{i:08d}" for i in range(CRASH_ROWS)]})
        ddf = dd.from_pandas(frame, npartitions=CRASH_PARTS)
        out = ddf.sms.send(client_of(sim), "闪购", campaign="crash", journal=journal, **SEND)
        out = out.compute()
        deliveries = sim.deliveries()

    numbers = delivered_once(deliveries)  # 0 numbers delivered twice
    status = out["sms_status"].astype(str)
    assert set(status) <= {"sent", "unknown"}
    assert out.loc[status == "sent", "sms_phone"].isin(numbers).all()
    assert (status == "unknown").sum() <= 4 * 25  # the calls in flight at the kill
    assert (status[~out["sms_phone"].isin(numbers)] == "unknown").all()  # none left unsent
    assert len(numbers) > at_crash  # the re-run sent the rest
    # the journal agrees with the frame, read from another connection
    recorded = Journal(journal)
    try:
        calls = recorded.campaign("crash").set_index("phone")["status"]
    finally:
        recorded.close()
    assert calls.loc[out["sms_phone"]].astype(str).tolist() == status.tolist()


# -- 5. no password in any task graph ------------------------------------------------
def graphs_of(monkeypatch) -> list:
    """The collections given to ``dask.compute`` from now on (``dask.compute``,
    ``dask.base.compute``: Delayed.compute and a frame's compute go through it)."""
    seen: list = []
    original = dask.base.compute

    def recording(*args, **kwargs):
        seen.extend(a for a in args if dask.is_dask_collection(a))
        return original(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", recording)
    monkeypatch.setattr(dask.base, "compute", recording)
    return seen


def pickled(collection) -> bytes:
    return cloudpickle.dumps(collection) + cloudpickle.dumps(dict(collection.__dask_graph__()))


def test_no_task_graph_holds_the_password(cluster, tmp_path, monkeypatch):
    secret = PASSWORD.encode()
    with accounts_sim() as sim:
        client = client_of(sim)
        seen = graphs_of(monkeypatch)
        ddf = dd.from_pandas(campaign_frame(), chunksize=15)
        phases = {}
        plan = ddf.sms.plan(MESSAGE)  # the numbers met, partition by partition
        phases["plan"] = len(seen)
        plan.summary()  # the figures: counted by plan's own pass, nothing computed
        assert len(seen) == phases["plan"]
        out = plan.send(client, campaign="c", journal=url(tmp_path), **SEND)  # partitions
        phases["send"] = len(seen) - sum(phases.values())
        again = plan.send(client, campaign="c", journal=url(tmp_path), **SEND)
        phases["re-run"] = len(seen) - sum(phases.values())  # what is left: its figures
        out.sms.audit()
        phases["audit"] = len(seen) - sum(phases.values())
        assert min(phases.values()) >= 1, phases
        for collection in [*seen, plan.rows, out, again]:
            assert secret not in pickled(collection)

        # the check can fail: a graph holding the client cannot be pickled (SmsClient
        # refuses: the test would fail with TypeError), one holding the password shows it
        with pytest.raises(TypeError, match="password"):
            pickled(dask.delayed(lambda c: c.account_id)(client))
        assert secret in pickled(dask.delayed(len)(PASSWORD))
        assert secret in pickled(ddf.assign(note=PASSWORD))


def test_no_task_graph_holds_the_journal_password(cluster, fresh_postgres_url, monkeypatch):
    """Nor the journal's URL: a database password in it stays here (at abe60a4 a
    re-run's pass shipped the RunOptions, URL included, to every worker)."""
    secret = "journal-pw-Osprey-5531"
    scheme, rest = fresh_postgres_url.split("://", 1)
    user, rest = rest.split("@", 1)
    journal = f"{scheme}://{user}:{secret}@{rest}"  # trust auth: the password is not checked
    with accounts_sim() as sim:
        seen = graphs_of(monkeypatch)
        for rows in (20, 30):  # a campaign, then a re-run with 10 more rows
            ddf = dd.from_pandas(contacts(rows), chunksize=5)
            out = ddf.sms.send(client_of(sim), "hi", campaign="c", journal=journal, **SEND)
            assert (out.compute()["sms_status"] == "sent").all()
        assert len(delivered(sim)) == 30
        assert seen
        for collection in seen:
            assert secret.encode() not in pickled(collection)


# -- 6. Ctrl-C --------------------------------------------------------------------------
def test_ctrl_c_raises_campaign_interrupted_with_a_dask_result_and_a_rerun_sends_the_rest(
    cluster, tmp_path, ctrl_c_raises
):
    df = contacts(300)
    ddf = dd.from_pandas(df, chunksize=100)
    options = {"campaign": "c", "journal": url(tmp_path), "chunk_size": 10, "workers": 2, **SEND}
    with Simulator(latency_ms=40) as sim:
        sim.add_account(DASK_ACCOUNT, "demo", PASSWORD, balance=10_000)
        # in partition 1 (10 calls a partition)
        when(
            lambda: sim.requests["SendMessage"] >= 14,
            lambda: os.kill(os.getpid(), signal.SIGINT),  # Ctrl-C, Jupyter's Stop
        )
        raised = interrupted(lambda: ddf.sms.send(client_of(sim), "hi", **options))
        assert isinstance(raised, CampaignInterrupted), f"{type(raised).__name__}: {raised}"
        assert "interrupted" in str(raised)
        result = raised.result
        assert isinstance(result, dd.DataFrame)
        out = result.compute()
        assert out.index.equals(df.index[:200])  # partitions 0 and 1
        counts = out["sms_status"].astype(str).value_counts()
        assert counts["sent"] >= 100 and counts["skipped"] > 0
        assert counts["sent"] + counts["skipped"] == 200
        skipped = out["sms_status"] == "skipped"
        assert (out.loc[skipped, "sms_reason"] == "interrupted").all()
        assert_true_to_deliveries(out, sim.deliveries())
        before = len(sim.deliveries())
        assert before < 300

        again = ddf.sms.send(client_of(sim), "hi", **options).compute()
        assert (again["sms_status"] == "sent").all() and again.index.equals(df.index)
        assert_true_to_deliveries(again, sim.deliveries())
        assert len(sim.deliveries()) == 300


def interrupted(send) -> BaseException | None:
    """What ``send()`` raised; a KeyboardInterrupt caught here, not ending the test run."""
    try:
        send()
    except KeyboardInterrupt as error:
        return error
    return None


ARMED, RELEASED = threading.Event(), threading.Event()


def gated_third_partition(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    """Partition 2, once ``ARMED``, is computed only when the test releases it (the
    threaded scheduler runs this in the test's process)."""
    if partition_info and partition_info["number"] == 2 and ARMED.is_set():
        assert RELEASED.wait(20), "never released"
    return part


def test_ctrl_c_while_the_next_partition_is_computed(cluster, tmp_path, ctrl_c_raises):
    df = contacts(90)
    ddf = dd.from_pandas(df, chunksize=30).map_partitions(gated_third_partition)
    options = {"campaign": "c", "journal": url(tmp_path), **SEND}
    main = threading.get_ident()
    with Simulator() as sim, dask.config.set(scheduler="threads"):
        sim.add_account(DASK_ACCOUNT, "demo", PASSWORD, balance=10_000)
        plan = ddf.sms.plan("hi", chunk_size=10)
        assert plan.summary()["recipients"] == 90  # the figures a new campaign starts from

        since: list[float] = []

        def waiting() -> bool:
            """Partitions 0 and 1 sent, and this process's main thread has waited for
            0.3 s (for partition 2: its calls' waits are short)."""
            frame = sys._current_frames().get(main)
            if frame is None or frame.f_code.co_name != "wait" or len(sim.deliveries()) < 60:
                since.clear()
                return False
            since.append(time.monotonic())
            return since[-1] - since[0] > 0.3

        def ctrl_c() -> None:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)  # handled while partition 2 is still being computed
            RELEASED.set()

        ARMED.set()
        RELEASED.clear()
        try:
            when(waiting, ctrl_c)
            raised = interrupted(lambda: plan.send(client_of(sim), **options))
        finally:
            ARMED.clear()
            RELEASED.set()
        assert len(sim.deliveries()) == 60
        assert isinstance(raised, CampaignInterrupted), f"{type(raised).__name__}: {raised}"
        assert "1 partitions not started" in str(raised)
        out = raised.result.compute()
        assert out.index.equals(df.index[:60]) and (out["sms_status"] == "sent").all()

        again = ddf.sms.send(client_of(sim), "hi", chunk_size=10, **options).compute()
        assert (again["sms_status"] == "sent").all() and again.index.equals(df.index)
        assert delivered(sim).max() == 1 and len(delivered(sim)) == 90


def test_ctrl_c_while_a_partition_is_written(cluster, tmp_path, ctrl_c_raises, monkeypatch):
    """A Ctrl-C while a partition's outcomes are written (to=): CampaignInterrupted too,
    no half-written file; a re-run sends the rest and writes the folder whole (a plain
    KeyboardInterrupt escaped at 651cecc)."""
    df = contacts(90)
    ddf = dd.from_pandas(df, chunksize=30)
    options = {"campaign": "c", "journal": url(tmp_path), "chunk_size": 10, **SEND}
    folder = tmp_path / "out"
    write = pd.DataFrame.to_parquet
    writes = []

    def to_parquet(frame, path, *args, **kwargs):  # Ctrl-C as partition 1 is written
        writes.append(len(frame))
        if len(writes) == 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)  # the KeyboardInterrupt is raised here
        return write(frame, path, *args, **kwargs)

    with Simulator() as sim:
        sim.add_account(DASK_ACCOUNT, "demo", PASSWORD, balance=10_000)
        monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
        send = ddf.sms.send
        raised = interrupted(lambda: send(client_of(sim), "hi", to=folder, **options))
        monkeypatch.undo()
        assert writes == [30, 30]
        assert len(sim.deliveries()) == 60  # partition 2 was not started
        assert isinstance(raised, CampaignInterrupted), f"{type(raised).__name__}: {raised}"
        out = raised.result.compute()
        assert out.index.equals(df.index[:30]) and (out["sms_status"] == "sent").all()
        assert sorted(p.name for p in folder.iterdir() if p.suffix == ".parquet") == [
            "part.00000.parquet"
        ]

        again = send(client_of(sim), "hi", to=folder, **options).compute()
        assert (again["sms_status"] == "sent").all() and again.index.equals(df.index)
        assert delivered(sim).max() == 1 and len(delivered(sim)) == 90
        assert sorted(p.name for p in folder.iterdir()) == [
            f"part.{n:05d}.parquet" for n in range(3)
        ]


# -- 6b. the workers' malloc ------------------------------------------------------------
def test_worker_config_reaches_the_workers_environment():
    """WORKER_CONFIG, set before a cluster starts, reaches its workers: glibc's mmap
    threshold in their environment beside Dask's MALLOC_TRIM_THRESHOLD_, their profiler
    off (bench_dask.py --worker-config measures what it saves)."""
    with (
        dask.config.set(smsframe.dask.WORKER_CONFIG),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        environ = next(iter(client.run(lambda: dict(os.environ)).values()))
        profile = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    assert environ["MALLOC_MMAP_THRESHOLD_"] == str(32 * 2**20)
    assert "MALLOC_TRIM_THRESHOLD_" in environ
    assert list(profile.values()) == [False]


# -- 7. the package without Dask -------------------------------------------------------
def test_importing_smsframe_does_not_import_dask():
    program = (
        "import sys, pandas as pd, smsframe\n"
        "pd.DataFrame({'phone': ['13800138000']}).sms.normalize()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
        "import smsframe.dask\n"
        "print('dask' in sys.modules, hasattr(smsframe.dask.dd.DataFrame, 'sms'))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True True"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 60), max_size=25), max_size=30))
def test_the_numbers_met_are_remembered_with_where_first_met(partitions):
    """_Seen (sorted runs merged as they grow) answers as a dict of every number met."""
    from smsframe.dask import _Seen

    seen, first_met = _Seen(len(partitions)), {}
    for number, values in enumerate(partitions):
        keys = np.unique(np.array(values, dtype=np.int64))
        met, first = seen.meet(keys, number)
        assert keys[met].tolist() == [k for k in keys.tolist() if k in first_met]
        assert first.tolist() == [first_met[k] for k in keys[met].tolist()]
        for key in keys.tolist():
            first_met.setdefault(key, number)


def test_partitions_come_in_order_and_no_worker_waits_for_anothers_task():
    """A worker done with a task starts the next at once: task 0 waits for task 2 to
    start (computing two at a time in batches, as at 7c34ce3, task 2 would wait for task
    0, and this times out)."""
    started = {n: threading.Event() for n in range(6)}

    def task(n: int) -> int:
        started[n].set()
        if n == 0:
            assert started[2].wait(10), "task 2 did not start while task 0 ran"
        return n

    tasks = [dask.delayed(task)(n) for n in range(6)]
    with dask.config.set(scheduler="threads"):
        assert list(smsframe.dask._in_order(tasks, window=2)) == list(range(6))
