"""smsframe.lint: each rule fires on what it names and not on its look-alikes; counts
are pending rows; the cost hint's figures are checked against plan.rows directly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import smsframe  # noqa: F401 - registers df.sms
from smsframe.demo import MESSAGE
from smsframe.errors import InvalidType
from smsframe.lint import RULES, Finding, lint, lint_frame

CONTACTS = Path(__file__).resolve().parents[1] / "data" / "contacts.csv"
DAY = pd.Timestamp("2030-01-01 10:00", tz="Asia/Shanghai")
SIGNED = "【品牌】您的验证码是123456，5分钟内有效"  # transactional, clean, 1 part
PROMO = "【品牌】双十一全场满200减30，回T退订"  # marketing, signed, opt-out


def plan_rows(messages: list, status: list | None = None, scheduled: list | None = None):
    """A plan's rows as lint reads them: one row per message."""
    status = status or ["pending"] * len(messages)
    rows = pd.DataFrame(
        {
            "sms_message": pd.Series(messages, dtype="str"),
            "sms_status": pd.Categorical(status, categories=["pending", "rejected"]),
        }
    )
    if scheduled is not None:
        rows["sms_scheduled_for"] = pd.DatetimeIndex(scheduled)
    return rows


def by_rule(rows: pd.DataFrame, send_at: pd.Timestamp = DAY) -> dict[str, Finding]:
    return {f.rule: f for f in lint(rows, send_at=send_at)}


# --------------------------------------------------------------------------- signature
@pytest.mark.parametrize(
    "message", [SIGNED, "您的验证码是123456【品牌】", "  【品牌】您好", "您好，到货了【品牌】 "]
)
def test_a_signature_at_the_start_or_end_is_enough(message):
    assert "no_signature" not in by_rule(plan_rows([message, message]))


@pytest.mark.parametrize("message", ["您的验证码是123456", "您好【品牌】，到货了", "【】您好"])
def test_no_signature_at_either_end_is_found(message):
    found = by_rule(plan_rows([message, message, SIGNED]))["no_signature"]
    assert found.rows == 2
    assert found.text.startswith("2 rows carry no 【...】 signature")
    assert "add your registered signature, e.g. 【品牌】, at the start" in found.text
    assert found.example == message


# --------------------------------------------------------------------------- marketing, opt-out
@pytest.mark.parametrize(
    "message",
    [
        "【品牌】全场5折",
        "【品牌】双十一满300减50",
        "【品牌】会员日快来抢购",
        "【品牌】领券立减",
        "【品牌】限时秒杀",
        "【品牌】新品上新，全场包邮",
        "【Brand】Big SALE today",
        "【品牌】全场sale",
        "【Brand】20% off everything",
        "【Brand】your Discount Coupon",
    ],
)
def test_marketing_without_an_opt_out_is_found(message):
    found = by_rule(plan_rows([message]))["no_opt_out"]
    assert (found.rows, found.example) == (1, message)
    assert found.text.startswith("1 row looks like marketing without an opt-out line")
    assert "回T退订" in found.text


@pytest.mark.parametrize(
    "message",
    [
        SIGNED,
        "【品牌】您的订单已发货，运单号SF123",
        "【Brand】Your order has shipped",
        "【品牌】满意度调查：请回复1-5",  # 满 without 数字减
    ],
)
def test_transactional_texts_need_no_opt_out(message):
    assert by_rule(plan_rows([message])) == {}


@pytest.mark.parametrize(
    "opt_out",
    [
        "回T退订",
        "退订回T",
        "回TD退订",
        "拒收请回复R",
        "Reply STOP to opt out",
        "reply td",
        "Unsubscribe: t",
        "请reply STOP",
    ],
)
def test_each_opt_out_line_counts(opt_out):
    assert "no_opt_out" not in by_rule(plan_rows([f"【品牌】全场5折，{opt_out}"]))


# --------------------------------------------------------------------------- links
@pytest.mark.parametrize(
    "link",
    [
        "http://x.cn/a",
        "https://example.com",
        "www.example.org",
        "www.brand.so",  # a domain not in the common list: www. is enough
        "t.cn/A6xYz",
        "example.com",
        "Shop.COM",
        "m.jd.com/item",
    ],
)
def test_links_are_found(link):
    message = f"【品牌】订单已发货，详情见{link}查看"
    found = by_rule(plan_rows([message, SIGNED]))["url"]
    assert (found.rows, found.example) == (1, message)
    assert found.text.startswith("1 row contains a link")


@pytest.mark.parametrize(
    "message",
    [
        "【品牌】全场3.5折",
        "【品牌】每件仅需1.5元",
        "【品牌】版本2.0已发布",
        "【Brand】e.g. this",
        "【品牌】No.1",
        "【品牌】请邮件service@brand.com",  # an address is not a link
    ],
)
def test_numbers_and_abbreviations_are_not_links(message):
    assert "url" not in by_rule(plan_rows([message]))


# --------------------------------------------------------------------------- costly characters
def test_a_zero_width_space_that_costs_a_part_is_found():
    message = "【品牌】" + "好" * 66  # 70 characters: 1 part
    assert len(message) == 70
    rows = plan_rows([message + "\u200b"] * 3 + [message])
    found = by_rule(rows)["costly_characters"]
    assert found.rows == 3
    assert "3 rows would need fewer parts without them (saves 3 parts)" in found.text
    assert found.example == (message + "\u200b")[:40] + "…"


@pytest.mark.parametrize(
    "message",
    [
        " 【品牌】您好",
        "【品牌】您好\n",
        "【品牌】您好  欢迎",
        "【品牌】您\u00ad好",
        "\ufeff【品牌】您好",
        "【品牌】您\u2060好",
        "【品牌】您\u200d好",
    ],
)
def test_characters_that_add_length_for_nothing(message):
    found = by_rule(plan_rows([message]))["costly_characters"]
    assert found.rows == 1
    assert "none would need fewer parts" in found.text


def test_single_spaces_and_newlines_inside_cost_nothing():
    assert by_rule(plan_rows(["【Brand】Hello there,\nsee you"])) == {}


# --------------------------------------------------------------------------- quiet hours
def test_quiet_hours_per_row_in_china_time():
    china = pd.DatetimeIndex(
        ["2030-01-01 20:59", "2030-01-01 21:00", "2030-01-02 07:59", "2030-01-02 08:00"]
    ).tz_localize("Asia/Shanghai")
    rows = plan_rows(
        ["【品牌】a", "【品牌】b", "【品牌】c", "【品牌】d", "【品牌】e"],
        scheduled=[*china, pd.NaT],  # no time: not counted
    )
    found = by_rule(rows, send_at=pd.Timestamp("2030-01-01 23:00", tz="Asia/Shanghai"))
    quiet = found["quiet_hours"]  # the column wins over send_at
    assert (quiet.rows, quiet.example) == (2, "【品牌】b")
    assert quiet.text.startswith(
        "2 rows would be sent between 21:00 and 08:00 China Standard Time (marketing texts "
        "are expected 08:00-21:00): schedule them for 08:00"
    )
    assert 'quiet_hours=("21:00", "08:00")' in quiet.text


def test_quiet_hours_of_utc_times_are_read_in_china_time():
    utc = pd.DatetimeIndex(
        ["2030-01-01 12:59", "2030-01-01 13:00", "2030-01-01 23:59", "2030-01-02 00:00"]
    ).tz_localize("UTC")  # 20:59, 21:00, 07:59, 08:00 in China
    rows = plan_rows(["【品牌】a", "【品牌】b", "【品牌】c", "【品牌】d"], scheduled=utc)
    assert by_rule(rows)["quiet_hours"].rows == 2
    rows = plan_rows(["【品牌】a", "【品牌】d"], scheduled=utc[[0, 3]])
    assert "quiet_hours" not in by_rule(rows)


@pytest.mark.parametrize(
    ("send_at", "quiet"),
    [
        (pd.Timestamp("2030-01-01 20:59", tz="Asia/Shanghai"), False),
        (pd.Timestamp("2030-01-01 21:00", tz="Asia/Shanghai"), True),
        (pd.Timestamp("2030-01-02 07:59", tz="Asia/Shanghai"), True),
        (pd.Timestamp("2030-01-02 08:00", tz="Asia/Shanghai"), False),
        (pd.Timestamp("2030-01-01 14:00", tz="UTC"), True),  # 22:00 in China
        (pd.Timestamp("2030-01-01 02:00", tz="UTC"), False),  # 10:00 in China
        (pd.Timestamp("2030-01-01 22:00"), True),  # naive: China time
    ],
)
def test_quiet_hours_of_send_at(send_at, quiet):
    rows = plan_rows([SIGNED] * 1234 + ["【品牌】x"], status=["pending"] * 1234 + ["rejected"])
    found = by_rule(rows, send_at=send_at)
    assert ("quiet_hours" in found) is quiet
    if quiet:
        assert found["quiet_hours"].rows == 1234
        assert found["quiet_hours"].text.startswith("1,234 rows would be sent between 21:00")


# --------------------------------------------------------------------------- the cost hint
def test_the_cost_hint_on_a_constant_message_of_71_characters():
    message = "【品牌】" + "好" * 67
    assert len(message) == 71
    (found,) = lint(plan_rows([message] * 1204), send_at=DAY)
    assert found == Finding(
        "trim_saves_parts",
        1204,
        "1,204 rows need 2 parts; 1 character shorter and they need 1: saves 1,204 parts",
        message[:40] + "…",
    )


def test_the_cost_hint_on_a_constant_message_of_137_characters():
    message = "【品牌】" + "好" * 133
    assert len(message) == 137
    (found,) = lint(plan_rows([message] * 2), send_at=DAY)
    assert found.text == "2 rows need 3 parts; 3 characters shorter and they need 2: saves 2 parts"


@pytest.mark.parametrize("length", [70, 81, 134, 145, 201])
def test_no_cost_hint_when_trimming_would_take_more_than_ten_characters(length):
    assert by_rule(plan_rows(["【品牌】" + "好" * (length - 4)])) == {}


def test_the_cost_hint_on_one_row():
    (found,) = lint(plan_rows(["【品牌】" + "好" * 68]), send_at=DAY)
    assert found.text == "1 row needs 2 parts; 2 characters shorter and it needs 1: saves 1 part"


def test_the_cost_hint_on_a_template_groups_rows_by_parts():
    lengths = [70, 71, 71, 73, 80, 81, 136, 140, 150]
    rows = plan_rows(["【品牌】" + "好" * (n - 4) for n in lengths])
    hints = [f for f in lint(rows, send_at=DAY) if f.rule == "trim_saves_parts"]
    assert [f.text for f in hints] == [
        "4 rows need 2 parts; 10 characters shorter and they need 1: saves 4 parts",
        "2 rows need 3 parts; 6 characters shorter and they need 2: saves 2 parts",
    ]
    assert [f.rows for f in hints] == [4, 2]


# --------------------------------------------------------------------------- rows counted
def test_rejected_rows_are_ignored():
    night = pd.DatetimeIndex(["2030-01-01 23:00"] * 3).tz_localize("Asia/Shanghai")
    bad = " 全场5折 t.cn/x " + "好" * 60  # every rule but the part's
    rows = plan_rows([bad, bad, None], status=["rejected"] * 3, scheduled=night)
    assert lint(rows, send_at=DAY) == []
    rows = plan_rows([bad, PROMO, None], status=["pending", "pending", "rejected"], scheduled=night)
    found = by_rule(rows)
    assert [f.rule for f in lint(rows, send_at=DAY)] == [
        "no_signature",
        "no_opt_out",
        "url",
        "costly_characters",
        "quiet_hours",
        "trim_saves_parts",
    ]
    assert {rule: f.rows for rule, f in found.items()} == {
        "no_signature": 1,
        "no_opt_out": 1,
        "url": 1,
        "costly_characters": 1,
        "quiet_hours": 2,
        "trim_saves_parts": 1,
    }


def test_distinct_messages_are_counted_by_their_rows():
    rows = plan_rows(["您好"] * 5 + [SIGNED] * 3 + ["到货了"] * 7)
    found = by_rule(rows)["no_signature"]
    assert (found.rows, found.example) == (12, "到货了")  # the most frequent


def test_lint_takes_a_plans_rows():
    with pytest.raises(InvalidType, match=r"lint\(df.sms.plan"):
        lint(pd.DataFrame({"sms_message": ["x"]}))


# --------------------------------------------------------------------------- the demo data
def demo_plan(message: str):
    frame = pd.read_csv(CONTACTS, dtype={"phone": str}, keep_default_na=False)
    return frame.sms.plan(message=message)


def test_the_demo_message_is_signed_and_can_be_refused():
    found = by_rule(demo_plan(MESSAGE).rows)
    assert "no_signature" not in found
    assert "no_opt_out" not in found


@pytest.mark.parametrize(("at", "quiet"), [("2030-01-01 22:30", True), ("2030-01-01 09:30", False)])
def test_a_scheduled_plan_is_read_by_its_schedule_column(at, quiet):
    frame = pd.read_csv(CONTACTS, dtype={"phone": str}, keep_default_na=False)
    plan = frame.sms.plan(message=MESSAGE, at=pd.Timestamp(at, tz="Asia/Shanghai"))
    assert "sms_scheduled_for" in plan.rows.columns
    pending = int((plan.rows["sms_status"] == "pending").sum())
    found = by_rule(plan.rows, send_at=pd.Timestamp("2030-01-01 12:00", tz="UTC"))  # 20:00
    assert ("quiet_hours" in found) is quiet
    if quiet:
        assert found["quiet_hours"].rows == pending > 0


def test_a_long_unsigned_promotion_on_the_demo_data():
    message = "{name}您好，双十一会员日全场满200减30，" + "好" * 49  # names of 2-4 characters
    plan = demo_plan(message)
    found = by_rule(plan.rows)
    pending = plan.rows[plan.rows["sms_status"] == "pending"]
    assert found["no_signature"].rows == found["no_opt_out"].rows == len(pending) > 0
    length = pending["sms_message"].str.len()
    over = length[(length > 70) & (length <= 80)] - 70
    assert 0 < len(over) < len(pending)  # the two-character names fit in one part
    hint = found["trim_saves_parts"]
    assert hint.rows == len(over)
    assert hint.text == (
        f"{len(over):,} rows need 2 parts; {over.max()} characters shorter and they need 1: "
        f"saves {len(over):,} parts"
    )


@pytest.mark.parametrize(("length", "example"), [(40, "您" * 40), (41, "您" * 40 + "…")])
def test_the_example_is_cut_after_40_characters(length, example):
    assert by_rule(plan_rows(["您" * length]))["no_signature"].example == example


# --------------------------------------------------------------------------- display
def test_lint_frame_and_str():
    findings = lint(plan_rows(["您好", "您好"]), send_at=DAY)
    assert str(findings[0]) == findings[0].text
    assert findings[0].text.startswith("2 rows carry no 【...】 signature")
    frame = lint_frame(findings)
    assert list(frame.columns) == ["rule", "rows", "text", "example"]
    assert frame.to_dict("records") == [
        {"rule": "no_signature", "rows": 2, "text": findings[0].text, "example": "您好"}
    ]
    assert list(lint_frame([]).columns) == ["rule", "rows", "text", "example"]


def test_every_rule_has_a_meaning():
    assert list(RULES) == [
        "no_signature",
        "no_opt_out",
        "url",
        "costly_characters",
        "quiet_hours",
        "trim_saves_parts",
    ]
    assert all(meaning and "\n" not in meaning for meaning in RULES.values())
