"""Staff commands from WeChat: roles by id, plain answers, one polite refusal, everything audited."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, StaffSection
from bot.store.tables import AuditEntry
from bot.testing import TestBot

CONFIG = Config(staff=StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"]))
ECHO = {"playbooks/echo.yaml": "id: echo\nwhen:\n  - message: {regex: '.*'}\ndo:\n  - reply: 剧本看到了\n"}


def texts(sent: list) -> list[str]:
    return [m.text for m in sent]


async def audit(bot: TestBot) -> list[tuple[str, str, str, str]]:
    rows = await bot.rows(select(AuditEntry.member_id, AuditEntry.role, AuditEntry.command, AuditEntry.result))
    return [tuple(r) for r in rows]


async def test_staff_add_and_subtract_points_for_a_mentioned_member_through_the_ledger() -> None:
    async with TestBot.running(ECHO, config=CONFIG) as bot:
        bot.member("u1", "小王")
        await bot.say("u1", "大家好", room="r1")
        (added,) = await bot.say("clerk", "/加分 @小王\u2005 30 晒单奖励", room="r1", mentions=("u1",))
        assert added.text == "已给 小王 加 30 分（晒单奖励），现在共 30 分"
        assert [m.id for m in added.mentions] == ["clerk"]
        (took,) = await bot.say("clerk", "/扣分 u1 50 兑换")  # private chat: the member by WeChat id
        assert took.text == "小王 只有 30 分，不够扣 50 分"
        assert texts(await bot.say("mgr", "/subpoints u1 10")) == ["已给 小王 扣 10 分（店员扣分），现在共 20 分"]
        assert await bot.field("u1", "points") == 20


async def test_a_customer_renamed_like_staff_gets_one_polite_refusal_and_nothing_happens() -> None:
    async with TestBot.running(ECHO, config=CONFIG) as bot:
        bot.member("u1", "店长")
        (refusal,) = await bot.say("u1", "/加分 u1 999", room="r1")
        assert refusal.text == "/加分 需要店员身份，你没有这个权限～"
        assert await bot.field("u1", "points") == 0
        assert await audit(bot) == [("u1", "member", "加分", "refused")]


async def test_config_can_raise_the_role_a_command_needs() -> None:
    config = Config(staff=CONFIG.staff, commands={"加分": "admin"})
    async with TestBot.running(ECHO, config=config) as bot:
        bot.member("u1", "小王")
        await bot.say("u1", "hi", room="r1")
        assert texts(await bot.say("clerk", "/加分 u1 5")) == ["/加分 需要管理员身份，你没有这个权限～"]
        assert texts(await bot.say("mgr", "/加分 u1 5")) == ["已给 小王 加 5 分（店员加分），现在共 5 分"]


async def test_usage_errors_say_how_to_write_it() -> None:
    async with TestBot.running(ECHO, config=CONFIG) as bot:
        (answer,) = await bot.say("clerk", "/加分")
        assert answer.text == "请 @ 一位成员（或写出他的微信 ID）\n用法：/加分 @某人 分数 原因"
        (answer,) = await bot.say("clerk", "/加分 nobody 5")
        assert answer.text.startswith("不认识 nobody")
        bot.member("u1", "小王")
        await bot.say("u1", "hi")
        (answer,) = await bot.say("clerk", "/加分 u1 lots")
        assert answer.text == "请写出分数（正整数）\n用法：/加分 @某人 分数 原因"
        assert [r[3] for r in await audit(bot)] == ["usage", "usage", "usage"]


async def test_tags_and_profile() -> None:
    async with TestBot.running(ECHO, config=CONFIG) as bot:
        bot.member("u1", "小王")
        await bot.join("u1", "r1", by="boss")
        await bot.say("u1", "退订")
        assert texts(await bot.say("clerk", "/标签 u1 VIP")) == ["已给 小王 打上标签「VIP」"]
        assert await bot.field("u1", "tags") == ["VIP"]
        (card,) = await bot.say("clerk", "/成员 u1")
        assert (
            card.text
            == "小王（u1）\n积分 0｜连续签到 0 天｜引入期｜已退订\n未用的券 0 张｜在 1 个群｜邀请人 boss\n标签：VIP"
        )
        assert texts(await bot.say("clerk", "/去标签 u1 VIP")) == ["已去掉 小王 的标签「VIP」"]
        assert texts(await bot.say("clerk", "/去标签 u1 VIP")) == ["小王 没有标签「VIP」"]


async def test_help_lists_what_the_sender_may_use_and_playbooks_do_not_see_commands() -> None:
    async with TestBot.running(ECHO, config=CONFIG) as bot:
        (clerk_help,) = await bot.say("clerk", "/帮助")
        assert clerk_help.text.splitlines()[0] == "店员可用的命令："
        assert "/加分 @某人 分数 原因 — 给成员加积分（记入积分流水）" in clerk_help.text
        assert texts(await bot.say("u1", "/help")) == ["这里没有你能用的管理命令～发送「签到」「/积分」试试吧"]
        assert texts(await bot.say("u1", "你好", room="r1")) == ["剧本看到了"]  # other messages still reach playbooks
        assert ("clerk", "staff", "帮助", "ok") in await audit(bot)


async def test_help_lists_each_abilitys_commands_together_in_the_order_of_their_modules() -> None:
    """By least role, then by the module that declares them (handlers/points.py: /加分, /扣分; handlers/tags.py:
    /标签, /去标签), whatever order the modules happened to be imported in."""
    async with TestBot.running({}, config=CONFIG) as bot:
        (clerk_help,) = await bot.say("clerk", "/帮助")
        names = " ".join(line.split()[0] for line in clerk_help.text.splitlines()[1:])
        assert names == (
            "/确认 /发券 /后台 /核销 /拼团 /警告 /黑名单 /违规 /记单 /剧本 /加分 /扣分 /成员 /问答 /统计 /标签 /去标签"
        )


async def test_qunguan_audit_prints_every_use_and_refusal(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    bot = await TestBot.create(ECHO, config=CONFIG, database=str(database))
    bot.member("u1", "店长")
    await bot.say("u1", "/加分 u1 999", room="r1")
    await bot.say("clerk", "/帮助")
    await bot.close()
    (tmp_path / "config.yaml").write_text(f"database: {database}\n", "utf-8")
    command = ["audit", "--since", "3650d", "--config", str(tmp_path / "config.yaml")]
    result = await asyncio.to_thread(CliRunner().invoke, app, command)  # the CLI runs its own event loop
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("店长（u1，member）  /加分 u1 999  [r1]  refused")
    assert "（clerk，staff）  /帮助   [私聊]  ok" in lines[1]
    assert lines[-1] == "2 staff command(s) in the last 3650d"


async def test_admins_switch_playbooks_and_the_switch_survives_a_restart(tmp_path: Path) -> None:
    database = str(tmp_path / "q.db")
    bot = await TestBot.create(ECHO, config=CONFIG, database=database)
    assert texts(await bot.say("u1", "你好", room="r1")) == ["剧本看到了"]
    assert texts(await bot.say("clerk", "/停用 echo")) == ["/停用 需要管理员身份，你没有这个权限～"]
    assert texts(await bot.say("mgr", "/停用 ech")) == ["没有剧本「ech」，是不是 echo？\n用法：/停用 剧本ID"]
    assert texts(await bot.say("mgr", "/停用 echo")) == ["已停用剧本「echo」（echo），重启后也保持"]
    assert await bot.say("u1", "你好", room="r1") == []
    (listing,) = await bot.say("clerk", "/剧本")
    assert listing.text == "剧本（✅ 开 / ⛔ 关）：\n⛔ echo  echo"
    await bot.close()
    again = await TestBot.create(ECHO, config=CONFIG, database=database)
    try:
        assert await again.say("u1", "你好", room="r1") == []
        assert texts(await again.say("boss", "/enable echo")) == ["已启用剧本「echo」（echo），重启后也保持"]
        assert texts(await again.say("u1", "你好", room="r1")) == ["剧本看到了"]
    finally:
        await again.close()
