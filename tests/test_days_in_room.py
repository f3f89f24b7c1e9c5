"""`member.days_in_room` (issue 13 item 2): days since this member joined this group as the bot saw it; a member
who was in the group before the bot first saw the group counts from that first sight, not from their first
message. Newcomers are who advertisers usually are (MODERATION.md: `member.days_in_room < 1`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from moderation_chat import playbooks, post

from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

DAYS = """
    id: days
    when:
      - message: {text: 几天}
    do:
      - reply: "{{ member.days_in_room }}"
"""
NEWCOMER = """
    id: newcomer-links
    when:
      - message: {has: link}
    if:
      - expr: "member.days_in_room < 1"
    do:
      - reply: 新人不能发链接
"""


@pytest.fixture
async def bot() -> TestBot:
    async with TestBot.running(playbooks(days=DAYS, newcomer=NEWCOMER)) as running:
        yield running


async def test_days_count_from_the_join_the_bot_saw(bot: TestBot) -> None:
    await bot.join("u1", "r1")
    assert await post(bot, "u1", "几天") == ["0"]
    await bot.advance(timedelta(days=3, hours=5))
    assert await post(bot, "u1", "几天") == ["3"]


async def test_a_member_who_was_there_before_the_bot_counts_from_its_first_sight_of_the_group(bot: TestBot) -> None:
    assert await post(bot, "u1", "大家好") == []  # the bot sees r1 for the first time
    await bot.advance(timedelta(days=5))
    assert await post(bot, "u2", "几天") == ["5"]  # u2 was in r1 all along, silent until now
    assert await post(bot, "u2", "看 https://evil.cn") == []  # not a newcomer
    await bot.join("u3", "r1")
    assert await post(bot, "u3", "看 https://evil.cn") == ["新人不能发链接"]


async def test_days_are_per_group_and_a_rejoin_starts_again(bot: TestBot) -> None:
    await bot.join("u1", "r1")
    await bot.advance(timedelta(days=10))
    await bot.join("u1", "r2")
    assert await post(bot, "u1", "几天", room="r2") == ["0"]
    assert await post(bot, "u1", "几天", room="r1") == ["10"]
    await bot.leave("u1", "r1")
    await bot.join("u1", "r1")
    assert await post(bot, "u1", "几天", room="r1") == ["0"]


async def test_a_scenario_member_joined_long_ago_is_no_newcomer(bot: TestBot) -> None:
    joined = bot.clock.now() - timedelta(days=40)
    await bot.seed("old", rooms=["r1"], joined=datetime.fromtimestamp(joined.timestamp(), tz=joined.tzinfo))
    assert await post(bot, "old", "几天") == ["40"]
    assert await post(bot, "old", "https://evil.cn") == []
