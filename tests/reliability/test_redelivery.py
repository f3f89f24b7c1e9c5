"""Connectors redeliver (after a reconnect, a restart, a stalled lookup): an event id acts once, ever.

Every kind of effect is covered: a check-in, points, a coupon, a claim in an open drop, a join's
welcome and points. "Acts once" is read from the database (rows of every table an effect writes)
and from what was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from backends import Backend, database_url
from sqlalchemy import func, select

from bot.events import Event, MemberJoined, MemberRef, MessageEvent, RoomRef
from bot.store.tables import Member, OutboxMessage, SeenEvent
from bot.testing import TestBot
from bot.windows import WindowEntry
from handlers.checkin import Checkin
from handlers.coupons import Coupon
from handlers.points import PointsEntry

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ROOM = RoomRef("r1", "会员福利1群")

PLAYBOOKS = {
    "playbooks/daily-checkin.yaml": (ROOT / "playbooks/daily-checkin.yaml").read_text("utf-8"),
    "playbooks/bonus.yaml": dedent("""
        id: bonus
        when:
          - message: {text: 加分}
        do:
          - points: {add: 3, reason: 加分}
          - reply: "加分成功，共 {{ member.points }} 分"
    """),
    "playbooks/gift.yaml": dedent("""
        id: gift
        when:
          - message: {text: 领券}
        do:
          - coupon: {batch: gift}
          - reply: "券码 {{ coupon.code }}{{ coupon.none }}"
        coupons:
          - {id: gift, title: 礼品券, stock: 100, per_member: 5}
    """),
    "playbooks/welcome.yaml": dedent("""
        id: welcome
        when:
          - join: {}
        do:
          - reply: "欢迎 {{ member.name }}"
          - points: 10
    """),
    "playbooks/drop.yaml": dedent("""
        id: drop
        when:
          - message: {text: 重投测试放券}
        do:
          - say: 开抢！
          - claim: {batch: lucky, keyword: 抢券, window: 1h}
        coupons:
          - {id: lucky, title: 幸运券, stock: 10, per_member: 1}
    """),
}


def events(at: datetime, tag: str) -> list[Event]:
    """One event of each kind of effect, with stable ids as a connector would give them."""

    def said(member: str, text: str) -> MessageEvent:
        return MessageEvent(f"wx-{tag}-{member}-{text}", at, MemberRef(f"{tag}-{member}", member), text, ROOM)

    joined = MemberJoined(f"join:r1:{tag}-new:{at.timestamp()}", at, MemberRef(f"{tag}-new", "新人"), ROOM)
    return [said("u1", "签到"), said("u1", "加分"), said("u2", "领券"), said("u3", "抢券"), joined]


# What one delivery of `events(...)` adds: a check-in; ledger entries for it, 加分 and the welcome; a gift
# and a lucky coupon; one claim entry; one reply each; five seen ids.
ONCE = {"checkins": 1, "points_ledger": 3, "coupons": 2, "window_entries": 1, "outbox": 5, "seen_events": 5}


def grew(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    return {table: after["rows"][table] - before["rows"][table] for table in after["rows"]}


async def state(bot: TestBot) -> dict[str, Any]:
    """Everything an event may have changed, by table; equal before and after a redelivery."""
    counts = {}
    for table in (Checkin, PointsEntry, Coupon, WindowEntry, OutboxMessage, SeenEvent):
        ((n,),) = await bot.rows(select(func.count()).select_from(table))
        counts[table.__tablename__] = n
    points = {r.id: r.points for r in await bot.rows(select(Member.id, Member.points))}
    return {"rows": counts, "points": points}


async def open_drop(bot: TestBot) -> None:
    assert [m.text for m in await bot.say("boss", "重投测试放券", room="r1")] == ["开抢！"]


@pytest.mark.usefixtures("backend")
async def test_the_same_event_id_delivered_twice_in_a_row_or_at_once_acts_once() -> None:
    async with TestBot.running(PLAYBOOKS, start=START) as bot:
        await open_drop(bot)
        first = events(bot.clock.now(), "a")
        for event in first:
            assert await bot.dispatch(event) != []  # each effect answers once ...
        after = await state(bot)
        sent = len(bot.sent)
        for event in first:
            assert await bot.dispatch(event) == []  # ... and not again
        assert await state(bot) == after

        second = events(bot.clock.now(), "b")  # new ids, each delivered twice at the same moment
        await asyncio.gather(*(bot.dispatch(event) for event in second for _copy in range(2)))
        assert len(bot.sent) == sent + len(second)
        final = await state(bot)
    assert grew(after, final) == ONCE
    assert (final["points"]["b-u1"], final["points"]["b-new"]) == (8, 10)


@pytest.mark.parametrize("stop", ["close", "crash"])
async def test_the_same_event_id_after_a_restart_on_the_same_database_file_acts_once(
    stop: str, backend: Backend
) -> None:
    """A clean stop or a kill -9 in between: the seen ids are in the database, not in the process."""
    database = backend.database
    bot = await TestBot.create(PLAYBOOKS, start=START, database=database)
    try:
        await open_drop(bot)
        delivered = events(bot.clock.now(), "a")
        for event in delivered:
            assert await bot.dispatch(event) != []
        before = await state(bot)
    finally:
        await (bot.crash() if stop == "crash" else bot.close())

    again = await TestBot.create(PLAYBOOKS, start=START + timedelta(minutes=1), database=database)
    try:
        for event in delivered:
            assert await again.dispatch(event) == []
        assert await state(again) == before
        # Not a dead bot: a new event still acts, on the state the first one left.
        (answer,) = await again.dispatch(MessageEvent("wx-new", START, MemberRef("a-u1", "u1"), "加分", ROOM))
        assert answer.text == "加分成功，共 11 分"  # 5 for the check-in, 3 for 加分 before, 3 now
    finally:
        await again.close()


@pytest.fixture
def database(driver: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    yield from database_url(driver, tmp_path, request)


@pytest.mark.parametrize("driver", ["sqlite", "sqlite+aiosqlite", "postgresql"])
async def test_the_same_event_delivered_to_two_bots_on_one_database_file_at_once_acts_once(database: str) -> None:
    """Two processes on one database during an overlapping restart, both handed the same events (with
    aiosqlite or PostgreSQL, statements leave the event loop and the two bots' runs interleave statement by
    statement)."""
    bots = [await TestBot.create(PLAYBOOKS, start=START, database=database)]
    try:
        await open_drop(bots[0])
        bots.append(await TestBot.create(PLAYBOOKS, start=START, database=database))
        before = await state(bots[0])
        delivered = events(bots[0].clock.now(), "a")
        await asyncio.gather(*(bot.dispatch(event) for event in delivered for bot in bots))
        after = await state(bots[0])
        sent = [m.text for bot in bots for m in bot.sent[1 if bot is bots[0] else 0 :]]
    finally:
        for bot in bots:
            await bot.close()
    assert grew(before, after) == ONCE
    assert len(sent) == 5, sent
    assert (after["points"]["a-u1"], after["points"]["a-new"]) == (8, 10)
