"""Contact hygiene across campaigns: the suppression list, frequency caps and quiet
hours, through the accessor, against a real journal and the simulator."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from frames import contacts

import smsframe
from smsframe.errors import QuietHoursError
from smsframe.hygiene import QuietHours, caps, quiet_hours
from smsframe.suppression import suppress, suppressions, unsuppress

CHINA = ZoneInfo("Asia/Shanghai")
MESSAGE = "【smsframe】您好，会员日满200减30，回T退订"


def send(df, client, journal, campaign, **options):
    return df.sms.send(
        client, message=MESSAGE, campaign=campaign, journal=journal, progress=False, **options
    )


def delivered(sim) -> pd.Series:
    """How many messages each number received."""
    return sim.deliveries()["phone"].value_counts()


# -- the suppression list ----------------------------------------------------------
SPELLINGS = [
    "+86 138 0013 8000",
    "0086-138-0013-8000",
    "8613800138000",
    "(+86) 138-0013-8000",
    "１３８００１３８０００",  # full-width digits
    " 138 0013 8000\t",
    "tel:+86-138-0013-8000",
    "13800138000.0",  # Excel's float as text
    "手机：138 0013 8000",
]


@pytest.mark.parametrize("listed", SPELLINGS)
def test_a_number_suppressed_in_any_spelling_is_rejected_in_any_other(listed, journal):
    suppress([listed], reason="complaint", note="ticket 42", journal=journal)
    df = pd.DataFrame({"phone": [*SPELLINGS[::-1], "13900139000"]})
    plan = df.sms.plan(message=MESSAGE, journal=journal)
    reasons = plan.rows["sms_reason"].astype(object)
    first = df.index[0]  # the other spellings are duplicates of this row
    assert reasons[first] == "suppressed"
    assert (reasons[1:-1] == "duplicate").all()
    assert pd.isna(reasons.iloc[-1])
    detail = plan.rows.loc[first, "sms_detail"]
    assert "complaint" in detail and "ticket 42" in detail and "since" in detail
    assert plan.rejected()["suppressed"] == 1


def test_suppressed_numbers_are_never_sent_and_the_audit_counts_them(sim, sms_client, journal):
    df = contacts(20)
    suppress(df["phone"][:5], journal=journal)
    out = send(df, sms_client, journal, "promo")
    assert (out["sms_status"][:5] == "rejected").all()
    assert (out["sms_reason"][:5] == "suppressed").all()
    assert (out["sms_status"][5:] == "sent").all()
    assert set(sim.deliveries()["phone"]) == set(df["phone"][5:])
    for audit in (out.sms.audit(), smsframe.audit(journal, "promo")):
        rejected = audit.reasons.set_index("reason")["count"]
        assert rejected["suppressed"] == 5


def test_a_number_suppressed_after_the_plan_is_not_sent(sim, sms_client, journal):
    df = contacts(10)
    plan = df.sms.plan(message=MESSAGE, journal=journal)
    assert plan.summary()["recipients"] == 10
    suppress([df["phone"][3]], reason="opt_out", journal=journal)  # meanwhile
    out = plan.send(sms_client, campaign="late", journal=journal, progress=False)
    assert out.loc[3, "sms_reason"] == "suppressed"
    assert df["phone"][3] not in set(sim.deliveries()["phone"])
    assert (out["sms_status"] == "sent").sum() == 9


def test_removal_is_recorded_and_lets_the_number_be_sent_again(sim, sms_client, journal):
    df = contacts(3)
    suppress(df["phone"], journal=journal)
    assert (send(df, sms_client, journal, "one")["sms_reason"] == "suppressed").all()
    removed = unsuppress([df["phone"][0]], note="opted in", journal=journal)
    assert removed["status"].tolist() == ["removed"]
    out = send(df, sms_client, journal, "two")
    assert out["sms_status"].tolist() == ["sent", "rejected", "rejected"]
    history = suppressions(journal, history=True)
    assert history["action"].tolist() == ["add", "add", "add", "remove"]
    assert history["note"].iloc[-1] == "opted in"
    assert history["by"].str.contains("@").all()
    assert len(suppressions(journal)) == 2


def test_suppress_reports_values_that_are_no_number_and_adds_the_rest(journal):
    with pytest.warns(UserWarning, match="1 of 3 values are no phone number"):
        result = suppress(["13800138000", "hello", "+8613800138000"], journal=journal)
    assert result["status"].tolist() == ["suppressed", "not_a_number", "suppressed"]
    assert suppressions(journal)["phone"].tolist() == ["+8613800138000"]  # once
    again = suppress(["138 0013 8000"], journal=journal)
    assert again["status"].tolist() == ["already_suppressed"]
    with pytest.raises(ValueError, match="reason must be one of"):
        suppress(["13800138000"], reason="angry", journal=journal)


def test_suppress_reads_a_csv_file_and_a_frame_column(tmp_path, journal):
    path = tmp_path / "optouts.csv"
    pd.DataFrame({"mobile": ["13800138000", "13900139000"], "x": [1, 2]}).to_csv(path)
    suppress(path, column="mobile", journal=journal)
    suppress(pd.DataFrame({"phone": ["13700137000"]}), journal=journal)
    assert set(suppressions(journal)["phone"]) == {
        "+8613800138000",
        "+8613900139000",
        "+8613700137000",
    }
    with pytest.raises(KeyError, match="no column 'tel'"):
        suppress(path, column="tel", journal=journal)


def test_a_plan_without_a_journal_yet_makes_none():
    from smsframe.journal import address, default_url

    user_journal = address(default_url()).file
    assert not user_journal.exists()
    plan = contacts(3).sms.plan(message=MESSAGE)  # nothing was ever sent nor suppressed
    assert plan.summary()["recipients"] == 3
    assert not user_journal.exists()
    suppress(["13700000001"])  # the user's journal, made by the first suppression
    assert contacts(3).sms.plan(message=MESSAGE).rejected()["suppressed"] == 1


# -- frequency caps ------------------------------------------------------------------
def test_a_cap_counts_messages_across_campaigns(sim, sms_client, journal):
    first = contacts(10)
    send(first, sms_client, journal, "a")
    second = contacts(10, start=5)  # 5 numbers in common
    out = send(second, sms_client, journal, "b", cap=(1, "7D"))
    capped = out["sms_reason"] == "capped"
    assert capped.sum() == 5
    assert set(second.loc[capped, "phone"]) == set(first["phone"][5:])
    assert out.loc[capped, "sms_detail"].str.contains("campaign 'a'").all()
    assert out.loc[capped, "sms_detail"].str.startswith("1 message within 7 days").all()
    assert delivered(sim).max() == 1
    for audit in (out.sms.audit(), smsframe.audit(journal, "b")):
        assert audit.reasons.set_index("reason")["count"]["capped"] == 5
        assert "5 capped" in str(audit)
    # Two messages allowed: none capped.
    assert (send(second, sms_client, journal, "c", cap=(2, "7D"))["sms_status"] == "sent").all()
    assert delivered(sim).max() == 2


def test_a_plan_shows_what_the_cap_removes(sim, sms_client, journal):
    send(contacts(4), sms_client, journal, "a")
    plan = contacts(10).sms.plan(message=MESSAGE, journal=journal, cap=(1, "1D"))
    assert plan.rejected()["capped"] == 4
    assert plan.summary()["recipients"] == 6
    assert "rejected capped: 4" in repr(plan)
    assert "<th>capped</th><td>4</td>" in plan._repr_html_()


def test_a_rerun_never_counts_its_own_sends(sim, sms_client, journal):
    df = contacts(30)
    send(contacts(30), sms_client, journal, "other")  # one message each already
    sim.inject("SendMessage", "drop-after", times=1)  # 10 of "mine" are unknown
    first = send(df, sms_client, journal, "mine", cap=(2, "7D"), chunk_size=10, workers=1)
    assert (first["sms_status"] == "unknown").sum() == 10
    assert (first["sms_status"] == "sent").sum() == 20
    # Counting "mine" too, every number would have 2 messages and be capped.
    again = send(df, sms_client, journal, "mine", cap=(2, "7D"), chunk_size=10)
    pd.testing.assert_series_equal(again["sms_status"], first["sms_status"])
    resent = send(
        df, sms_client, journal, "mine", cap=(2, "7D"), chunk_size=10, resend_unknown=True
    )
    assert (resent["sms_status"] == "sent").all()
    assert delivered(sim).max() == 3  # other + mine + the resend of an unknown call
    # The plan knows which campaign it is for, when told.
    for_mine = df.sms.plan(message=MESSAGE, journal=journal, cap=(2, "7D"), campaign="mine")
    assert "capped" not in for_mine.rejected()
    for_new = df.sms.plan(message=MESSAGE, journal=journal, cap=(2, "7D"))
    assert for_new.rejected()["capped"] == 30


def test_unknown_and_scheduled_messages_count_failed_ones_do_not(sim, sms_client, journal):
    df = contacts(12)
    sim.inject("SendMessage", "drop-after", times=1)
    send(df[:4], sms_client, journal, "unknown", workers=1)  # unknown: may have gone out
    at = datetime.now(CHINA) + timedelta(hours=2)
    df[4:8].sms.schedule(
        sms_client, message=MESSAGE, at=at, campaign="later", journal=journal, progress=False
    )
    sim.inject("SendMessage", "state-10", times=1)  # -10: refused, nothing sent
    failed = send(df[8:], sms_client, journal, "failed", workers=1)
    assert (failed["sms_status"] == "failed").all()
    plan = df.sms.plan(message=MESSAGE, journal=journal, cap=(1, "1D"))
    reasons = plan.rows["sms_reason"].astype(object)
    assert (reasons[:8] == "capped").all()
    assert reasons[8:].isna().all()


def test_a_cap_window_is_around_each_rows_own_schedule_time(sim, sms_client, journal):
    df = contacts(4)
    send(df, sms_client, journal, "now")
    later = df.assign(at=[datetime.now(CHINA) + timedelta(hours=h) for h in (1, 5, 30, 50)])
    plan = later.sms.plan(message=MESSAGE, at="at", journal=journal, cap=(1, "1D"))
    assert plan.rows["sms_reason"].astype(object).tolist()[:2] == ["capped", "capped"]
    assert plan.rows["sms_reason"][2:].isna().all()


def test_a_listed_fail_phone_number_got_no_message(sim, sms_client, journal):
    df = contacts(3)
    sim.mark_unreachable([df["phone"][0]])  # listed in FailPhone of an accepted call
    out = send(df, sms_client, journal, "a", chunk_size=3)
    assert out["sms_status"].tolist() == ["failed", "sent", "sent"]
    failed = {df["phone"][0]}
    plan = df.sms.plan(message=MESSAGE, journal=journal, cap=(1, "1D"))
    capped = set(df.loc[plan.rows["sms_reason"] == "capped", "phone"])
    assert capped == set(df["phone"]) - failed


def test_caps_are_read_and_refused_in_words():
    assert caps([(1, "1D"), (3, "7D")])[1].messages == 3
    assert str(caps((3, "7D"))[0]) == "3 per 7 days"
    for bad in [(0, "7D"), (3, "soon"), (3, "-1D"), "3 a week", (True, "1D")]:
        with pytest.raises((ValueError, TypeError), match="cap"):
            caps(bad)


# -- quiet hours ---------------------------------------------------------------------
def quiet_around_now(hours: int = 1) -> tuple[str, str]:
    """Quiet hours from an hour ago to ``hours`` from now, China time."""
    now = datetime.now(CHINA)
    return (f"{now - timedelta(hours=1):%H:%M}", f"{now + timedelta(hours=hours):%H:%M}")


def test_quiet_hours_contain_times_across_midnight_aware_or_not():
    quiet = quiet_hours(("21:00", "08:00"))
    times = pd.Series(
        pd.to_datetime(
            ["2030-01-01 20:59", "2030-01-01 21:00", "2030-01-02 07:59", "2030-01-02 08:00"]
        ).tz_localize(CHINA)
    )
    assert quiet.contains(times).tolist() == [False, True, True, False]
    utc = pd.Series([pd.Timestamp("2030-01-01 13:30", tz="UTC")])  # 21:30 in China
    assert quiet.contains(utc).tolist() == [True]
    day = QuietHours(*quiet_hours("12:00-13:00").__dict__.values())
    assert day.contains(times).tolist() == [False] * 4
    assert quiet.next_allowed(pd.Timestamp("2030-01-01 22:00", tz=CHINA)) == pd.Timestamp(
        "2030-01-02 08:00", tz=CHINA
    )
    assert quiet.next_allowed(pd.Timestamp("2030-01-02 07:00", tz=CHINA)) == pd.Timestamp(
        "2030-01-02 08:00", tz=CHINA
    )
    for bad in ["21:00", ("25:00", "08:00"), ("08:00", "08:00"), 21]:
        with pytest.raises(ValueError, match="quiet_hours"):
            quiet_hours(bad)


@pytest.mark.filterwarnings("ignore::smsframe.preflight.NaiveTimeWarning")
def test_schedule_times_in_quiet_hours_are_rejected_per_row_naive_or_aware(journal):
    day = (datetime.now(CHINA) + timedelta(days=2)).date()
    df = contacts(5).assign(
        at=[
            f"{day} 20:59",  # naive: China time
            f"{day} 21:00",
            f"{day} 23:30+08:00",
            pd.Timestamp(f"{day} 15:30", tz="UTC"),  # 23:30 in China
            pd.Timestamp(f"{day} 01:00", tz="UTC"),  # 09:00 in China
        ]
    )
    plan = df.sms.plan(message=MESSAGE, at="at", quiet_hours=("21:00", "08:00"), journal=journal)
    reasons = plan.rows["sms_reason"].astype(object).tolist()
    assert reasons[1:4] == ["quiet_hours"] * 3
    assert plan.rows["sms_reason"][[0, 4]].isna().all()
    assert "inside the quiet hours 21:00-08:00" in plan.rows.loc[1, "sms_detail"]
    assert "23:30" in plan.rows.loc[3, "sms_detail"]
    assert "quiet_hours" not in df.sms.plan(message=MESSAGE, at="at").rejected()  # off


def test_a_send_inside_quiet_hours_is_refused_before_anything(sim, sms_client, journal):
    with pytest.raises(QuietHoursError, match="schedule_if_quiet=True") as raised:
        send(contacts(3), sms_client, journal, "night", quiet_hours=quiet_around_now())
    assert raised.value.next_allowed > pd.Timestamp.now(tz=CHINA)
    assert sim.deliveries().empty
    assert journal.campaign_info("night") is None


def test_schedule_if_quiet_schedules_for_when_they_end(sim, sms_client, journal):
    quiet = quiet_around_now(hours=2)
    out = send(contacts(3), sms_client, journal, "night", quiet_hours=quiet, schedule_if_quiet=True)
    assert (out["sms_status"] == "scheduled").all()
    when = out["sms_scheduled_for"].iloc[0]
    assert f"{when:%H:%M}" == quiet[1]
    assert when > pd.Timestamp.now(tz=CHINA)
    with pytest.raises(ValueError, match="extension"):
        send(
            contacts(3),
            sms_client,
            journal,
            "ext",
            quiet_hours=quiet,
            ext="12",
            schedule_if_quiet=True,
        )


def test_schedule_if_quiet_with_rows_a_cap_rejected(sim, sms_client, journal):
    """Rows the plan's cap rejected are decided again as the campaign starts: they get
    the schedule time too (at 2f5d776 they had none, and the cap's journal query failed
    on it: notebook 04 raised JournalError when run inside its quiet hours)."""
    df = contacts(4)
    send(df.iloc[:2], sms_client, journal, "earlier")
    plan = df.sms.plan(
        message=MESSAGE, cap=(1, "7D"), quiet_hours=quiet_around_now(hours=2), journal=journal
    )
    assert plan.rows["sms_reason"].astype(object).tolist()[:2] == ["capped"] * 2
    out = plan.send(
        sms_client, campaign="night", journal=journal, schedule_if_quiet=True, progress=False
    )
    assert out["sms_status"].astype(str).tolist() == ["rejected"] * 2 + ["scheduled"] * 2
    assert out["sms_reason"].astype(object).tolist()[:2] == ["capped"] * 2
    assert out["sms_scheduled_for"].iloc[2] > pd.Timestamp.now(tz=CHINA)


def test_a_team_default_from_the_environment_and_off_by_choice(
    sim, sms_client, journal, monkeypatch
):
    monkeypatch.setenv("SMSFRAME_QUIET_HOURS", "-".join(quiet_around_now()))
    with pytest.raises(QuietHoursError):
        send(contacts(2), sms_client, journal, "night")
    out = send(contacts(2), sms_client, journal, "night", quiet_hours=False)
    assert (out["sms_status"] == "sent").all()


def test_quiet_hours_off_by_default_at_any_time(sim, sms_client, journal):
    assert (send(contacts(2), sms_client, journal, "any")["sms_status"] == "sent").all()


def suppress_at_once(url: str, threads: int = 4, numbers: int = 300) -> list[pd.DataFrame]:
    """``threads`` journals on ``url`` suppressing the same numbers at the same moment."""
    import threading

    from smsframe.journal import Journal

    barrier = threading.Barrier(threads)
    results: list[pd.DataFrame] = []
    phones = [f"1370000{i:04d}" for i in range(numbers)]

    def one() -> None:
        journal = Journal(url)
        try:
            barrier.wait()
            results.append(suppress(phones, journal=journal))
        finally:
            journal.close()

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def check_each_change_recorded_once(url: str, results: list[pd.DataFrame]) -> None:
    assert len(results) == 4
    added = sum(int((r["status"] == "suppressed").sum()) for r in results)
    assert added == 300  # each number added by exactly one of them, the others saw it
    history = suppressions(url, history=True)
    assert len(history) == 300 and history["phone"].is_unique


def test_journals_suppressing_the_same_numbers_at_once_record_each_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    suppressions(url)  # made before the race: the race is the suppression's, not the tables'
    check_each_change_recorded_once(url, suppress_at_once(url))


def test_a_rerun_does_not_send_to_numbers_suppressed_since_its_first_run(sim, sms_client, journal):
    df = contacts(20)
    first = send(df[:10], sms_client, journal, "spring")  # stopped halfway, say
    assert (first["sms_status"] == "sent").all()
    suppress(df["phone"][5:15], reason="complaint", journal=journal)  # rows 5-9 were sent
    again = send(df, sms_client, journal, "spring")
    status = again["sms_status"].astype(str).tolist()
    assert status[:10] == ["sent"] * 10  # what the journal recorded wins
    assert status[10:15] == ["rejected"] * 5
    assert (again["sms_reason"][10:15] == "suppressed").all()
    assert status[15:] == ["sent"] * 5
    assert delivered(sim).max() == 1 and len(sim.deliveries()) == 15
    assert smsframe.audit(journal, "spring").reasons.set_index("reason")["count"]["suppressed"] == 5


def test_a_rerun_with_a_cap_added_resends_nothing_and_shows_what_was_sent(sim, sms_client, journal):
    df = contacts(6)
    send(df, sms_client, journal, "other")
    first = send(df[:3], sms_client, journal, "mine")
    again = send(df, sms_client, journal, "mine", cap=(1, "7D"))  # the cap came later
    assert again["sms_status"].astype(str).tolist()[:3] == ["sent"] * 3
    pd.testing.assert_series_equal(again["sms_batch_id"][:3], first["sms_batch_id"])
    assert (again["sms_reason"][3:] == "capped").all()  # "other" reached them already
    assert delivered(sim).max() == 2 and len(sim.deliveries()) == 9


# -- suppressed while a campaign is sending: enforced where each intent commits --------
@pytest.mark.sim(latency_ms=150)
def test_a_number_suppressed_while_the_campaign_sends_gets_no_call(sim, sms_client, tmp_path):
    import threading

    from smsframe.journal import Journal

    url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    df = contacts(10)
    done: dict[str, pd.DataFrame] = {}
    sending = threading.Thread(
        target=lambda: done.update(
            out=df.sms.send(
                sms_client,
                message=MESSAGE,
                campaign="slow",
                journal=url,
                progress=False,
                chunk_size=1,
                workers=1,
            )
        )
    )
    sending.start()
    while sim.deliveries().empty:  # the campaign has started sending
        assert sending.is_alive()
    colleague = Journal(url)  # another journal on the same file, as another process has
    suppress(df["phone"][7:], reason="complaint", note="called support", journal=colleague)
    colleague.close()
    sending.join(timeout=60)
    out = done["out"]
    assert set(sim.deliveries()["phone"]) == set(df["phone"][:7])
    assert (out["sms_status"][:7] == "sent").all()
    assert (out["sms_status"][7:] == "rejected").all()
    assert (out["sms_reason"][7:] == "suppressed").all()
    assert out["sms_detail"][7:].str.startswith("suppressed while the campaign was sending").all()
    audit = smsframe.audit(url, "slow")
    assert audit.reasons.set_index("reason")["count"]["suppressed"] == 3


def test_an_intent_with_a_suppressed_number_commits_nothing(journal):
    from smsframe.journal import Intent, Suppressed

    suppress(["13700000002"], journal=journal)
    intent = Intent(
        campaign="c",
        call_key="k",
        group_key="g",
        operation="SendMessage",
        message_hash="h",
        ext=None,
        scheduled_for=None,
        timestamp=1,
        numbers=("13700000001", "13700000002", "13700000003"),
        parts=1,
    )
    with journal.lease("c") as lease:
        with pytest.raises(Suppressed) as refused:
            journal.record_intent(intent, lease)
        assert refused.value.numbers == {"13700000002"}
        assert journal.calls("c").empty  # nothing committed: no call may be made
        unsuppress(["13700000002"], journal=journal)
        assert journal.record_intent(intent, lease) > 0  # off the list: it commits


def test_a_campaign_whose_every_row_is_suppressed_says_so(sim, sms_client, journal):
    df = contacts(3)
    suppress(df["phone"], journal=journal)
    with pytest.warns(UserWarning, match="all 3 rows are rejected .* suppressed"):
        out = send(df, sms_client, journal, "none-left")
    assert (out["sms_reason"] == "suppressed").all()
    assert sim.deliveries().empty
