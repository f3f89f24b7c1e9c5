"""Staff's moderation commands from WeChat: /警告 /移出 /拉黑 /解封 /黑名单 /违规 /撤销 — role-checked by WeChat id,
audited, listed by /帮助; never aimed at staff or at the bot; `qunguan audit` and /统计 show what moderation did."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config
from bot.store.tables import AuditEntry
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

STAFF = {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]}
CONFIG = Config.model_validate({"staff": STAFF, "alerts": {"room": "staffroom"}})
NONE: dict[str, str] = {}


def texts(sent: list) -> list[str]:
    return [m.text for m in sent if not (m.remove or m.invite)]


def removals(sent: list) -> list[tuple[str, str]]:
    return sorted((m.room.id, m.member.id) for m in sent if m.remove)


async def audit(bot: TestBot) -> list[tuple[str, str, str | None, str]]:
    rows = await bot.rows(select(AuditEntry.member_id, AuditEntry.command, AuditEntry.target_id, AuditEntry.result))
    return [tuple(r) for r in rows]


async def customer(bot: TestBot, member_id: str, name: str, *rooms: str) -> None:
    bot.member(member_id, name)
    for room in rooms:
        await bot.say(member_id, "大家好", room=room)


async def test_staff_warn_a_member_and_the_warnings_count_like_a_playbooks() -> None:
    async with TestBot.running(NONE, config=CONFIG) as bot:
        await customer(bot, "u9", "推广员", "r1")
        (answer,) = await bot.say("clerk", "/警告 @推广员\u2005 发广告", room="r1", mentions=("u9",))
        assert answer.text == "已警告 推广员（发广告），30 天内第 1 次"
        assert texts(await bot.say("clerk", "/警告 u9")) == ["已警告 推广员（店员警告），30 天内第 2 次"]
        assert await bot.field("u9", "warnings") == 2
        assert await audit(bot) == [("clerk", "警告", "u9", "ok"), ("clerk", "警告", "u9", "ok")]


async def test_a_customer_cannot_use_them_and_staff_are_never_their_target() -> None:
    async with TestBot.running(NONE, config=CONFIG) as bot:
        await customer(bot, "u9", "推广员", "r1")
        await customer(bot, "clerk", "店员小李", "r1")
        assert texts(await bot.say("u9", "/警告 clerk 乱说")) == ["/警告 需要店员身份，你没有这个权限～"]
        assert texts(await bot.say("clerk", "/移出 u9", room="r1")) == ["/移出 需要管理员身份，你没有这个权限～"]
        sent = await bot.say("mgr", "/移出 @店员小李\u2005 测试", room="r1", mentions=("clerk",))
        assert removals(sent) == []
        assert texts(sent) == ["店员小李 是店员，不能被移出"]
        sent = await bot.say("mgr", "/拉黑 qunguan-bot")
        assert texts(sent)[0].startswith("机器人自己不能当作对象")
        assert await bot.field("clerk", "warnings") == 0
        assert [r[3] for r in await audit(bot)] == ["refused", "refused", "refused", "usage"]


async def test_an_admin_removes_a_member_from_the_group_the_command_is_said_in() -> None:
    async with TestBot.running(NONE, config=CONFIG) as bot:
        await customer(bot, "u9", "推广员", "r1", "r2")
        sent = await bot.say("mgr", "/移出 @推广员\u2005 发广告", room="r1", mentions=("u9",))
        assert removals(sent) == [("r1", "u9")]
        assert texts(sent) == ["正在把 推广员 移出「r1」（发广告）"]
        sent = await bot.say("mgr", "/移出 u9 刷屏 r2")  # in a private chat: the group named last
        assert removals(sent) == [("r2", "u9")]


async def test_blacklist_by_wechat_id_in_a_private_chat_list_it_and_lift_it() -> None:
    async with TestBot.running(NONE, config=CONFIG) as bot:
        await customer(bot, "u9", "推广员", "r1", "r2")
        sent = await bot.say("mgr", "/拉黑 u9 诈骗")
        assert removals(sent) == [("r1", "u9"), ("r2", "u9")]
        assert texts(sent) == ["已拉黑 推广员（诈骗），正在移出 2 个群"]
        assert texts(await bot.say("mgr", "/拉黑 wxid_never_seen 另一家店的骗子")) == [
            "已拉黑 wxid_never_seen（另一家店的骗子），正在移出 0 个群"
        ]
        (listing,) = await bot.say("clerk", "/黑名单")
        assert listing.text.splitlines()[0] == "黑名单（2 人）："
        assert "推广员（u9）：诈骗" in listing.text
        assert removals(await bot.join("wxid_never_seen", "r1")) == [("r1", "wxid_never_seen")]
        assert texts(await bot.say("mgr", "/解封 u9")) == ["已解封 推广员"]
        assert texts(await bot.say("mgr", "/解封 u9")) == ["u9 不在黑名单上"]
        assert await bot.field("u9", "blacklisted") is False
        assert removals(await bot.join("u9", "r1")) == []


async def test_the_moderation_log_by_command_for_everyone_or_one_member() -> None:
    async with TestBot.running(NONE, config=CONFIG) as bot:
        await customer(bot, "u9", "推广员", "r1")
        await customer(bot, "u8", "刷屏哥", "r1")
        await bot.say("clerk", "/警告 u9 发广告")
        await bot.say("clerk", "/警告 u8 刷屏")
        await bot.say("mgr", "/移出 u9 发广告 r1")
        (everyone,) = await bot.say("clerk", "/违规")
        lines = everyone.text.splitlines()
        assert lines[0] == "最近的违规记录（3 条）："
        assert "移出 推广员（u9）「r1」：发广告 — 店员 mgr" in lines[1]
        (one,) = await bot.say("clerk", "/违规 u8")
        assert one.text.splitlines()[0] == "刷屏哥（u8）：有效警告 1 次，未拉黑；最近记录 1 条："
        assert "警告 刷屏哥（u8）：刷屏 — 店员 clerk" in one.text


async def test_undo_clears_warnings_lifts_the_blacklist_and_invites_a_friend_back() -> None:
    async with TestBot.running(NONE, config=CONFIG) as bot:
        await customer(bot, "u9", "推广员", "r1")
        await bot.say("clerk", "/警告 u9 发广告")
        await bot.say("mgr", "/拉黑 u9 误判")
        sent = await bot.say("mgr", "/撤销 u9")
        assert texts(sent) == ["已撤销 推广员 的处罚：清除警告 1 次，解除拉黑，邀请回 1 个群"]
        assert [(m.room.id, m.member.id) for m in sent if m.invite] == [("r1", "u9")]
        assert await bot.field("u9", "warnings") == 0
        assert await bot.field("u9", "blacklisted") is False
        bot.connector.not_friends.add("u7")
        await customer(bot, "u7", "陌生人", "r1")
        await bot.say("mgr", "/移出 u7 试试 r1")
        sent = await bot.say("mgr", "/撤销 u7")
        assert texts(sent) == ["已撤销 陌生人 的处罚（他不是机器人的好友，没法邀请回群，请手动拉回「r1」）"]
        assert not [m for m in sent if m.invite]


async def test_help_lists_the_moderation_commands_by_role() -> None:
    async with TestBot.running(NONE, config=CONFIG) as bot:
        (clerk,) = await bot.say("clerk", "/帮助")
        assert "/警告 @某人 原因" in clerk.text and "/黑名单" in clerk.text and "/违规 [@某人]" in clerk.text
        assert "/移出" not in clerk.text and "/拉黑" not in clerk.text
        (mgr,) = await bot.say("mgr", "/帮助")
        for usage in ("/移出 @某人 原因", "/拉黑 @某人 原因", "/解封 微信ID", "/撤销 @某人"):
            assert usage in mgr.text


STATS_PLAYBOOK = {
    "playbooks/ads.yaml": """
id: ads
when:
  - message: {keywords: [广告测试]}
do:
  - warn: 发广告
  - remove: 发广告
"""
}


async def test_stats_show_warnings_removals_and_blacklist_hits() -> None:
    async with TestBot.running(STATS_PLAYBOOK, config=CONFIG) as bot:
        await bot.say("u9", "广告测试", room="r1")
        await bot.say("mgr", "/拉黑 u9 发广告")
        await bot.join("u9", "r1")
        (stats,) = await bot.say("clerk", "/统计", room="r1")
        assert "违规：警告 1｜移出 2｜黑名单拦截 1" in stats.text


def test_qunguan_audit_shows_the_moderation_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "qunguan.db"
    (tmp_path / "config.yaml").write_text(f"database: {database}\n", "utf-8")
    monkeypatch.chdir(tmp_path)

    async def act() -> None:
        async with TestBot.running(STATS_PLAYBOOK, config=CONFIG, database=str(database)) as bot:
            bot.member("u9", "推广员")
            await bot.say("u9", "广告测试 加我\n伪造的一行", room="r1")

    import asyncio

    asyncio.run(act())
    result = CliRunner().invoke(app, ["audit", "--since", "3650d"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        "warn 推广员（u9）  [r1]  发广告  playbook ads  ← text: 广告测试 加我\\n伪造的一行" in line for line in lines
    )
    assert any("remove 推广员（u9）" in line for line in lines)
    assert lines[-1] == "2 moderation action(s) in the last 3650d"
    assert not any(line.startswith("伪造的一行") for line in lines)
