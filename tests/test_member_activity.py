"""What every group message records about its member, on both databases (on PostgreSQL the seen mark, the
member's row, the day's count and the membership go in one statement where they can: bot/store/activity.py): a
redelivery records nothing twice, a renamed member keeps the new name and the rename, a new member gets a row,
and each message counts once for the shop's day and keeps the member in the group."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.events import MessageEvent
from bot.store.tables import Member, MessageDay, NameChange, Room, RoomMember
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
QUIET = "id: quiet\nwhen:\n  - message: {text: 从不出现的词}\ndo:\n  - reply: 好\n"


async def _member(bot: TestBot, member_id: str) -> tuple[str, datetime | None, list[str], int, bool]:
    """(name, last active, names it went by, messages today, in the group r1)."""
    members, names, days, rooms = Member.__table__, NameChange.__table__, MessageDay.__table__, RoomMember.__table__
    async with bot.bot.store.unit() as conn:
        name, last = (
            await conn.execute(select(members.c.name, members.c.last_active).where(members.c.id == member_id))
        ).one()
        went_by = (
            await conn.execute(select(names.c.name).where(names.c.member_id == member_id).order_by(names.c.id))
        ).scalars()
        counted = (await conn.execute(select(days.c.messages).where(days.c.member_id == member_id))).scalar() or 0
        present = (
            await conn.execute(select(rooms.c.active).where(rooms.c.member_id == member_id, rooms.c.room_id == "r1"))
        ).scalar()
    return name, last, list(went_by), counted, bool(present)


async def test_a_message_redelivered_after_a_rename_records_nothing_twice_and_the_new_name_stands() -> None:
    async with TestBot.running({"playbooks/quiet.yaml": QUIET}, start=START) as bot:
        await bot.say("u1", "早", room="r1")  # a new member: their row, their name, today's first message
        name, first_active, went_by, counted, present = await _member(bot, "u1")
        assert (name, went_by, counted, present) == ("u1", ["u1"], 1, True)

        await bot.advance(timedelta(minutes=5))
        bot.member("u1", "改名后的小王")  # renamed in WeChat: the id stays
        renamed = MessageEvent(
            id="wx-7", at=bot.clock.now(), sender=bot.member("u1"), text="我改名了", room=bot.room("r1")
        )
        await bot.dispatch(renamed)
        name, active, went_by, counted, present = await _member(bot, "u1")
        assert (name, went_by, counted, present) == ("改名后的小王", ["u1", "改名后的小王"], 2, True)
        assert first_active is not None and active is not None and active > first_active

        await bot.advance(timedelta(minutes=5))
        await bot.dispatch(renamed)  # WeChat delivers it again: nothing more is recorded
        assert await _member(bot, "u1") == (name, active, went_by, 2, True)

        await bot.say("u1", "再说一句", room="r1")  # the same name again: the one common statement
        name, later, went_by, counted, _present = await _member(bot, "u1")
        assert (name, went_by, counted) == ("改名后的小王", ["u1", "改名后的小王"], 3)
        assert later is not None and later > active


async def test_a_known_members_first_message_in_a_new_group_counts_once_and_joins_them_at_its_first_sight() -> None:
    """On PostgreSQL the seen mark, the member's row, the day's count and the membership go in one statement, but
    the membership needs the group's row, which this message makes: it is written after it, once."""
    async with TestBot.running({"playbooks/quiet.yaml": QUIET}, start=START) as bot:
        await bot.seed("u1", rooms=["r1"], joined=START)
        await bot.advance(timedelta(minutes=5))
        await bot.say("u1", "新群你好", room="r2")
        await bot.say("u1", "再来一句", room="r2")
        rooms, members = Room.__table__, RoomMember.__table__
        [(first_seen,)] = await bot.rows(select(rooms.c.first_seen).where(rooms.c.id == "r2"))
        joined = select(members.c.joined_at, members.c.active).where(members.c.room_id == "r2")
        assert [tuple(r) for r in await bot.rows(joined)] == [(first_seen, True)]
        assert await bot.rows(select(MessageDay.__table__.c.messages)) == [(2,)]
