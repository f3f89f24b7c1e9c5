"""Managed groups are bound by room id, never matched by topic (issue 11, item 1).

Anyone can add the bot to a group of their own and give it the name of a managed one; the real group may be
renamed by one trailing space. A bot on the real WeChat path (`trust_rooms=False`) manages a group only once
it is bound: by its id in config.yaml, by an owner or admin's /绑定 in it, or by `qunguan rooms bind ID`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, RoomSection, StaffSection
from bot.events import Outgoing
from bot.store.tables import AuditEntry, Room
from bot.testing import TestBot
from handlers.coupons import Coupon

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
SATURDAY_11 = datetime(2026, 11, 28, 11, 0, tzinfo=TZ)  # the shipped coupon drop opens at 12:00
STAFF = StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"])
SHOP = Config(staff=STAFF, rooms=[RoomSection(topic="会员福利1群", tags=["会员群"])])
REAL = "r-real@chatroom"
FAKE = "a-fake@chatroom"  # sorts first: a lookup that takes the first group with the topic would take it
TOPIC = "会员福利1群"


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def targets(sent: list[Outgoing]) -> set[str]:
    return {m.target_id for m in sent}


async def shop(**options: object) -> TestBot:
    """The shipped playbooks on the real-WeChat path: nothing is trusted by its topic."""
    options = {"config": SHOP, "start": SATURDAY_11, **options}
    return await TestBot.create(ROOT / "playbooks", trust_rooms=False, **options)  # type: ignore[arg-type]


async def look_alike(bot: TestBot) -> None:
    """Mallory adds the bot to her own group first and renames it like the shop's member group."""
    bot.room(FAKE, "吃瓜群")
    await bot.say("mallory", "大家好", room=FAKE)
    await bot.rename_room(FAKE, TOPIC, by="mallory")


async def audit(bot: TestBot) -> list[tuple[str, str, str | None, str]]:
    table = AuditEntry.__table__
    rows = await bot.rows(select(table.c.member_id, table.c.command, table.c.room_id, table.c.result))
    return [tuple(r) for r in rows]


async def test_a_look_alike_group_with_sixty_alts_gets_nothing_while_the_bound_group_claims() -> None:
    bot = await shop()
    try:
        await look_alike(bot)
        bot.room(REAL, TOPIC)
        (bound,) = await bot.say("boss", "/绑定", room=REAL)
        assert bound.text.startswith(f"已绑定本群「{TOPIC}」") and "会员群" in bound.text
        alts = [f"alt{i}" for i in range(60)]
        for alt in alts:
            assert await bot.join(alt, FAKE, by="mallory") == []  # no welcome, no points
            assert await bot.say(alt, "签到", room=FAKE) == []
        assert texts(await bot.join("u1", REAL)) and targets(bot.sent[-1:]) == {REAL}
        drop = await bot.advance_to(SATURDAY_11 + timedelta(hours=1))
        assert drop and targets(drop) == {REAL}  # the drop opens in the bound group only
        for alt in alts:
            assert await bot.say(alt, "抢券", room=FAKE) == []
        (won,) = await bot.say("u1", "抢券", room=REAL)
        assert won.target_id == REAL and [m.id for m in won.mentions] == ["u1"]
        coupons = await bot.rows(select(Coupon.__table__.c.member_id))
        assert [r.member_id for r in coupons] == ["u1"]
        assert all([await bot.field(alt, "points") == 0 for alt in alts[:3]])
        (preview,) = await bot.say("mgr", "/群发 周末快乐")
        assert preview.text.startswith("群发预览：1 个群")
        assert targets((await bot.say("mgr", "/确认"))[1:]) == {REAL}
    finally:
        await bot.close()


async def test_a_customers_bind_is_refused_and_audited_and_an_unbound_group_hears_nothing() -> None:
    bot = await shop()
    try:
        await look_alike(bot)
        assert await bot.say("mallory", "/绑定", room=FAKE) == []  # refused without a word: no echo for 60 alts
        assert await bot.say("clerk", "/绑定", room=FAKE) == []  # staff, not an owner or admin
        assert await bot.say("mallory", "/帮助", room=FAKE) == []  # no other staff command there
        assert await bot.say("boss", "/统计", room=FAKE) == []
        bot.room(REAL, TOPIC)
        await bot.say("mgr", "/绑定", room=REAL)
        (refusal,) = await bot.say("u1", "/绑定", room=REAL)
        assert refusal.text == "/绑定 需要管理员身份，你没有这个权限～"
        assert await audit(bot) == [
            ("mallory", "绑定", FAKE, "refused"),
            ("clerk", "绑定", FAKE, "refused"),
            ("mgr", "绑定", REAL, "ok"),
            ("u1", "绑定", REAL, "refused"),
        ]
        assert [r.id for r in await bot.rows(select(Room.__table__.c.id))] == [FAKE, REAL]  # listed, to be bound
    finally:
        await bot.close()


async def test_an_unbound_group_is_logged_once_with_the_fix_and_the_look_alike_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="qunguan")
    bot = await shop()
    try:
        await look_alike(bot)
        await bot.say("alt1", "签到", room=FAKE)
        bot.room("r-home", "家人群")
        await bot.say("mum", "吃饭了", room="r-home")
        await bot.say("mum", "吃饭了吗", room="r-home")
    finally:
        await bot.close()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "not bound yet: '会员福利1群'" in lines[0] and "/绑定" in lines[0]  # at start: the candidate waits
    fake = [line for line in lines if FAKE in line]
    home = [line for line in lines if "r-home" in line]
    assert len(home) == 1 and "look-alike" not in home[0] and "qunguan rooms bind r-home" in home[0]
    assert len(fake) == 2  # once per topic it goes by: the rename to the shop's name is the one to notice
    assert "look-alike" in fake[1] and f"'{TOPIC}'" in fake[1] and "renamed from '吃瓜群' by mallory" in fake[1]
    assert "/绑定" in fake[1] and f"qunguan rooms bind {FAKE}" in fake[1]


async def test_the_bound_group_stays_managed_with_its_tags_through_a_rename_that_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="qunguan")
    bot = await shop()
    try:
        bot.room(REAL, TOPIC)
        await bot.say("boss", "/绑定", room=REAL)
        await bot.rename_room(REAL, TOPIC + " ", by="u1")  # one trailing space
        assert texts(await bot.say("u1", "签到", room=REAL))  # still answered
        drop = await bot.advance_to(SATURDAY_11 + timedelta(hours=1))
        assert targets(drop) == {REAL}  # `rooms: [tag:会员群]` still selects it
    finally:
        await bot.close()
    renamed = [r.getMessage() for r in caplog.records if "renamed" in r.getMessage()]
    assert len(renamed) == 1 and f"'{TOPIC}'" in renamed[0] and f"'{TOPIC} '" in renamed[0] and "u1" in renamed[0]


async def test_config_ids_are_bound_and_topics_or_an_empty_list_only_name_candidates() -> None:
    echo = {"playbooks/echo.yaml": "id: echo\nwhen:\n  - message: {text: 在吗, in: any}\ndo:\n  - reply: 在\n"}
    by_id = Config(staff=STAFF, rooms=[RoomSection(id="r1", topic="一群")])
    async with TestBot.running(echo, config=by_id, trust_rooms=False) as bot:
        assert texts(await bot.say("u1", "在吗", room="r1")) == ["在"]
        assert await bot.say("u1", "在吗", room="r2") == []
        (answer,) = await bot.say("boss", "/绑定", room="r1")
        assert answer.text == "本群已在 config.yaml 里按群 ID 绑定，不用再绑"
    for config in (SHOP, Config(staff=STAFF)):
        async with TestBot.running(echo, config=config, trust_rooms=False) as bot:
            bot.room("r1", TOPIC)
            assert await bot.say("u1", "在吗", room="r1") == []
            await bot.say("boss", "/绑定", room="r1")
            assert texts(await bot.say("u1", "在吗", room="r1")) == ["在"]
            assert texts(await bot.say("u1", "在吗")) == ["在"]  # private chats need no binding


async def test_a_binding_survives_a_restart_and_unbinding_silences_the_group_and_its_open_drop(tmp_path: Path) -> None:
    database = str(tmp_path / "q.db")
    bot = await shop(database=database)
    try:
        bot.room(REAL, TOPIC)
        await bot.say("mgr", "/绑定", room=REAL)
    finally:
        await bot.close()
    bot = await shop(database=database)
    try:
        bot.room(REAL, TOPIC)
        assert texts(await bot.say("u1", "签到", room=REAL))
        assert texts(await bot.say("mgr", "/绑定", room=REAL)) == ["本群已经绑定过了，机器人正在管理这里"]
        await bot.advance_to(SATURDAY_11 + timedelta(hours=1))  # the drop is open for 30 minutes
        (gone,) = await bot.say("boss", "/解绑", room=REAL)
        assert gone.text.startswith("已解绑本群") and gone.target_id == REAL
        assert await bot.say("u1", "签到", room=REAL) == []
        assert await bot.say("u1", "抢券", room=REAL) == []
        assert await bot.advance(timedelta(hours=1)) == []  # the drop closes without a word
        assert bot.engine.windows.next_close() is None
    finally:
        await bot.close()


LOOKUPS = {
    "playbooks/notice.yaml": "id: notice\nwhen:\n  - command: 通知\ndo:\n  - say: {text: 直播, room: 会员福利1群}\n",
    "playbooks/funnel.yaml": "id: funnel\nwhen:\n  - friend: {}\ndo:\n  - invite: 会员福利1群\n",
    "playbooks/bank.yaml": "id: bank\nwhen:\n  - command: 题库\ndo:\n  - reply: 有\n"
    "questions:\n  dishes:\n    - {q: 招牌菜是什么？, a: 酸菜鱼}\n"
    "coupons:\n  - {id: lucky, title: 幸运券, stock: 5}\n",
}


async def test_every_lookup_by_topic_resolves_among_bound_groups_only() -> None:
    async with TestBot.running(LOOKUPS, config=SHOP, trust_rooms=False) as bot:
        await look_alike(bot)
        for alt in ("alt1", "alt2", "alt3"):
            await bot.join(alt, FAKE)
        bot.room(REAL, TOPIC)
        await bot.say("boss", "/绑定", room=REAL)
        await bot.join("u1", REAL)
        assert targets(await bot.say("boss", "/通知")) == {REAL}
        (invitation,) = await bot.befriend("u2")
        assert invitation.invite and invitation.room is not None and invitation.room.id == REAL
        (stats,) = await bot.say("clerk", f"/统计 {TOPIC}")
        assert stats.text.splitlines()[1].startswith("入群 1｜")
        quiz = await bot.say("clerk", f"/问答 dishes {TOPIC}")
        assert targets(quiz) == {"clerk", REAL}
        drop = await bot.say("clerk", f"/发券 lucky {TOPIC}")
        assert targets(drop) == {"clerk", REAL}
        (unknown,) = await bot.say("clerk", "/统计 吃瓜群")
        assert unknown.text.startswith("不认识群「吃瓜群」")


async def test_schedules_tick_only_in_bound_groups() -> None:
    hourly = {"playbooks/hourly.yaml": "id: hourly\nwhen:\n  - schedule: {every: 1h}\ndo:\n  - say: 整点报时\n"}
    async with TestBot.running(hourly, config=SHOP, trust_rooms=False) as bot:
        await look_alike(bot)
        bot.room(REAL, TOPIC)
        await bot.say("boss", "/绑定", room=REAL)
        assert targets(await bot.advance(timedelta(hours=1))) == {REAL}


def write_config(tmp_path: Path, database: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {database}\nstaff: {{owner: [boss]}}\nrooms:\n  - {{topic: {TOPIC}, tags: [会员群]}}\n", "utf-8"
    )
    return config


@pytest.mark.slow
async def test_qunguan_rooms_lists_binds_and_unbinds_and_the_running_bot_follows_at_once(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    config_file = write_config(tmp_path, database)
    config = SHOP.model_copy()
    bot = await TestBot.create(LOOKUPS, config=config, database=str(database), trust_rooms=False)
    bot.bot.scheduler.start()  # the real-time jobs, the once-a-second look for bindings among them
    runner = CliRunner()

    async def qunguan(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, app, ["rooms", *args, "--config", str(config_file)])
        return result.exit_code, result.output

    try:
        await look_alike(bot)
        bot.room(REAL, TOPIC)
        await bot.say("u1", "在吗", room=REAL)
        bot.room("r-evil", "坏群\x1b[2J\n伪造的一行")
        await bot.say("mallory", "hi", room="r-evil")
        code, listing = await qunguan()
        assert code == 0, listing
        lines = listing.splitlines()
        assert len(lines) == 4, listing
        assert lines[0].startswith(FAKE) and "not bound" in lines[0] and "config.yaml" in lines[0]
        assert "\\x1b[2J\\n伪造的一行" in lines[1] and "\x1b" not in listing
        assert lines[2].startswith(REAL) and "not bound" in lines[2]
        assert lines[3].startswith("3 group(s)")

        changed = bot.engine.rooms.changed
        code, output = await qunguan("bind", REAL)
        assert code == 0 and REAL in output, output
        await asyncio.wait_for(changed.wait(), 10)
        assert targets(await bot.say("boss", "/通知")) == {REAL}
        code, listing = await qunguan()
        real = next(line for line in listing.splitlines() if line.startswith(REAL))
        assert "bound" in real and "not bound" not in real
        fake = next(line for line in listing.splitlines() if line.startswith(FAKE))
        assert "look-alike" in fake and REAL in fake

        changed = bot.engine.rooms.changed
        code, output = await qunguan("unbind", REAL)
        assert code == 0, output
        await asyncio.wait_for(changed.wait(), 10)
        assert await bot.say("u1", "在吗", room=REAL) == []
        assert await bot.say("boss", "/通知") == []  # no bound group of that name: the run fails, nothing sent

        code, output = await qunguan("bind", "r-nowhere")
        assert code == 1 and "qunguan rooms" in output
        commands = [(r.member_id, r.command, r.room_id, r.result) for r in await audit_rows(bot)]
        assert commands == [("cli", "绑定", REAL, "ok"), ("cli", "解绑", REAL, "ok")]
    finally:
        await bot.close()


async def audit_rows(bot: TestBot) -> list:
    return list(await bot.rows(select(AuditEntry.__table__)))


async def test_the_simulator_and_scenarios_trust_their_groups_by_topic() -> None:
    """`TestBot` (and so scenario files) and the simulator keep today's rule: config.yaml's topics count."""
    echo = {"playbooks/echo.yaml": "id: echo\nwhen:\n  - message: {text: 在吗}\ndo:\n  - reply: 在\n"}
    async with TestBot.running(echo, config=SHOP) as bot:
        bot.room("r1", TOPIC)
        assert texts(await bot.say("u1", "在吗", room="r1")) == ["在"]
        assert await bot.say("u1", "在吗", room="r2") == []
