"""Running the groups from WeChat: hot reload (chat, CLI, watched folder), broadcast with /确认, stats,
quizzes and coupon drops started by command — each refusal answered once and audited."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, ReloadSection, RoomSection, StaffSection
from bot.sending_settings import SendingSection
from bot.store.tables import AuditEntry
from bot.testing import TestBot
from handlers.segments import Nudge

STAFF = StaffSection(owner=["boss"], admin=["mgr", "mgr2"], staff=["clerk"])
CONFIG = Config(staff=STAFF)
ECHO = "id: echo\nwhen:\n  - message: {{text: hi}}\ndo:\n  - reply: {text}\n"
BROKEN = "id: broken\nwhen:\n  - message: {text: 你好}\ndo:\n  - repyl: 你好呀\n"
FIXED = "id: broken\nwhen:\n  - message: {text: 你好}\ndo:\n  - reply: 你好呀\n"
LOCATION = re.compile(r"broken\.yaml:5:5: ")


def texts(sent: list) -> list[str]:
    return [m.text for m in sent]


def folder_with(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, "utf-8")
    return folder


async def audit(bot: TestBot) -> list[tuple[str, str, str]]:
    rows = await bot.rows(select(AuditEntry.member_id, AuditEntry.command, AuditEntry.result))
    return [tuple(r) for r in rows]


async def test_reload_with_a_broken_new_file_loads_the_good_files_and_lists_the_errors(tmp_path: Path) -> None:
    """Per file: the broken file (new, so with no last good version) is left out, the edited good one loads."""
    folder = folder_with(tmp_path, echo=ECHO.format(text="旧的回答"))
    async with TestBot.running(folder, config=CONFIG) as bot:
        folder_with(tmp_path, echo=ECHO.format(text="新的回答"), broken=BROKEN)
        assert texts(await bot.say("clerk", "/重载")) == ["/重载 需要管理员身份，你没有这个权限～"]
        (answer,) = await bot.say("mgr", "/重载")
        assert answer.text.startswith(
            f"已重载：1 个剧本在运行\n❌ {folder / 'broken.yaml'}：有错误，也没有旧版本，没有运行\n"
            "1 处错误（改好后再发送 /重载）：\n"
        )
        assert LOCATION.search(answer.text), answer.text
        assert texts(await bot.say("u1", "hi", room="r1")) == ["新的回答"]
        folder_with(tmp_path, broken=FIXED)
        assert texts(await bot.say("mgr", "/reload")) == ["已重载：2 个剧本在运行\n新增：broken"]
        assert texts(await bot.say("u1", "你好", room="r1")) == ["你好呀"]
        assert await audit(bot) == [("clerk", "重载", "refused"), ("mgr", "重载", "partial"), ("mgr", "重载", "ok")]


async def test_a_redelivered_reload_reads_the_folder_once(tmp_path: Path) -> None:
    """WeChat may deliver the same message twice: the second /重载 is a duplicate and changes nothing."""
    folder = folder_with(tmp_path, echo=ECHO.format(text="旧的回答"))
    async with TestBot.running(folder, config=CONFIG) as bot:
        folder_with(tmp_path, echo=ECHO.format(text="新的回答"))
        assert texts(await bot.say("mgr", "/重载", event_id="wx-reload-1")) == ["已重载：1 个剧本在运行"]
        folder_with(tmp_path, echo=ECHO.format(text="没人让它重载"))
        assert await bot.say("mgr", "/重载", event_id="wx-reload-1") == []
        assert texts(await bot.say("u1", "hi", room="r1")) == ["新的回答"]


async def test_a_reload_redelivered_after_a_restart_changes_nothing(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="旧的回答"))
    database = str(tmp_path / "q.db")
    async with TestBot.running(folder, config=CONFIG, database=database) as bot:
        assert texts(await bot.say("mgr", "/重载", event_id="wx-reload-1")) == ["已重载：1 个剧本在运行"]
    async with TestBot.running(folder, config=CONFIG, database=database) as bot:
        folder_with(tmp_path, echo=ECHO.format(text="没人让它重载"))
        assert await bot.say("mgr", "/重载", event_id="wx-reload-1") == []
        assert texts(await bot.say("u1", "hi", room="r1")) == ["旧的回答"]


async def test_reload_brings_in_new_schedules(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="嗨"))
    async with TestBot.running(folder, config=CONFIG) as bot:
        await bot.say("u1", "hi", room="r1")
        folder_with(tmp_path, hourly="id: hourly\nwhen:\n  - schedule: {every: 1h}\ndo:\n  - say: 整点报时\n")
        await bot.say("boss", "/重载")
        assert texts(await bot.advance(timedelta(hours=1))) == ["整点报时"]


async def test_a_watched_folder_reloads_on_save_and_a_broken_save_keeps_the_last_good_version(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="一"))
    config = Config(staff=STAFF, reload=ReloadSection(watch=True))
    async with TestBot.running(folder, config=config) as bot:
        reloader = bot.engine.reloader
        assert reloader is not None
        folder_with(tmp_path, echo=ECHO.format(text="二二"))
        await reloader.poll()
        assert texts(await bot.say("u1", "hi", room="r1")) == ["二二"]
        folder_with(tmp_path, echo=ECHO.format(text="三三三").replace("reply", "repyl"))
        await reloader.poll()
        assert texts(await bot.say("u1", "hi", room="r1")) == ["二二"]


async def test_qunguan_reload_reaches_the_running_bot_and_lists_the_broken_files(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="旧的回答"))
    database = tmp_path / "q.db"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"database: {database}\nplaybooks: {folder}\n", "utf-8")
    bot = await TestBot.create(folder, config=CONFIG, database=str(database))
    bot.bot.scheduler.start()  # the real-time jobs, the once-a-second look for reload requests among them
    try:
        folder_with(tmp_path, broken=BROKEN)
        runner = CliRunner()
        partial = await asyncio.to_thread(runner.invoke, app, ["reload", "--config", str(config_file), "--wait", "30"])
        assert partial.exit_code == 1, partial.output
        lines = partial.output.splitlines()
        assert "已重载：1 个剧本在运行，1 个文件有错误" in lines
        assert f"{folder / 'broken.yaml'}：有错误，也没有旧版本，没有运行" in lines
        assert LOCATION.search(partial.output)
        folder_with(tmp_path, echo=ECHO.format(text="新的回答"), broken=FIXED)
        done = await asyncio.to_thread(runner.invoke, app, ["reload", "--config", str(config_file), "--wait", "30"])
        assert done.exit_code == 0, done.output
        assert done.output.strip() == "已重载：2 个剧本在运行"
        assert texts(await bot.say("u1", "hi", room="r1")) == ["新的回答"]
    finally:
        await bot.close()


async def test_qunguan_reload_says_so_when_no_bot_is_running(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="嗨"))
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"database: {tmp_path / 'q.db'}\nplaybooks: {folder}\n", "utf-8")
    await (await TestBot.create(folder, database=str(tmp_path / "q.db"))).close()  # a bot ran here, not now
    command = ["reload", "--config", str(config_file), "--wait", "0"]
    result = await asyncio.to_thread(CliRunner().invoke, app, command)
    assert result.exit_code == 1
    assert "0 秒内没有运行中的机器人回应" in result.output


ROOMS = [RoomSection(topic="会员福利1群", tags=["会员群"]), RoomSection(topic="会员福利2群", tags=["会员群"])]


async def test_broadcast_preview_counts_rooms_members_and_pacing_and_nothing_leaves_without_confirm() -> None:
    config = Config(staff=STAFF, rooms=[*ROOMS, RoomSection(topic="内部群")])
    async with TestBot.running({}, config=config, governor=True) as bot:
        for room, topic in (("r1", "会员福利1群"), ("r2", "会员福利2群"), ("r3", "内部群")):
            bot.room(room, topic)
            for member in ("u1", "u2", f"{room}-only"):
                await bot.say(member, "在", room=room)
        await bot.advance(timedelta(minutes=5))
        (preview,) = await bot.say("mgr", "/群发 tag:会员群 周末\n全场 8 折")
        assert preview.text == (
            "群发预览：2 个群，共 4 人\n预计 3 秒内发完（按发送限速）\n内容：周末\n全场 8 折\n"
            "2 分钟内发送 /确认 才会发出；不发就不用管"
        )
        assert texts(await bot.advance(timedelta(minutes=5))) == []
        assert texts(await bot.say("mgr", "/确认")) == ["没有等你确认的群发（预览 2 分钟内有效），请重新发送 /群发"]
        assert [m for m in bot.sent if "8 折" in m.text and m.room is not None] == []


async def test_a_broadcast_waits_for_the_end_of_quiet_hours_and_says_so() -> None:
    late = datetime(2026, 11, 23, 23, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    config = Config(staff=STAFF, sending=SendingSection())
    async with TestBot.running({}, config=config, governor=True, start=late) as bot:
        await bot.say("u1", "在", room="r1")
        await bot.say("mgr", "/群发 早上好")
        await bot.say("mgr", "/确认")
        answers = await bot.advance(timedelta(minutes=1))
        assert "现在是免打扰时段，明天 08:00 后开始发" in answers[-1].text
        assert all(m.text != "早上好" for m in answers)
        morning = await bot.advance(timedelta(hours=9, minutes=30))
        assert [m.target_id for m in morning if m.text == "早上好"] == ["r1"]


async def test_confirm_by_another_staff_member_is_refused_and_audited() -> None:
    async with TestBot.running({}, config=CONFIG) as bot:
        await bot.say("u1", "在", room="r1")
        await bot.say("mgr", "/群发 今晚直播")
        assert texts(await bot.say("mgr2", "/确认")) == ["这条群发是 mgr 发起的，要他本人发送 /确认"]
        assert texts(await bot.say("u1", "/确认", room="r1")) == ["/确认 需要店员身份，你没有这个权限～"]
        assert [m.text for m in bot.sent if m.text == "今晚直播"] == []
        assert await audit(bot) == [("mgr", "群发", "ok"), ("mgr2", "确认", "refused"), ("u1", "确认", "refused")]


async def test_stats_compare_nudged_members_who_came_back_with_the_holdout() -> None:
    async with TestBot.running({}, config=CONFIG) as bot:
        for member in ("a", "b", "c", "d"):
            await bot.say(member, "在", room="r1")
        nudged_at = bot.clock.now()
        async with bot.bot.store.unit() as conn:
            rows = [
                {"member_id": m, "playbook_id": "reactivation", "holdout": held, "at": nudged_at}
                for m, held in (("a", False), ("b", False), ("c", True), ("d", True))
            ]
            await conn.execute(insert(Nudge.__table__), rows)
        await bot.advance(timedelta(days=1))
        await bot.say("a", "我回来了", room="r1")
        (report,) = await bot.say("clerk", "/统计 r1 30d")
        assert report.text.splitlines()[-2:] == ["召回：提醒 2 人，回来 1 人（50%）", "对照组 2 人，回来 0 人（0%）"]
        (usage,) = await bot.say("clerk", "/统计 别的群")
        assert usage.text == "不认识群「别的群」：请写群名（或群 ID）\n用法：/统计 [群名] [7d]"


QUIZ = {
    "playbooks/quiz.yaml": "id: quiz\nwhen:\n  - message: {text: 出题吧}\ndo:\n  - say: 好\n"
    "questions:\n  dishes:\n    - {q: 招牌菜是什么？, a: 酸菜鱼}\n"
    "coupons:\n  - {id: lucky, title: 幸运券, stock: 1}\n"
}


async def test_quiz_and_drop_by_command_from_a_private_chat_name_the_room_and_a_sold_out_batch_opens_nothing() -> None:
    config = Config(staff=STAFF, rooms=[RoomSection(topic="会员福利1群")])
    async with TestBot.running(QUIZ, config=config) as bot:
        bot.room("r1", "会员福利1群")
        await bot.say("u1", "在", room="r1")
        sent = await bot.say("clerk", "/问答 dishes 会员福利1群")
        assert [(m.target_id, m.text.splitlines()[0]) for m in sent] == [
            ("clerk", "已在「会员福利1群」出题"),
            ("r1", "【有奖问答】招牌菜是什么？"),
        ]
        assert texts(await bot.say("clerk", "/问答 nothing 会员福利1群")) == [
            "请写出一个题库 ID：dishes\n用法：/问答 题库ID（私聊时最后写群名）"
        ]
        assert texts(await bot.say("clerk", "/问答 dishes")) == [
            "不认识群「dishes」：请写群名（或群 ID）\n用法：/问答 题库ID（私聊时最后写群名）"
        ]
        drop = await bot.say("clerk", "/发券 lucky", room="r1")
        assert texts(drop)[0].startswith("【限时抢券】幸运券还剩 1 张！现在在群里发送「抢券」即可领取")
        assert [m.text.split("！")[0] for m in await bot.say("u1", "抢券", room="r1")] == ["抢到了"]
        assert texts(await bot.say("clerk", "/发券 lucky", room="r1")) == [
            "「会员福利1群」已经有一轮抢券在进行，09:30 结束，之后再开"
        ]
        await bot.advance(timedelta(minutes=30))
        assert texts(await bot.say("clerk", "/发券 lucky", room="r1")) == ["幸运券已经发完了（共 1 张），没有开抢"]


async def test_a_command_after_at_mentioning_the_bot_needs_no_slash_and_other_words_still_reach_playbooks() -> None:
    async with TestBot.running({"playbooks/echo.yaml": ECHO.format(text="嗨")}, config=CONFIG) as bot:
        await bot.say("u1", "hi", room="r1")
        (answer,) = await bot.say("clerk", "加分 u1 5 帮忙拉群", room="r1", to_bot=True)
        assert answer.text == "已给 u1 加 5 分（帮忙拉群），现在共 5 分"
        assert texts(await bot.say("u1", "hi", room="r1", to_bot=True)) == ["嗨"]
        assert await bot.say("clerk", "加分 u1 5", room="r1") == []  # no slash, no @: just chat


async def test_a_new_preview_replaces_the_earlier_one_so_a_double_confirm_never_sends_the_old_text() -> None:
    async with TestBot.running({}, config=CONFIG) as bot:
        await bot.say("u1", "在", room="r1")
        await bot.say("mgr", "/群发 错别字版本")
        await bot.say("mgr", "/群发 正确版本")
        assert texts(await bot.say("mgr", "/确认"))[1:] == ["正确版本"]
        assert texts(await bot.say("mgr", "/确认")) == ["没有等你确认的群发（预览 2 分钟内有效），请重新发送 /群发"]
        assert [m.text for m in bot.sent if m.room is not None] == ["正确版本"]


async def test_one_quiz_at_a_time_per_group_and_the_preview_copes_without_jitter() -> None:
    async with TestBot.running(QUIZ, config=CONFIG) as bot:
        await bot.say("clerk", "/问答 dishes", room="r1")
        (refusal,) = await bot.say("clerk", "/问答 dishes", room="r1")
        assert refusal.text == "「r1」已经有一轮有奖问答在进行，09:10 结束，之后再开"
    config = Config(staff=STAFF, sending=SendingSection(jitter=None))
    async with TestBot.running({}, config=config, governor=True) as bot:
        await bot.say("u1", "在", room="r1")
        (preview,) = await bot.say("mgr", "/群发 明天见")
        assert preview.text.splitlines()[1] == "预计 1 秒内发完（按发送限速）"


async def test_stats_count_people_not_nudges_and_refuse_a_span_out_of_range() -> None:
    async with TestBot.running({}, config=CONFIG) as bot:
        await bot.say("a", "在", room="r1")
        async with bot.bot.store.unit() as conn:
            rows = [{"member_id": "a", "playbook_id": "reactivation", "holdout": False, "at": bot.clock.now()}] * 3
            await conn.execute(insert(Nudge.__table__), rows)
        await bot.advance(timedelta(days=1))
        await bot.say("a", "回来了", room="r1")
        (report,) = await bot.say("clerk", "/统计 r1 30d")
        assert report.text.splitlines()[-2] == "召回：提醒 1 人，回来 1 人（100%）"
        (usage,) = await bot.say("clerk", "/统计 0d")
        assert usage.text.startswith("统计时长要在 1 小时到一年之间")
