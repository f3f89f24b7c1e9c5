"""Many members at the same instant, through the whole bot: the database, not luck, keeps the counts.

Each race runs in one bot (events interleave in one process), in two bots opened on one database
file (two engines with their own locks and connections, as two processes would be during an overlapping
restart), and in two such bots on the aiosqlite driver, whose statements leave the event loop so that
the two bots' runs interleave statement by statement: there only the database (its unique keys, its
conditional updates, its write lock) can hold the invariants.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from backends import database_url
from sqlalchemy import func, select

from bot.config import Config, StaffSection
from bot.events import Outgoing
from bot.store.tables import Member
from bot.testing import TestBot
from bot.windows import WindowEntry
from handlers.checkin import Checkin
from handlers.coupons import Coupon, CouponStock
from handlers.points import PointsEntry

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 12, 0, tzinfo=SHANGHAI)

DROP = {
    "playbooks/drop.yaml": dedent("""
        id: drop
        when:
          - message: {text: 并发测试放券}
        do:
          - say: 开抢！
          - claim: {batch: lucky, keyword: 抢券, window: 30m}
        coupons:
          - {id: lucky, title: 幸运券, stock: 50, per_member: 1}
    """)
}

GIFT = dedent("""
    id: gift
    when:
      - message: {text: 领券}
    do:
      - coupon: {batch: gift}
      - reply: "券码 {{ coupon.code }}"
    coupons:
      - {id: gift, title: 礼品券, stock: 10, per_member: 1}
""")

BOTS = pytest.mark.parametrize(
    ("bots", "driver"),
    [(1, "sqlite"), (2, "sqlite"), (2, "sqlite+aiosqlite"), (1, "postgresql"), (2, "postgresql")],
    ids=[
        "one-bot",
        "two-bots-one-database",
        "two-bots-one-database-aiosqlite",
        "one-bot-postgresql",
        "two-bots-one-database-postgresql",
    ],
)


@pytest.fixture
def database(driver: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    yield from database_url(driver, tmp_path, request)


@asynccontextmanager
async def first_of(playbooks: dict[str, str], database: str, **options: Any) -> AsyncIterator[list[TestBot]]:
    """A bot on a database file, in a list `open_more` adds bots to; all of them are closed at the end."""
    opened = [await TestBot.create(playbooks, database=database, **options)]
    try:
        yield opened
    finally:
        for bot in opened:
            await bot.close()


async def open_more(opened: list[TestBot], bots: int, playbooks: dict[str, str], database: str, **options: Any) -> None:
    """Open the other bots now: they load what the first one committed (an open coupon drop, ...)."""
    start = opened[0].clock.now()
    while len(opened) < bots:
        opened.append(await TestBot.create(playbooks, database=database, start=start, **options))


def all_sent(opened: list[TestBot]) -> list[Outgoing]:
    """What every bot sent: a bot's outbox may deliver rows another bot queued (one shared table)."""
    return [m for bot in opened for m in bot.sent]


def spread(opened: list[TestBot], calls: list[Callable[[TestBot], Any]]) -> list[Any]:
    """Deal the calls round-robin over the bots: all of them start before any finishes."""
    return [call(opened[i % len(opened)]) for i, call in enumerate(calls)]


@BOTS
async def test_500_concurrent_claims_on_a_stock_of_50_make_exactly_50_winners_and_no_code_twice(
    bots: int, database: str
) -> None:
    async with first_of(DROP, database, start=START) as opened:
        assert [m.text for m in await opened[0].say("boss", "并发测试放券", room="r1")] == ["开抢！"]
        await open_more(opened, bots, DROP, database)
        members = [f"m{i}" for i in range(500)]
        await asyncio.gather(*spread(opened, [lambda b, m=m: b.say(m, "抢券", room="r1") for m in members]))
        sent = all_sent(opened)
        bot = opened[0]
        coupons = await bot.rows(select(Coupon.code, Coupon.member_id, Coupon.batch_id))
        entries = Counter(r.outcome for r in await bot.rows(select(WindowEntry.outcome)))
        (issued,) = await bot.rows(select(CouponStock.issued).where(CouponStock.batch_id == "lucky"))

    won = [m for m in sent if m.text.startswith("抢到了")]
    assert len(won) == 50, [m.text for m in sent][:5]
    assert len({m.mentions[0].id for m in won}) == 50  # 50 different winners, each told once
    assert [m.text for m in sent if "已抢完" in m.text] == ["幸运券已抢完，下次早点来哦～"]  # said once
    assert len(sent) == 1 + 50 + 1  # the announcement, the winners, one sold-out notice: nothing else
    assert len(coupons) == 50 and {c.batch_id for c in coupons} == {"lucky"}
    assert len({c.code for c in coupons}) == 50  # no code twice
    assert {c.member_id for c in coupons} == {m.mentions[0].id for m in won}  # the told are the holders
    assert entries == {"won": 50, "late": 450}
    assert issued == (50,)


@BOTS
async def test_20_concurrent_redemptions_of_one_code_succeed_exactly_once(bots: int, database: str) -> None:
    """Staff type the code any way (case, dashes, spaces) at the same moment: one 核销成功, 19 plain refusals."""
    staff = [f"clerk{i}" for i in range(20)]
    config = Config(staff=StaffSection(staff=staff))
    playbooks = {"playbooks/gift.yaml": GIFT}  # /核销 is built in
    async with first_of(playbooks, database, config=config, start=START) as opened:
        (told,) = await opened[0].say("u1", "领券", room="r1")
        code = told.text.removeprefix("券码 ")
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", code), told.text
        await open_more(opened, bots, playbooks, database, config=config)
        typed = [code, code.lower(), f"{code[:4]}-{code[4:]}", f"{code[:2].lower()} {code[2:]}"]

        def attempt(i: int) -> Callable[[TestBot], Any]:
            room = "r1" if i % 2 else None  # in the group and in private chats alike
            return lambda b: b.say(staff[i], f"/核销 {typed[i % len(typed)]}", room=room)

        await asyncio.gather(*spread(opened, [attempt(i) for i in range(20)]))
        answers = all_sent(opened)[1:]  # after the code itself (concurrent `say`s each return all sent meanwhile)
        (coupon,) = await opened[0].rows(select(Coupon.redeemed_by, Coupon.redeemed_at).where(Coupon.code == code))

    texts = [m.text for m in answers]
    assert sorted(to_whom(m) for m in answers) == sorted(staff), texts  # everyone is answered, once
    winners = [to_whom(m) for m in answers if m.text.startswith("核销成功")]
    assert len(winners) == 1, texts
    assert sum("已经核销过了" in t for t in texts) == 19, texts
    assert coupon.redeemed_by == winners[0] and coupon.redeemed_at is not None


def to_whom(message: Outgoing) -> str:
    """The staff member an answer is for: @-mentioned in the group, or the private chat's other end."""
    person = message.mentions[0] if message.room is not None else message.member
    assert person is not None
    return person.id


MIDNIGHT_ZONES = pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/Los_Angeles"])


@MIDNIGHT_ZONES
@pytest.mark.usefixtures("backend")
async def test_100_members_checking_in_within_one_millisecond_at_local_midnight_get_one_checkin_per_local_day(
    zone: str,
) -> None:
    """Local midnight is not UTC midnight: in both zones the UTC date does not change across the millisecond
    23:59:59.999 -> 00:00:00.000, the local date does. Each member sends 签到 twice at each instant (a double
    tap), all at once: one check-in before midnight on day 1, one after it on day 2, nothing else."""
    config = Config(timezone=zone)
    tz = ZoneInfo(zone)
    midnight = datetime(2026, 11, 24, 0, 0, tzinfo=tz)
    before = midnight - timedelta(milliseconds=1)
    assert before.astimezone(ZoneInfo("UTC")).date() == midnight.astimezone(ZoneInfo("UTC")).date()
    members = [f"m{i:03d}" for i in range(100)]
    shipped = {"playbooks/daily-checkin.yaml": (ROOT / "playbooks/daily-checkin.yaml").read_text()}
    async with TestBot.running(shipped, config=config, start=before) as bot:
        await asyncio.gather(*(bot.say(m, "签到", room="r1") for m in members for _tap in range(2)))
        first = list(bot.sent)
        bot.clock.set(midnight)
        await asyncio.gather(*(bot.say(m, "签到", room=f"r{int(m[1:]) % 3}") for m in members for _ in range(2)))
        second = bot.sent[len(first) :]
        checkins = await bot.rows(select(Checkin.member_id, Checkin.day, Checkin.streak))
        points = dict(await bot.rows(select(Member.id, Member.points)))  # type: ignore[arg-type]
        ledger = dict(
            await bot.rows(select(PointsEntry.member_id, func.sum(PointsEntry.delta)).group_by(PointsEntry.member_id))  # type: ignore[arg-type]
        )

    day1, day2 = date(2026, 11, 23), date(2026, 11, 24)
    assert Counter((c.member_id, c.day, c.streak) for c in checkins) == Counter(
        {(m, d, s): 1 for m in members for d, s in ((day1, 1), (day2, 2))}
    )
    for sent, streak in ((first, 1), (second, 2)):
        replies = [m.text for m in sent]
        assert len(replies) == 200  # every tap is answered
        done = f"签到成功！连续 {streak} 天，+5 分，共 {5 * streak} 分"
        assert sum(t.endswith(done) for t in replies) == 100, Counter(replies)
        assert sum("今天已经签到过啦" in t for t in replies) == 100
    assert points == dict.fromkeys(members, 10) == ledger
