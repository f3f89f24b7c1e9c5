"""`flood:` (issue 13 item 2): one member's sixth message within 10 s in one group, or the same text the third time
within 2 minutes; it fires once, then not again until the member has stayed below the threshold for a whole
`within` span. Counted in memory, bounded, on the bot's clock (virtual here)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from moderation_chat import COUPON, playbooks, post

from bot.config import Config, StaffSection
from bot.moderation.flood import FloodCounter, FloodRule
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

ANTI_FLOOD = """
    id: anti-flood
    name: 防刷屏
    when:
      - flood: {messages: 6, within: 10s}
      - flood: {same_text: 3, within: 2m}
    do:
      - reply: "请不要刷屏哦～"
        mention: true
"""
CALM = ["请不要刷屏哦～"]
SAYINGS = itertools.count()
EVENTS = (f"e{n}" for n in itertools.count())  # a new event id for each message the counter is given


@pytest.fixture
async def bot() -> TestBot:
    config = Config(staff=StaffSection(staff=["clerk"]))
    async with TestBot.running(playbooks(anti_flood=ANTI_FLOOD, coupon=COUPON), config=config) as running:
        yield running


async def chatter(bot: TestBot, member: str, count: int, *, every: float = 1, room: str = "r1") -> list[list[str]]:
    """`count` different messages, one each `every` seconds; what the bot answered to each."""
    answers = []
    for _ in range(count):
        answers.append(await post(bot, member, f"第{next(SAYINGS)}句话", room=room))
        await bot.advance(timedelta(seconds=every))
    return answers


async def test_the_sixth_message_within_ten_seconds_fires_once(bot: TestBot) -> None:
    answers = await chatter(bot, "u1", 12)
    assert answers == [[]] * 5 + [CALM] + [[]] * 6


async def test_it_fires_again_only_after_a_whole_span_below_the_threshold(bot: TestBot) -> None:
    assert (await chatter(bot, "u1", 6))[-1] == CALM
    await bot.advance(timedelta(seconds=5))
    assert await chatter(bot, "u1", 6) == [[]] * 6  # paused, but not for a whole span: still the same flood
    await bot.advance(timedelta(seconds=11))
    assert await chatter(bot, "u1", 6) == [[]] * 5 + [CALM]


async def test_a_steady_talker_below_the_threshold_is_never_a_flood(bot: TestBot) -> None:
    assert await chatter(bot, "u1", 30, every=2.5) == [[]] * 30


async def test_members_and_groups_are_counted_apart(bot: TestBot) -> None:
    for n in range(4):
        assert await post(bot, "u1", f"a{n}") == []
        assert await post(bot, "u2", f"b{n}") == []
        assert await post(bot, "u1", f"c{n}", room="r2") == []
    assert await post(bot, "u1", "a5") == []
    assert await post(bot, "u1", "a6") == CALM


async def test_the_same_text_three_times_within_two_minutes_fires(bot: TestBot) -> None:
    assert await post(bot, "u1", "买买买") == []
    await bot.advance(timedelta(seconds=50))
    assert await post(bot, "u1", "买 买 买！") == []  # the same text once folded
    await bot.advance(timedelta(seconds=50))
    assert await post(bot, "u1", "ＢＵＹ") == []
    assert await post(bot, "u1", "买买买") == CALM
    await bot.advance(timedelta(seconds=30))
    assert await post(bot, "u1", "买买买") == []


async def test_the_same_text_spread_over_more_than_the_span_is_no_flood(bot: TestBot) -> None:
    for _ in range(5):
        assert await post(bot, "u1", "早上好") == []
        await bot.advance(timedelta(seconds=61))


async def test_the_same_card_posted_again_and_again_is_the_same_text(bot: TestBot) -> None:
    for answer in ([], [], CALM):
        assert await post(bot, "u9", kind="link", url="https://t.cn/x", title="赚钱") == answer


async def test_a_flood_is_consumed_and_staff_never_flood(bot: TestBot) -> None:
    for _ in range(2):
        assert await post(bot, "u1", "抢券") == ["券来了"]
    assert await post(bot, "u1", "抢券") == CALM  # the third 抢券 in a row is the flood's, not the coupon's
    for _ in range(10):
        assert await post(bot, "clerk", "抢券") == ["券来了"]


def test_the_counter_forgets_the_least_recent_members_beyond_its_bound() -> None:
    """Alt accounts by the thousand cannot grow the bot's memory: past the bound the least recently seen go."""
    counter = FloodCounter(max_members=100)
    rule = FloodRule("messages", 2, timedelta(seconds=10))
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert not counter.hit(rule, "r1", "u0", "x", now, next(EVENTS))
    for n in range(1, 1000):
        counter.hit(rule, "r1", f"u{n}", "x", now, next(EVENTS))
    assert len(counter) <= 100
    assert not counter.hit(rule, "r1", "u0", "x", now, next(EVENTS))  # forgotten: this is its first message again
    assert counter.hit(rule, "r1", "u999", "x", now, next(EVENTS))


def test_a_member_still_flooding_is_remembered_while_quieter_ones_are_forgotten() -> None:
    """Least recently *seen*, not first seen, goes: alts flooding past the bound cannot wipe a flooder's count."""
    counter = FloodCounter(max_members=100)
    rule = FloodRule("messages", 3, timedelta(seconds=10))
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert not counter.hit(rule, "r1", "spammer", "x", now, next(EVENTS))
    for n in range(150):
        counter.hit(rule, "r1", f"alt{n}", "x", now, next(EVENTS))
        if n == 90:
            assert not counter.hit(rule, "r1", "spammer", "x", now, next(EVENTS))  # seen again: among the most recent
    assert counter.hit(rule, "r1", "spammer", "x", now, next(EVENTS))  # the third within 10s: still counted
