"""Moderation actions as a group sees them: warn (with expiry), alert, the moderation log.

Playbooks here use ordinary triggers (`message: {keywords: [广告测试]}`): the moderation triggers are another
part of the bot; these actions must hold whatever triggers a playbook uses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.testing import TestBot
from handlers.moderation.log import ModerationEntry
from handlers.moderation.throttle import THROTTLE

pytestmark = pytest.mark.usefixtures("backend")

WARN = {
    "playbooks/warn.yaml": """
id: warn-ads
when:
  - message: {keywords: [广告测试]}
do:
  - warn: {reason: 发广告}
  - reply: "请勿发广告，这是第 {{ warn.count }} 次提醒"
    mention: true
""",
    "playbooks/short.yaml": """
id: warn-short
when:
  - message: {keywords: [短警告]}
do:
  - warn: {reason: 刷屏, expires: 1d}
  - reply: "提醒 {{ warn.count }}"
""",
}


def config(**sections: object) -> Config:
    data = {"staff": {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]}, **sections}
    return Config.model_validate(data)


async def test_warnings_count_across_groups_and_expire_after_thirty_days() -> None:
    async with TestBot.running(WARN, config=config()) as bot:
        bot.member("u9", "推广员")
        (first,) = await bot.say("u9", "广告测试 加我", room="r1")
        assert first.text == "请勿发广告，这是第 1 次提醒"
        (second,) = await bot.say("u9", "广告测试 加我", room="r2")  # spammers hop groups
        assert second.text == "请勿发广告，这是第 2 次提醒"
        assert await bot.field("u9", "warnings") == 2
        await bot.advance(timedelta(days=29))
        (third,) = await bot.say("u9", "广告测试", room="r1")
        assert third.text == "请勿发广告，这是第 3 次提醒"
        await bot.advance(timedelta(days=1, minutes=1))  # the first two are 30 days old now
        assert await bot.field("u9", "warnings") == 1
        assert await bot.field("u1", "warnings") == 0


async def test_a_warning_with_a_short_expiry_counts_only_that_long() -> None:
    async with TestBot.running(WARN, config=config()) as bot:
        assert [m.text for m in await bot.say("u9", "短警告", room="r1")] == ["提醒 1"]
        await bot.advance(timedelta(days=1, seconds=1))
        assert [m.text for m in await bot.say("u9", "短警告", room="r1")] == ["提醒 1"]


async def test_every_warning_is_in_the_moderation_log_with_the_message_that_triggered_it() -> None:
    async with TestBot.running(WARN, config=config()) as bot:
        bot.member("u9", "推广员")
        await bot.say("u9", "广告测试 https://spam.example/x", room="r1")
        rows = await bot.rows(select(ModerationEntry))
        (row,) = rows
        assert (row.action, row.member_id, row.member_name, row.room_id, row.reason) == (
            "warn",
            "u9",
            "推广员",
            "r1",
            "发广告",
        )
        assert (row.message_kind, row.message_text, row.playbook_id, row.staff_id) == (
            "text",
            "广告测试 https://spam.example/x",
            "warn-ads",
            None,
        )


async def test_staff_are_never_warned_whatever_the_playbook_says() -> None:
    async with TestBot.running(WARN, config=config()) as bot:
        sent = await bot.say("clerk", "广告测试 我们店的活动", room="r1")
        assert [m.text for m in sent] == ["请勿发广告，这是第 0 次提醒"]
        assert await bot.field("clerk", "warnings") == 0
        assert await bot.rows(select(ModerationEntry)) == []


ALERT = {
    "playbooks/alert.yaml": """
id: alert-ads
when:
  - message: {keywords: [广告测试]}
do:
  - alert: "{{ member.name }} 在 {{ room.topic }} 发广告"
"""
}


async def test_an_alert_goes_to_the_alert_room_and_to_staff_who_are_friends() -> None:
    cfg = config(alerts={"room": "店员群", "to": ["boss", "mgr"]})
    async with TestBot.running(ALERT, config=cfg) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.connector.not_friends.add("mgr")
        await bot.say("mgr", "你好", room="staffroom")  # mgr is in the store, not the bot's friend
        await bot.say("boss", "你好", room="staffroom")
        bot.member("u9", "推广员")
        sent = await bot.say("u9", "广告测试", room="r1")
        assert sorted((m.target_id, m.text) for m in sent) == [
            ("boss", "推广员 在 r1 发广告"),
            ("staffroom", "推广员 在 r1 发广告"),
        ]  # mgr cannot be messaged privately: the alert room only; never the customer group


async def test_an_alert_with_nowhere_to_go_is_logged_and_never_sent_to_the_customer_group(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with TestBot.running(ALERT, config=config()) as bot:
        bot.member("u9", "推广员")
        assert await bot.say("u9", "广告测试", room="r1") == []
        assert "alert (no alert room or reachable staff): 推广员 在 r1 发广告" in caplog.text


async def test_an_alert_room_named_by_topic_is_never_a_look_alike_group_nobody_bound() -> None:
    cfg = config(alerts={"room": "店员群"}, rooms=[{"id": "r1", "topic": "r1"}])
    async with TestBot.running(ALERT, config=cfg, trust_rooms=False) as bot:
        await bot.add_room("fake", "店员群")  # anyone can name a group 店员群
        bot.member("u9", "推广员")
        await bot.say("boss", "/绑定", room="r1")
        assert await bot.say("u9", "广告测试", room="r1") == []


async def test_alerts_are_not_cut_by_the_reply_budget_of_the_member_they_are_about() -> None:
    cfg = config(alerts={"room": "staffroom"}, sending={"reply_budget": {"messages": 1, "per": "1h"}})
    async with TestBot.running(ALERT, config=cfg) as bot:
        await bot.add_room("staffroom", "店员群")
        for _ in range(3):
            await bot.advance(THROTTLE)  # one alert about a member each THROTTLE (test_moderation_hostile.py)
            (alert,) = await bot.say("u9", "广告测试", room="r1")
            assert alert.target_id == "staffroom"
