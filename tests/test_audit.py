"""Campaign audits: every table on a campaign with every status, reconciliation of the
balance (and its failures), the journal-only audit, the CLI and the charts."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings

import matplotlib
import pandas as pd
import pytest
from frames import contacts
from matplotlib.figure import Figure

import smsframe
from smsframe.audits import TABLES, Audit, Cost, campaigns, from_frame
from smsframe.cli import main
from smsframe.codes import decode
from smsframe.journal import Journal

matplotlib.use("Agg")  # no display: pandas plotting may load pyplot

ACCOUNT = (101, "demo", "audit-test-pw")
BALANCE = 1000
CALLED = ["sent", "scheduled", "failed", "unknown"]
# frames.contacts: contact_id i, 客户i, 139 0000 000i, an offer, segments in turn.
CONTACTS = {
    "prefix": "139",
    "name": "客户{i}",
    "offer": "双十一满200减30",
    "segment": ["vip", "regular", "dormant"],
    "index": "contact_id",
}

pytestmark = pytest.mark.sim(ACCOUNT, balance=BALANCE)


def every_status_frame() -> pd.DataFrame:
    """60 sendable rows (the first 5 with a banned word in their offer) and 3 rejected."""
    df = contacts(60, **CONTACTS)
    df.loc[df.index[:5], "offer"] = "赌博大奖"
    rejected = pd.DataFrame(
        {
            "name": ["甲", "乙", "丙"],
            "phone": ["hello", "010-12345678", df["phone"].iloc[6]],
            "offer": ["双十一满200减30"] * 3,
            "segment": ["vip"] * 3,
        },
        index=pd.Index([900, 901, 902], name="contact_id"),
    )
    return pd.concat([df, rejected])


def send(df, client, journal, campaign, **options):
    options = {"message": "您好，{offer}", "progress": False, "chunk_size": 10, **options}
    return df.sms.send(client, campaign=campaign, journal=journal, **options)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'journal.sqlite'}"


@pytest.fixture
def every(sim, sms_client, url):
    """A campaign with every status, one call at a time (chunks of 10), in this order:

    1. rows 0-4, banned keyword: failed -13
    2. rows 5-14: 8 sent, 2 failed (FailPhone: unreachable)
    3. rows 15-24: the answer is lost after the provider processed it: unknown (charged)
    4. rows 25-34: sent
    5. rows 35-44: -8, an account-level refusal: failed, and the campaign stops
    rows 45-59 skipped; 3 rows rejected before sending.
    """
    sim.set_keywords(["赌博"])
    sim.mark_unreachable(["13900000006", "13900000007"])
    for fault in ("delay", "delay", "drop-after", "delay", "state-8"):
        sim.inject("SendMessage", fault, times=1, delay_ms=1)
    with pytest.warns(UserWarning, match="stopped"):
        out = send(every_status_frame(), sms_client, url, "all", workers=1)
    return out


# -- the campaign itself ---------------------------------------------------------------------
def test_the_campaign_has_every_status(every):
    counts = every["sms_status"].value_counts()
    expected = {"sent": 18, "failed": 17, "rejected": 3, "unknown": 10, "skipped": 15}
    assert counts[counts > 0].to_dict() == expected


def test_status_table(every):
    audit = every.sms.audit()
    table = audit.to_frame("status")
    assert list(table.index) == ["sent", "failed", "rejected", "unknown", "skipped"]
    assert table["count"].to_dict() == every["sms_status"].value_counts()[lambda n: n > 0].to_dict()
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc["unknown", "share"] == pytest.approx(10 / 63)


def test_reasons_table_gives_each_code_its_meaning(every):
    table = every.sms.audit().to_frame("reasons")
    assert table["count"].sum() == len(every)
    assert table["share"].sum() == pytest.approx(1.0)
    rows = {(s, r, None if pd.isna(c) else int(c)): n for s, r, c, n in table.iloc[:, :4].values}
    assert rows == {
        ("sent", "", 1): 18,
        ("failed", "provider_refused", -13): 5,
        ("failed", "provider_refused", -8): 10,
        ("failed", "fail_phone", 1): 2,
        ("rejected", "not_a_number", None): 1,
        ("rejected", "not_mobile", None): 1,
        ("rejected", "duplicate", None): 1,
        ("unknown", "outcome_unknown", None): 10,
        ("skipped", "campaign_stopped", None): 15,
    }
    by_code = table.set_index(["reason", "code"])
    keyword = by_code.loc[("provider_refused", -13)]
    assert keyword["meaning"] == decode("SendMessage", -13).en
    assert keyword["meaning_zh"] == "内容信息含关键字"
    assert "FailPhone" in by_code.loc[("fail_phone", 1), "meaning"]
    assert "landline" in table.loc[table["reason"] == "not_mobile", "meaning"].iloc[0]


def test_cost_reconciles_with_the_balance_and_says_the_unknown_call_was_charged(every, sim, url):
    audit = every.sms.audit(journal=url, campaign="all")
    cost = audit.cost
    assert cost.charged == 18  # sent rows' parts (FailPhone numbers are not charged)
    assert cost.unknown == 10
    assert (cost.balance_before, cost.balance_after) == (BALANCE, sim.balance(101)["Balance"])
    assert cost.delta == 28  # the lost call was processed: the provider charged it
    assert cost.reconciles is True
    assert cost.unknown_charged == "charged"
    assert "do not resend" in cost.note
    frame = audit.to_frame("cost")
    assert frame.loc["cost", "reconciles"]
    assert frame.loc["cost", "difference"] == 10
    # The frame remembers its journal and campaign: the default audit reconciles too.
    assert every.sms.audit().cost.reconciles
    # From the frame alone there is no balance: nothing to reconcile, and it says where to look.
    bare = every.copy()
    bare.attrs = {}
    alone = bare.sms.audit().cost
    assert (alone.charged, alone.unknown, alone.reconciles) == (18, 10, None)
    assert "journal" in alone.note


def test_reconciliation_fails_when_someone_else_charges_the_account_between_runs(
    sim, sms_client, url
):
    first = send(contacts(10, **CONTACTS), sms_client, url, "c")
    assert first.sms.audit(journal=url, campaign="c").cost.reconciles is True
    sms_client.send("外部通知", ["13800000000"], timestamp=123)  # not this campaign: 1 part
    send(contacts(15, **CONTACTS), sms_client, url, "c")  # the same campaign, 5 new rows
    cost = smsframe.audit(url, "c").cost
    assert (cost.charged, cost.delta, cost.difference) == (15, 16, 1)
    assert cost.reconciles is False
    assert "1 more than this campaign explains" in cost.note
    assert "DOES NOT RECONCILE" in repr(smsframe.audit(url, "c"))


def test_reconciliation_fails_when_the_account_is_recharged_between_runs(sim, sms_client, url):
    send(contacts(10, **CONTACTS), sms_client, url, "c")
    sim.recharge(101, 100)
    send(contacts(15, **CONTACTS), sms_client, url, "c")
    cost = smsframe.audit(url, "c").cost
    assert (cost.charged, cost.delta) == (15, -85)
    assert cost.reconciles is False
    assert "recharged" in cost.note


def test_reconciliation_fails_when_an_unknown_call_cannot_explain_the_delta(sim, sms_client, url):
    sim.inject("SendMessage", "drop-after", times=1)
    send(contacts(10, **CONTACTS), sms_client, url, "c")  # unknown, charged 10
    sms_client.send("外部通知", ["13800000000"], timestamp=123)
    send(contacts(15, **CONTACTS), sms_client, url, "c")
    cost = smsframe.audit(url, "c").cost
    assert (cost.charged, cost.unknown, cost.delta) == (5, 10, 16)
    assert cost.reconciles is False


def test_no_closing_balance_cannot_reconcile(sim, sms_client, url):
    # GetBalance #1 is the pre-flight check; #2, the closing balance, fails.
    sim.inject("GetBalance", "delay", times=1, delay_ms=1)
    sim.inject("GetBalance", "http500", times=1)
    send(contacts(5, **CONTACTS), sms_client, url, "c")
    cost = smsframe.audit(url, "c").cost
    assert (cost.balance_before, cost.balance_after) == (BALANCE, None)
    assert cost.reconciles is None
    assert "not recorded" in cost.note


@pytest.mark.parametrize(
    ("charged", "unknown", "before", "after", "reconciles", "verdict"),
    [
        (10, 0, 100, 90, True, None),
        (10, 5, 100, 90, True, "not_charged"),
        (10, 5, 100, 85, True, "charged"),
        (10, 5, 100, 87, True, "some"),
        (10, 5, 100, 84, False, None),
        (10, 0, 100, 91, False, None),
        (10, 0, 100, None, None, None),
        (10, 0, None, None, None, None),
    ],
)
def test_cost_reconciles_within_the_unknown_parts(
    charged, unknown, before, after, reconciles, verdict
):
    cost = Cost(charged, unknown, before, after, journal=True)
    assert cost.reconciles is reconciles
    assert cost.unknown_charged == verdict
    assert cost.note
    assert cost.to_frame().shape == (1, 8)


def test_batches_table(every, sim, url):
    delivered = sim.deliveries()["batch_id"].unique()
    assert len(delivered) == 1
    for audit in (every.sms.audit(), every.sms.audit(journal=url, campaign="all")):
        table = audit.to_frame("batches")
        assert len(table) == 2
        keyword, main_batch = table.iloc[0], table.iloc[1]
        assert pd.isna(keyword["batch_id"])  # refused: the provider opened no batch
        assert (keyword["calls"], keyword["recipients"], keyword["failed"]) == (1, 5, 5)
        assert main_batch["batch_id"] == delivered[0]
        assert main_batch["calls"] == 4
        assert main_batch["recipients"] == 40
        assert (main_batch["sent"], main_batch["failed"], main_batch["unknown"]) == (18, 12, 10)
        assert main_batch["parts"] == 18
        assert table["first_at"].dt.tz is not None
        assert set(table["timestamp"]) == set(every["sms_timestamp"].dropna())


def test_segments_table(every):
    audit = every.sms.audit(by="segment")
    table = audit.to_frame("segments")
    expected = pd.crosstab(every["segment"], every["sms_status"].astype(str))
    for status in expected.columns:
        assert table[status].to_dict() == expected[status].to_dict()
    assert table["rows"].sum() == len(every)
    assert table["parts"].sum() == 18
    assert table.loc["vip", "sent_share"] == pytest.approx(table.loc["vip", "sent"] / 23)
    two = every.sms.audit(by=["segment", "offer"]).to_frame("segments")
    assert two.index.nlevels == 2 and two["rows"].sum() == len(every)
    with pytest.raises(ValueError, match="no column 'city'"):
        every.sms.audit(by="city")
    with pytest.raises(ValueError, match="by="):
        every.sms.audit().to_frame("segments")


def test_hours_table(every):
    table = every.sms.audit().to_frame("hours")
    assert table["recipients"].sum() == 45  # every row a call was made for
    assert table[["sent", "failed", "unknown"]].sum().to_dict() == {
        "sent": 18,
        "failed": 17,
        "unknown": 10,
    }
    assert str(table.index.tz) == "Asia/Shanghai"
    assert (table.index == table.index.floor("h")).all()


def test_unknown_rows_say_what_to_do(every, url):
    table = every.sms.audit(journal=url, campaign="all").to_frame("unknown")
    assert list(table.index) == list(range(15, 25))
    assert (table["sms_status"] == "unknown").all()
    assert table["action"].str.contains("do not resend").all()
    assert {"name", "segment", "sms_phone", "sms_timestamp"} <= set(table.columns)
    # Without the balance, the advice is to check before resending.
    bare = every.copy()
    bare.attrs = {}  # forget the journal the frame was sent with
    alone = bare.sms.audit().to_frame("unknown")
    assert alone["action"].str.contains("resend_unknown=True").all()


def test_resend_rows_are_failed_safe_ones_and_skipped_ones(every):
    table = every.sms.audit().to_frame("resend")
    failed = every.index[every["sms_status"] == "failed"]
    skipped = every.index[every["sms_status"] == "skipped"]
    assert set(table.index) == set(failed) | set(skipped)
    actions = table.groupby(table["sms_state"].astype("Int64").fillna(0))["action"].first()
    assert "banned keyword" in actions[-13]
    assert "recharge" in actions[-8]
    assert "check the number" in table.loc[6, "action"]
    assert table.loc[skipped, "rerun"].all()
    # A rerun resends the -8 rows (once recharged), not the content refusals.
    minus_8 = every.index[every["sms_state"].eq(-8).fillna(False)]
    assert table.loc[minus_8, "rerun"].all()
    assert not table.loc[failed.difference(minus_8), "rerun"].any()


def test_rerun_flags_tell_the_truth(every, sim, sms_client, url):
    resend = every.sms.audit().to_frame("resend")
    sim.clear_faults()
    again = send(every_status_frame(), sms_client, url, "all", workers=1)
    rerun = resend.index[resend["rerun"]]
    assert (again.loc[rerun, "sms_status"] == "sent").all()
    others = resend.index[~resend["rerun"]]
    assert (again.loc[others, "sms_status"] == "failed").all()
    assert (again["sms_status"] == "unknown").sum() == 10  # never resent silently
    # The campaign's two runs still reconcile: 43 sent (the -8 call's rows too, once the
    # balance allows) + the 10 of the lost call.
    cost = again.sms.audit(journal=url, campaign="all").cost
    assert (cost.charged, cost.delta, cost.reconciles) == (43, 53, True)


def test_rejected_rows_by_reason(every):
    table = every.sms.audit().to_frame("rejected")
    assert list(table.index) == [902, 900, 901]  # duplicate, not_a_number, not_mobile
    assert table["sms_reason"].astype(str).tolist() == ["duplicate", "not_a_number", "not_mobile"]
    assert table["sms_detail"].notna().all()
    assert "name" in table.columns


def test_journal_audit_has_every_row_of_the_latest_run(every, url):
    frame = every.sms.audit(journal=url, campaign="all")
    journal = smsframe.audit(url, "all")
    assert isinstance(journal, Audit)
    assert len(journal.rows) == len(every)  # called, rejected and skipped
    called = journal.rows["sms_call_id"].notna()
    assert int(called.sum()) == 45
    assert journal.status["count"].to_dict() == frame.status["count"].to_dict()
    assert journal.cost == frame.cost
    pd.testing.assert_frame_equal(journal.batches, frame.batches)
    assert len(journal.to_frame("rejected")) == len(frame.to_frame("rejected")) > 0
    assert len(journal.to_frame("resend")) == len(frame.to_frame("resend"))
    assert "journal" in repr(journal)
    # Another connection, a Journal object, the same audit.
    again = smsframe.audit(Journal(url), "all")
    assert again.summary().equals(journal.summary())


def test_journal_audit_refuses_a_missing_journal_or_campaign(tmp_path, every, url):
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(FileNotFoundError):
        smsframe.audit(f"sqlite:///{missing}", "all")
    assert not missing.exists()  # not created empty
    with pytest.raises(ValueError, match="'all'"):
        smsframe.audit(url, "other")


def test_to_frame_every_table_and_copies(every, url):
    audit = every.sms.audit(by="segment", journal=url, campaign="all")
    assert audit.tables == list(TABLES)
    for name in audit.tables:
        table = audit.to_frame(name)
        assert isinstance(table, pd.DataFrame) and not table.empty, name
    table = audit.to_frame("status")
    table["count"] = 0
    assert audit.to_frame("status")["count"].sum() == len(every)
    with pytest.raises(ValueError, match="choose one of"):
        audit.to_frame("nope")
    assert "segments" not in every.sms.audit().tables


def test_repr_and_html(every, url):
    audit = every.sms.audit(by="segment", journal=url, campaign="all")
    text = repr(audit)
    for word in ("'all'", "skipped", "banned keyword", "reconciles", "by segment", "to act on"):
        assert word in text
    assert "10 unknown" in text and "32 safe to resend" in text and "3 rejected" in text
    html = audit._repr_html_()
    assert html.count("<table") >= 6 and "to act on" in html
    page = audit.to_html()
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page
    assert ACCOUNT[2] not in text + page


def test_plot_returns_a_figure(every):
    figure = every.sms.audit().plot()
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 3
    assert figure.axes[0].get_title() == "rows by status"
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_plot_of_a_campaign_that_sent_nothing():
    df = pd.DataFrame({"phone": ["hello", ""]}).sms.normalize()
    df["sms_status"] = "rejected"
    audit = from_frame(df)
    assert isinstance(audit.plot(), Figure)
    assert audit.batches.empty and audit.hours.empty
    assert audit.cost.charged == 0


def test_a_scheduled_campaign(sim, sms_client, url):
    at = pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(hours=2)
    out = contacts(12, **CONTACTS).sms.schedule(
        sms_client,
        message="明早见",
        at=at.to_pydatetime(),
        campaign="s",
        journal=url,
        progress=False,
    )
    audit = out.sms.audit(journal=url, campaign="s")
    assert audit.status["count"].to_dict() == {"scheduled": 12}
    assert audit.batches["scheduled"].sum() == 12
    assert audit.cost.charged == 12 and audit.cost.reconciles is True
    reasons = audit.reasons.set_index("status")
    assert reasons.loc["scheduled", "meaning"] == "scheduled"
    assert smsframe.audit(url, "s").cost == audit.cost


def test_audit_never_modifies_the_frame(every):
    before = every.copy()
    every.sms.audit(by="segment").plot()
    pd.testing.assert_frame_equal(every, before)


def test_misuse_is_refused(every, url):
    with pytest.raises(ValueError, match="not a result frame"):
        contacts(3, **CONTACTS).sms.audit()
    with pytest.raises(ValueError, match="both"):
        every.sms.audit(journal=url)
    assert callable(smsframe.audit) and "audit" in smsframe.__all__  # the function, not the module


# -- the CLI -----------------------------------------------------------------------------------
def test_cli_audit_writes_html_csv_and_plot(every, url, tmp_path, capsys):
    html, csv, png = tmp_path / "a.html", tmp_path / "tables", tmp_path / "a.png"
    args = ["audit", "--journal", url, "--campaign", "all", "--by", "operation"]
    assert main([*args, "--html", str(html), "--csv", str(csv), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Audit of campaign 'all'" in out and "reconciles" in out
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.stem for p in csv.iterdir()) == sorted(TABLES)
    batches = pd.read_csv(csv / "batches.csv")
    assert batches["recipients"].sum() == 45


def test_cli_campaigns_lists_totals(every, sim, sms_client, url, capsys):
    send(contacts(4, start=500, **CONTACTS), sms_client, url, "second")
    assert main(["campaigns", "--journal", url]) == 0
    out = capsys.readouterr().out
    assert "all" in out and "second" in out and "reconciles" in out
    table = campaigns(url)
    assert list(table.index) == ["all", "second"]
    assert table.loc["all", ["sent", "failed", "unknown"]].tolist() == [18, 17, 10]
    assert table.loc["second", "charged"] == 4
    assert table["reconciles"].tolist() == [True, True]


def test_cli_errors_exit_2_without_creating_a_journal(tmp_path, every, url, capsys):
    missing = tmp_path / "missing.sqlite"
    assert main(["audit", "--journal", f"sqlite:///{missing}", "--campaign", "x"]) == 2
    assert main(["campaigns", "--journal", f"sqlite:///{missing}"]) == 2
    assert not missing.exists()
    assert main(["audit", "--journal", url, "--campaign", "x"]) == 2
    assert "no campaign 'x'" in capsys.readouterr().err


def test_cli_entry_point_in_another_process(every, url):
    done = subprocess.run(
        [sys.executable, "-m", "smsframe.cli", "audit", "--journal", url, "--campaign", "all"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Audit of campaign 'all'" in done.stdout
    assert ACCOUNT[2] not in done.stdout + done.stderr


def test_no_warning_from_an_audit(every, url):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audit = every.sms.audit(by="segment", journal=url, campaign="all")
        repr(audit), audit._repr_html_(), audit.plot()


def test_a_result_frame_read_back_from_csv(every, tmp_path):
    every.to_csv(tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", index_col="contact_id", dtype={"phone": str})
    bare = every.copy()
    bare.attrs = {}  # a CSV keeps no attrs: compare with the frame alone
    audit, original = back.sms.audit(by="segment"), bare.sms.audit(by="segment")
    for name in ("status", "reasons", "batches", "hours", "segments"):
        pd.testing.assert_frame_equal(
            audit.to_frame(name), original.to_frame(name), check_dtype=False
        )
    assert audit.cost == original.cost
    assert list(audit.resend.index) == list(original.resend.index)
