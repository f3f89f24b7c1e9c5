"""`remove`: out of the group through a durable outbox row, ahead of the run's messages, outside the daily
limit; a refusal (the bot is no owner or admin, or WeChat says no) fails nothing and tells staff why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.store.tables import OutboxMessage, RoomMember
from bot.testing import TestBot
from handlers.moderation.log import ModerationEntry

pytestmark = pytest.mark.usefixtures("backend")

REMOVE = {
    "playbooks/remove.yaml": """
id: anti-ad
when:
  - message: {keywords: [广告测试]}
do:
  - say: "{{ member.name }} 发广告，已移出本群"
  - remove: {reason: 发广告}
"""
}


# MODERATION.md's example: the messages after the removal say it was done.
REMOVE_THEN_SAY = {
    "playbooks/remove.yaml": """
id: anti-ad
when:
  - message: {keywords: [广告测试]}
do:
  - remove: {reason: 发广告}
  - say: "{{ member.name }} 发广告，已移出本群"
  - alert: "已移出 {{ member.name }}（{{ room.topic }}）：发广告"
"""
}
NOT_REMOVED = "the removal it follows did not happen"


def config(**sections: object) -> Config:
    data = {"staff": {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]}, **sections}
    return Config.model_validate(data)


def removals(sent: list) -> list[tuple[str, str]]:
    return [(m.room.id, m.member.id) for m in sent if m.remove]


async def membership(bot: TestBot, member_id: str) -> dict[str, bool]:
    rows = await bot.rows(select(RoomMember.room_id, RoomMember.active).where(RoomMember.member_id == member_id))
    return {r.room_id: r.active for r in rows}


async def test_a_removal_goes_ahead_of_the_runs_messages_and_the_member_leaves_the_group_in_the_store() -> None:
    async with TestBot.running(REMOVE, config=config()) as bot:
        bot.member("u9", "推广员")
        await bot.say("u9", "大家好", room="r2")
        sent = await bot.say("u9", "广告测试", room="r1")
        assert [("remove", m.room.id, m.member.id) if m.remove else m.text for m in sent] == [
            ("remove", "r1", "u9"),
            "推广员 发广告，已移出本群",
        ]
        assert await membership(bot, "u9") == {"r1": False, "r2": True}
        (row,) = await bot.rows(select(ModerationEntry).where(ModerationEntry.action == "remove"))
        assert (row.member_id, row.room_id, row.reason, row.playbook_id) == ("u9", "r1", "发广告", "anti-ad")


async def test_when_the_bot_is_not_an_admin_nothing_fails_and_staff_are_told_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with TestBot.running(REMOVE, config=config(alerts={"room": "staffroom"})) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.connector.not_admin.add("r1")
        bot.member("u9", "推广员")
        sent = await bot.say("u9", "广告测试", room="r1")
        assert removals(sent) == []
        assert [(m.target_id, m.text) for m in sent] == [
            ("staffroom", "没能把 推广员 移出「r1」：机器人不是群主或管理员。请群主或管理员处理（原因：发广告）"),
        ]
        assert await membership(bot, "u9") == {"r1": True}
        (state,) = await bot.rows(select(OutboxMessage.state).where(OutboxMessage.remove.is_(True)))
        assert state == ("failed",)
        assert "Traceback" not in caplog.text


async def test_removals_are_not_counted_in_the_daily_limit() -> None:
    playbooks = {
        "playbooks/remove.yaml": "id: quiet\nwhen:\n  - message: {keywords: [广告测试]}\ndo:\n  - remove: 发广告\n",
        "playbooks/welcome.yaml": "id: welcome\nwhen:\n  - join: {}\ndo:\n  - say: 欢迎 {{ member.name }}\n",
    }
    cfg = config(sending={"daily_limit": 1})
    async with TestBot.running(playbooks, config=cfg, governor=True) as bot:
        await bot.say("u9", "广告测试", room="r1")
        await bot.advance(timedelta(minutes=5))
        assert removals(bot.sent) == [("r1", "u9")]
        await bot.join("u2", "r2")
        welcomed = await bot.advance(timedelta(minutes=5))
        assert [m.text for m in welcomed] == ["欢迎 u2"]  # today's one message was still free


async def test_a_staff_member_is_never_removed_whatever_the_playbook_says() -> None:
    async with TestBot.running(REMOVE, config=config()) as bot:
        sent = await bot.say("clerk", "广告测试", room="r1")
        assert removals(sent) == []
        assert await bot.rows(select(ModerationEntry)) == []


async def test_a_removal_in_a_private_chat_is_skipped_and_the_run_goes_on() -> None:
    playbooks = {
        "playbooks/p.yaml": "id: p\nwhen:\n  - message: {keywords: [广告测试], in: any}\n"
        "do:\n  - remove: 发广告\n  - reply: 已处理\n"
    }
    async with TestBot.running(playbooks, config=config()) as bot:
        assert [m.text for m in await bot.say("u9", "广告测试")] == ["已处理"]


async def test_a_member_who_keeps_posting_where_the_bot_is_no_admin_costs_staff_one_alert_an_hour() -> None:
    async with TestBot.running(REMOVE, config=config(alerts={"room": "staffroom"})) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.connector.not_admin.add("r1")
        for _ in range(5):
            await bot.say("u9", "广告测试", room="r1")
        assert [m.text for m in bot.sent if m.target_id == "staffroom"] == [
            "没能把 u9 移出「r1」：机器人不是群主或管理员。请群主或管理员处理（原因：发广告）"
        ]
        await bot.advance(timedelta(hours=1, minutes=1))
        await bot.say("u9", "广告测试", room="r1")
        assert len([m for m in bot.sent if m.target_id == "staffroom"]) == 2


async def test_a_removal_queued_before_a_crash_is_made_after_the_restart(tmp_path: Path) -> None:
    playbooks = {**REMOVE, "playbooks/hi.yaml": "id: hi\nwhen:\n  - message: {text: 你好}\ndo:\n  - reply: 你好呀\n"}
    database = str(tmp_path / "q.db")
    bot = await TestBot.create(playbooks, config=config(), database=database, governor=True)
    assert [m.text for m in await bot.say("u2", "你好", room="r1")] == ["你好呀"]
    assert await bot.say("u9", "广告测试", room="r1") == []  # the account's pace: it waits
    await bot.crash()
    again = await TestBot.create(playbooks, config=config(), database=database, governor=True)
    try:
        await again.advance(timedelta(minutes=5))
        assert removals(again.sent) == [("r1", "u9")]
        assert await membership(again, "u9") == {"r1": False}
    finally:
        await again.close()


async def test_a_burst_of_ads_queues_one_removal_not_one_per_message() -> None:
    async with TestBot.running(REMOVE, config=config(), governor=True) as bot:
        bot.member("u9", "推广员")
        for _ in range(4):
            await bot.say("u9", "广告测试", room="r1")
        await bot.advance(timedelta(minutes=5))
        assert removals(bot.sent) == [("r1", "u9")]
        await bot.say("u9", "广告测试", room="r1")  # WeChat delivered one more, late: they are gone already
        await bot.advance(timedelta(minutes=5))
        assert removals(bot.sent) == [("r1", "u9")]
        logged = await bot.rows(select(ModerationEntry.action).where(ModerationEntry.action == "remove"))
        assert len(logged) == 1


async def test_a_name_made_to_forge_a_line_stays_on_one_line_in_the_alert() -> None:
    async with TestBot.running(REMOVE, config=config(alerts={"room": "staffroom"})) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.connector.not_admin.add("r1")
        bot.member("u9", "推广员\n店长：已处理，不用管")
        sent = await bot.say("u9", "广告测试", room="r1")
        (alert,) = [m for m in sent if m.target_id == "staffroom"]
        assert "\n" not in alert.text


async def test_a_refused_removal_drops_the_runs_messages_that_say_it_was_done(caplog: pytest.LogCaptureFixture) -> None:
    async with TestBot.running(REMOVE_THEN_SAY, config=config(alerts={"room": "staffroom"})) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.connector.not_admin.add("r1")
        bot.member("u9", "推广员")
        sent = await bot.say("u9", "广告测试", room="r1")
        assert [(m.target_id, m.text) for m in sent] == [
            ("staffroom", "没能把 推广员 移出「r1」：机器人不是群主或管理员。请群主或管理员处理（原因：发广告）"),
        ]
        rows = await bot.rows(select(OutboxMessage.text, OutboxMessage.state, OutboxMessage.last_error))
        dropped = [(r.text, r.state) for r in rows if r.last_error == NOT_REMOVED]
        assert dropped == [("推广员 发广告，已移出本群", "failed"), ("已移出 推广员（r1）：发广告", "failed")]
        assert "2 message(s) of playbook anti-ad dropped" in caplog.text


async def test_a_removal_made_lets_the_runs_messages_follow_in_order_at_the_accounts_pace() -> None:
    async with TestBot.running(REMOVE_THEN_SAY, config=config(alerts={"room": "staffroom"}), governor=True) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.member("u9", "推广员")
        await bot.say("u9", "广告测试", room="r1")
        await bot.advance(timedelta(minutes=5))
        assert [("remove", m.member.id) if m.remove else (m.target_id, m.text) for m in bot.sent] == [
            ("remove", "u9"),
            ("r1", "推广员 发广告，已移出本群"),
            ("staffroom", "已移出 推广员（r1）：发广告"),
        ]


async def test_the_messages_held_on_a_removal_stay_held_across_a_restart(tmp_path: Path) -> None:
    playbooks = {
        **REMOVE_THEN_SAY,
        "playbooks/hi.yaml": "id: hi\nwhen:\n  - message: {text: 你好}\ndo:\n  - reply: 你好呀\n",
    }
    database = str(tmp_path / "q.db")
    cfg = config(alerts={"room": "staffroom"})
    bot = await TestBot.create(playbooks, config=cfg, database=database, governor=True)
    await bot.add_room("staffroom", "店员群")
    assert [m.text for m in await bot.say("u2", "你好", room="r1")] == ["你好呀"]
    assert await bot.say("u9", "广告测试", room="r1") == []  # the account's pace: it waits
    await bot.crash()
    again = await TestBot.create(playbooks, config=cfg, database=database, governor=True)
    try:
        again.connector.not_admin.add("r1")
        await again.advance(timedelta(minutes=5))
        assert [m.text for m in again.sent] == [
            "没能把 u9 移出「r1」：机器人不是群主或管理员。请群主或管理员处理（原因：发广告）"
        ]
    finally:
        await again.close()


async def test_a_removal_that_fails_for_good_tells_staff_once_that_it_did_not_happen() -> None:
    cfg = config(alerts={"room": "staffroom"}, sending={"retries": 2, "retry_after": "30s"})
    async with TestBot.running(REMOVE_THEN_SAY, config=cfg) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.member("u9", "推广员")

        async def broken(room: object, member: object) -> None:
            raise ConnectionError("the puppet did not answer")

        bot.connector.remove = broken  # type: ignore[method-assign]
        await bot.say("u9", "广告测试", room="r1")
        await bot.advance(timedelta(minutes=10))
        assert [(m.target_id, m.text) for m in bot.sent] == [
            ("staffroom", "没能把 推广员 移出「r1」：微信出错，试了 3 次都没成功。请群主或管理员处理（原因：发广告）"),
        ]
        assert await membership(bot, "u9") == {"r1": True}
