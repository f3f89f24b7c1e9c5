"""`blacklist`: the shop's blacklist; out of every managed group the member is in, and out again (with an alert to
staff, and no welcome) whenever they join one later."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.testing import TestBot
from handlers.moderation.blacklist import Blacklisted
from handlers.moderation.log import ModerationEntry

pytestmark = pytest.mark.usefixtures("backend")

PLAYBOOKS = {
    "playbooks/blacklist.yaml": """
id: scam
when:
  - message: {keywords: [诈骗测试]}
do:
  - blacklist: {reason: 诈骗}
""",
    "playbooks/welcome.yaml": "id: welcome\nwhen:\n  - join: {}\ndo:\n  - say: 欢迎 {{ member.name }}\n",
}


def config(**sections: object) -> Config:
    data = {"staff": {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]}, "alerts": {"room": "staffroom"}}
    return Config.model_validate({**data, **sections})


def removals(sent: list) -> list[tuple[str, str]]:
    return sorted((m.room.id, m.member.id) for m in sent if m.remove)


async def test_a_blacklisted_member_is_removed_from_every_managed_group_they_are_in() -> None:
    async with TestBot.running(PLAYBOOKS, config=config()) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.member("u9", "骗子")
        await bot.say("u9", "大家好", room="r2")
        await bot.say("u9", "大家好", room="r3")
        await bot.leave("u9", "r3")
        sent = await bot.say("u9", "诈骗测试", room="r1")
        assert removals(sent) == [("r1", "u9"), ("r2", "u9")]  # not r3: gone already
        assert [(m.target_id, m.text) for m in sent if not m.remove] == [
            ("staffroom", "已拉黑 骗子（诈骗），正在移出 2 个群"),
        ]
        (row,) = await bot.rows(select(Blacklisted.member_id, Blacklisted.reason, Blacklisted.by))
        assert tuple(row) == ("u9", "诈骗", "scam")
        assert await bot.field("u9", "blacklisted") is True


async def test_a_blacklisted_member_who_joins_again_is_removed_again_with_an_alert_and_no_welcome() -> None:
    async with TestBot.running(PLAYBOOKS, config=config()) as bot:
        await bot.add_room("staffroom", "店员群")
        bot.member("u9", "骗子")
        await bot.say("u9", "诈骗测试", room="r1")
        sent = await bot.join("u9", "r2")
        assert removals(sent) == [("r2", "u9")]
        assert [(m.target_id, m.text) for m in sent if not m.remove] == [
            ("staffroom", "黑名单成员 骗子 又进了「r2」，已移出（诈骗）"),
        ]
        sent = await bot.join("u9", "r1")  # every time
        assert removals(sent) == [("r1", "u9")]
        actions = await bot.rows(select(ModerationEntry.action, ModerationEntry.room_id))
        assert [tuple(a) for a in actions] == [
            ("blacklist", "r1"),
            ("remove", "r1"),
            ("rejoin", "r2"),
            ("rejoin", "r1"),
        ]
        assert [m.text for m in await bot.join("u2", "r2")] == ["欢迎 u2"]  # others are welcomed as ever


async def test_staff_are_never_blacklisted_and_a_staff_member_joining_is_never_removed() -> None:
    async with TestBot.running(PLAYBOOKS, config=config()) as bot:
        sent = await bot.say("clerk", "诈骗测试", room="r1")
        assert removals(sent) == []
        assert await bot.rows(select(Blacklisted)) == []
        assert await bot.field("clerk", "blacklisted") is False


async def test_a_failing_blacklist_check_is_logged_and_the_join_goes_on_to_the_welcome(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import handlers.moderation.blacklist as blacklist

    async def broken(*_args: object) -> None:
        raise RuntimeError("the blacklist table is unreadable")

    async with TestBot.running(PLAYBOOKS, config=config()) as bot:
        monkeypatch.setattr(blacklist, "is_blacklisted", broken)
        assert [m.text for m in await bot.join("u2", "r1")] == ["欢迎 u2"]
        assert "guard blacklist failed" in caplog.text
