"""Yearly and monthly gifts (生日礼遇): `once: {per: month | year}` counts the shop's calendar months and years."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta

import pytest

from bot.config import Config
from bot.testing import TestBot

ONCE = textwrap.dedent("""
    id: gift
    when:
      - command: 礼物
    if:
      - once: {per: PERIOD}
    do:
      - reply: 送你一份礼物
""")


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("period", "again_after"),
    [("month", datetime(2026, 12, 1, 0, 5)), ("year", datetime(2027, 1, 1, 0, 5))],
)
async def test_once_per_month_or_year_counts_calendar_months_and_years_of_the_shop(
    period: str, again_after: datetime
) -> None:
    config = Config.model_validate({"timezone": "Asia/Shanghai"})
    async with TestBot.running({"playbooks/g.yaml": ONCE.replace("PERIOD", period)}, config=config) as bot:
        tz = config.tz
        assert [m.text for m in await bot.say("u1", "/礼物")] == ["送你一份礼物"]
        assert await bot.say("u1", "/礼物") == []
        assert [m.text for m in await bot.say("u2", "/礼物")] == ["送你一份礼物"]  # per member
        await bot.advance_to(again_after.replace(tzinfo=tz) - timedelta(minutes=10))
        assert await bot.say("u1", "/礼物") == []  # the last minutes of the period are still in it
        await bot.advance_to(again_after.replace(tzinfo=tz))
        assert [m.text for m in await bot.say("u1", "/礼物")] == ["送你一份礼物"]
        assert await bot.say("u1", "/礼物") == []
