"""Daily check-in (handlers/checkin.py) on both databases: once per local day, streaks and their bonus days, the
points credited with their ledger entry. On PostgreSQL a check-in is one statement (the last check-in read, the new
one written, the points credited and entered), and it must decide exactly what the statements apart decide."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.store import Store
from bot.testing import TestBot
from handlers.checkin import CheckinParams, check_in
from handlers.points import PointsEntry, balance

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")


def playbooks(*texts: str) -> dict[str, str]:
    return {f"playbooks/{i:02d}.yaml": dedent(text) for i, text in enumerate(texts)}


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


async def replies(bot: TestBot, member: str, text: str, room: str = "r1") -> list[str]:
    return [m.text for m in await bot.say(member, text, room=room)]


CHECKIN = """
    id: checkin
    when:
      - message: {text: 签到}
    do:
      - checkin: {points: 5, bonus: {7: 20}}
      - reply: "{{ checkin.already }} {{ checkin.streak }} {{ checkin.points }} {{ member.points }}"
"""


async def test_checkin_once_per_local_day() -> None:
    """The second check-in the same day awards nothing."""
    async with TestBot.running(playbooks(CHECKIN), start=local(2026, 11, 23, 9, 0)) as bot:
        assert await replies(bot, "u1", "签到") == ["False 1 5 5"]
        await bot.advance_to(local(2026, 11, 23, 21, 0))
        assert await replies(bot, "u1", "签到", room="r2") == ["True 1 0 5"]


async def test_checkins_at_2359_and_0001_shanghai_are_two_days() -> None:
    """Local midnight divides days: one minute before and two minutes later is a streak of two."""
    async with TestBot.running(playbooks(CHECKIN), start=local(2026, 11, 23, 23, 59)) as bot:
        assert await replies(bot, "u1", "签到") == ["False 1 5 5"]
        await bot.advance_to(local(2026, 11, 24, 0, 1))
        assert await replies(bot, "u1", "签到") == ["False 2 5 10"]


async def test_checkin_days_are_local_days_not_utc_days() -> None:
    """15:59 and 16:01 UTC are one UTC day but two Shanghai days; 23:00 and 01:00 UTC are one Shanghai day."""
    async with TestBot.running(playbooks(CHECKIN), start=datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) as bot:
        assert await replies(bot, "u1", "签到") == ["False 1 5 5"]
        await bot.advance_to(datetime(2026, 11, 23, 16, 1, tzinfo=UTC))
        assert await replies(bot, "u1", "签到") == ["False 2 5 10"]
        await bot.advance_to(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))  # 07:00 on the 25th, local
        assert await replies(bot, "u1", "签到") == ["False 3 5 15"]
        await bot.advance_to(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))  # 09:00 on the 25th, local
        assert await replies(bot, "u1", "签到") == ["True 3 0 15"]


async def test_checkin_streak_continues_on_consecutive_days_and_resets_after_a_gap() -> None:
    """Missing a whole day starts the streak over; `member.streak` shows 0 once it is broken."""
    async with TestBot.running(playbooks(CHECKIN), start=local(2026, 11, 23, 9, 0)) as bot:
        streaks = []
        for _ in range(3):
            await bot.say("u1", "签到", room="r1")
            streaks.append(await bot.field("u1", "streak"))
            await bot.advance(timedelta(days=1))
        assert streaks == [1, 2, 3]
        assert await bot.field("u1", "streak") == 3  # the day after: not broken yet
        await bot.advance(timedelta(days=1))
        assert await bot.field("u1", "streak") == 0
        assert await replies(bot, "u1", "签到") == ["False 1 5 20"]


async def test_checkin_bonus_is_paid_on_exactly_the_seventh_day() -> None:
    """Bonus days are exact: day 6 and day 8 earn the base points only."""
    async with TestBot.running(playbooks(CHECKIN), start=local(2026, 11, 23, 20, 0)) as bot:
        awarded = []
        for _ in range(8):
            [reply] = await bot.say("u1", "签到", room="r1")
            awarded.append(int(reply.text.split()[2]))
            await bot.advance(timedelta(days=1, hours=-1))  # a little earlier each day, still consecutive
        assert awarded == [5, 5, 5, 5, 5, 5, 25, 5]
        assert await bot.field("u1", "points") == 60


DAY = date(2026, 11, 23)
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def test_a_check_in_credits_a_member_the_store_has_no_row_for_yet(store: Store) -> None:
    """The credit finds no member row: the row is made and credited once, with one ledger entry."""
    async with store.unit() as conn:
        done = await check_in(conn, "u9", DAY, CheckinParams(points=5), at=AT, playbook_id="p")
        assert (done.already, done.streak, done.points, done.total) == (False, 1, 5, 5)
        assert await balance(conn, "u9") == 5
        entries = (await conn.execute(select(PointsEntry.delta, PointsEntry.balance, PointsEntry.reason))).all()
        assert [tuple(e) for e in entries] == [(5, 5, "签到")]


async def test_a_second_check_in_the_same_day_in_one_transaction_is_already_and_pays_nothing(store: Store) -> None:
    """Two check-ins of one member in one batch (two groups, one second): the second sees the first's row."""
    params = CheckinParams(points=5, bonus={1: 3})
    async with store.unit() as conn:
        first = await check_in(conn, "u1", DAY, params, at=AT, playbook_id="p")
        second = await check_in(conn, "u1", DAY, params, at=AT + timedelta(seconds=1), playbook_id="p")
        assert (first.already, first.streak, first.points, first.total) == (False, 1, 8, 8)
        assert (second.already, second.streak, second.points) == (True, 1, 0)
        assert await balance(conn, "u1") == 8
        assert len((await conn.execute(select(PointsEntry.id))).all()) == 1


async def test_a_check_in_after_yesterdays_continues_the_streak_and_pays_that_days_bonus(store: Store) -> None:
    """Day 2 of a streak with a bonus on day 2; a day later than the last one stored (a clock corrected
    backwards) is today's, not a new day."""
    params = CheckinParams(points=5, bonus={2: 10})
    async with store.unit() as conn:
        await check_in(conn, "u1", DAY, params, at=AT, playbook_id="p")
        second = await check_in(conn, "u1", DAY + timedelta(days=1), params, at=AT, playbook_id="p")
        assert (second.already, second.streak, second.points, second.total) == (False, 2, 15, 20)
        back = await check_in(conn, "u1", DAY, params, at=AT, playbook_id="p")
        assert (back.already, back.streak, back.points) == (True, 2, 0)
        after_gap = await check_in(conn, "u1", DAY + timedelta(days=3), params, at=AT, playbook_id="p")
        assert (after_gap.already, after_gap.streak, after_gap.points, after_gap.total) == (False, 1, 5, 25)
