"""Staff commands against hostile input (issue 11): the bot is never a target (2), `commands:` in config.yaml is
checked (5), /成员 in a group shows no private data (8), arguments are capped (9), the audit is honest (17)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.commands import command_names
from bot.config import Config, StaffSection, load_config
from bot.playbook.errors import ProblemsError
from bot.registry import load_abilities
from bot.store.tables import AuditEntry
from bot.testing import TestBot
from handlers.points import PointsEntry

STAFF = StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"])
CONFIG = Config(staff=STAFF)
COUPONS = {
    "playbooks/gift.yaml": "id: gift\nwhen:\n  - command: 领券\ndo:\n  - coupon: lucky\n"
    '  - reply: "{{ coupon.code }}"\ncoupons:\n  - {id: lucky, title: 幸运券, stock: 5}\n'
}


def texts(sent: list) -> list[str]:
    return [m.text for m in sent]


async def audit(bot: TestBot) -> list[tuple[str, str, str | None, str]]:
    table = AuditEntry.__table__
    rows = await bot.rows(select(table.c.command, table.c.args, table.c.target_id, table.c.result))
    return [tuple(r) for r in rows]


# -- 2: the bot is never a target


async def test_commands_after_mentioning_the_bot_act_on_the_member_not_the_bot() -> None:
    async with TestBot.running({}, config=CONFIG) as bot:
        me = bot.connector.self_id
        bot.member(me, "群管小助手")
        bot.member("u2", "小王")
        await bot.say("u2", "大家好", room="r1")

        async def to_bot(text: str) -> str:
            """What the group reads (a group /成员 also sends the full profile privately)."""
            sent = await bot.say("clerk", text, room="r1", mentions=(me, "u2"), to_bot=True)
            return next(m.text for m in sent if m.room is not None)

        assert await to_bot("加分 @小王 30 晒单") == "已给 小王 加 30 分（晒单），现在共 30 分"
        assert await to_bot("扣分 @小王 10 兑换") == "已给 小王 扣 10 分（兑换），现在共 20 分"
        assert await to_bot("标签 @小王 VIP") == "已给 小王 打上标签「VIP」"
        assert await to_bot("去标签 @小王 VIP") == "已去掉 小王 的标签「VIP」"
        assert (await to_bot("成员 @小王")).startswith("小王：积分 20")
        assert await bot.field("u2", "points") == 20
        assert await bot.field(me, "points") == 0
        (refused,) = await bot.say("clerk", f"/加分 {me} 5")
        assert refused.text.startswith("机器人自己不能当作对象")
        assert not await bot.rows(select(PointsEntry.__table__).where(PointsEntry.__table__.c.member_id == me))


# -- 5: `commands:` in config.yaml


def shop_config(tmp_path: Path, commands: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"staff: {{owner: [boss], staff: [clerk]}}\ncommands:\n{commands}", "utf-8")
    return path


def test_command_names_in_config_are_checked_with_slash_spaces_and_aliases_tolerated(tmp_path: Path) -> None:
    load_abilities()
    path = shop_config(tmp_path, '  addpoints: admin\n  "/扣分": admin\n  "标签 ": owner\n  " /Redeem": admin\n')
    config, _ = load_config(str(path), commands=command_names())
    assert config.commands == {"加分": "admin", "扣分": "admin", "标签": "owner", "核销": "admin"}
    path = shop_config(tmp_path, "  加分: admin\n  去掉标签: admin\n  nonsense: staff\n")
    with pytest.raises(ProblemsError) as raised:
        load_config(str(path), commands=command_names())
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:4:3: unknown command '去掉标签' (did you mean '去标签'?)",
        f"{path}:5:3: unknown command 'nonsense'",
    ]


async def test_a_command_named_with_a_slash_or_alias_really_needs_the_role(tmp_path: Path) -> None:
    load_abilities()
    path = shop_config(tmp_path, '  "/加分": admin\n  subpoints: admin\n')
    config, _ = load_config(str(path), commands=command_names())
    async with TestBot.running({}, config=config) as bot:
        await bot.say("u1", "hi", room="r1")
        assert texts(await bot.say("clerk", "/加分 u1 5")) == ["/加分 需要管理员身份，你没有这个权限～"]
        assert texts(await bot.say("clerk", "/扣分 u1 5")) == ["/扣分 需要管理员身份，你没有这个权限～"]


async def test_qunguan_check_reports_an_unknown_command_in_config(tmp_path: Path) -> None:
    path = shop_config(tmp_path, "  addpoint: admin\n")
    (tmp_path / "playbooks").mkdir()
    command = ["check", str(tmp_path / "playbooks"), "--config", str(path)]
    result = await asyncio.to_thread(CliRunner().invoke, app, command)
    assert result.exit_code == 2
    assert f"{path}:3:3: 未知的命令 'addpoint'（是不是 'addpoints'？）" in result.output


# -- 8: /成员 in a group


async def test_member_profile_in_a_group_is_brief_and_the_full_one_goes_privately() -> None:
    async with TestBot.running({}, config=CONFIG) as bot:
        bot.member("u1", "小王\n积分 99999｜连续签到 365 天")
        await bot.join("u1", "r1", by="boss")
        await bot.say("u1", "退订")
        await bot.say("clerk", "/标签 u1 内部观察")
        sent = await bot.say("clerk", "/成员 @小王", room="r1", mentions=("u1",))
        (brief,) = [m for m in sent if m.room is not None]
        (full,) = [m for m in sent if m.room is None]
        assert brief.text == "小王 积分 99999｜连续签到 365 天：积分 0｜连续签到 0 天｜引入期（完整资料已私信给你）"
        for secret in ("u1", "boss", "内部观察", "退订"):
            assert secret not in brief.text
        assert full.member is not None and full.member.id == "clerk"
        assert full.text.splitlines() == [
            "小王 积分 99999｜连续签到 365 天（u1）",
            "积分 0｜连续签到 0 天｜引入期｜已退订",
            "未用的券 0 张｜在 1 个群｜邀请人 boss",
            "标签：内部观察",
        ]
        (private,) = await bot.say("clerk", "/成员 u1")
        assert private.text == full.text


# -- 9: argument caps


async def test_long_arguments_are_refused_in_chinese_and_nothing_long_is_stored() -> None:
    async with TestBot.running({}, config=CONFIG) as bot:
        await bot.say("u1", "hi", room="r1")
        (answer,) = await bot.say("clerk", "/加分 u1 5 " + "很长的原因" * 200_000)
        assert answer.text.startswith("命令太长（1000009 字），最多 300 字")
        assert len(answer.text) < 100
        (answer,) = await bot.say("clerk", "/加分 u1 5 " + "原" * 51)
        assert answer.text.startswith("原因最多 50 字")
        (answer,) = await bot.say("clerk", "/标签 u1 " + "签" * 31)
        assert answer.text.startswith("标签名最多 30 字")
        assert await bot.field("u1", "points") == 0
        assert await bot.field("u1", "tags") == []
        assert all(len(args) <= 500 for _c, args, _t, _r in await audit(bot))
        (preview,) = await bot.say("mgr", "/群发 " + "长" * 1500)  # a broadcast keeps its own 2000
        assert preview.text.startswith("群发预览")


async def test_an_amount_in_other_scripts_digits_is_a_usage_answer_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`፩` (Ethiopic one) passes str.isdigit but not int(): it must not reach int() and fail the command."""
    async with TestBot.running({}, config=CONFIG) as bot:
        await bot.say("u1", "hi", room="r1")
        for typed in ("/加分 u1 ፩", "/扣分 u1 一百", "/加分 u1 1e9"):
            (answer,) = await bot.say("clerk", typed)
            assert answer.text == "请写出分数（正整数）\n用法：" + typed.split()[0] + " @某人 分数 原因"
        (answer,) = await bot.say("clerk", "/加分 u1 ２０ 晒单")  # full-width digits are fine
        assert answer.text.startswith("已给 u1 加 20 分")
        assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
        assert [result for *_rest, result in await audit(bot)] == ["usage", "usage", "usage", "ok"]


# -- 17: the audit records what was typed, the target and the real result


async def test_audit_keeps_the_command_as_typed_the_target_and_the_real_result() -> None:
    async with TestBot.running(COUPONS, config=CONFIG) as bot:
        bot.member("u1", "小王")
        await bot.say("u1", "hi", room="r1")
        await bot.say("clerk", "/加分 @小王\u2005 30 活动奖励", room="r1", mentions=("u1",))
        await bot.say("clerk", "／加分 u1 30 活动奖励！")
        (code,) = await bot.say("u1", "/领券")
        await bot.say("clerk", f"/核销 {code.text}")
        await bot.say("clerk", f"/核销 {code.text}")
        await bot.say("clerk", "/核销 NOPE2345")
        await bot.say("clerk", "/扣分 u1 999")
        assert await audit(bot) == [
            ("加分", "@小王\u2005 30 活动奖励", "u1", "ok"),
            ("加分", "u1 30 活动奖励！", "u1", "ok"),
            ("核销", code.text, "u1", "ok"),
            ("核销", code.text, "u1", "already"),
            ("核销", "NOPE2345", None, "unknown"),
            ("扣分", "u1 999", "u1", "insufficient"),
        ]


async def test_qunguan_audit_shows_whom_each_command_was_about(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    bot = await TestBot.create(COUPONS, config=CONFIG, database=str(database))
    bot.member("u1", "小王")
    await bot.say("u1", "hi", room="r1")
    await bot.say("clerk", "/加分 @小王\u2005 30 活动奖励", room="r1", mentions=("u1",))
    await bot.say("clerk", "/帮助")
    await bot.close()
    (tmp_path / "config.yaml").write_text(f"database: {database}\n", "utf-8")
    command = ["audit", "--since", "3650d", "--config", str(tmp_path / "config.yaml")]
    result = await asyncio.to_thread(CliRunner().invoke, app, command)
    assert result.exit_code == 0, result.output
    added, helped, _summary = result.output.splitlines()
    assert "/加分 @小王\u2005 30 活动奖励  → 小王（u1）  [r1]  ok" in added
    assert "→" not in helped
