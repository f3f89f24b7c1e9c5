"""The dashboard's figures (bot/analytics) against values counted by hand on a small seeded shop
(tests/dashboard_seed.py tells its story): per day for a group and in total, the funnel, cohort retention, and
nudges vs holdout with the difference and its 95% interval."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from dashboard_seed import START, TZ, seed
from sqlalchemy import Connection

from bot.analytics.cohorts import cohorts
from bot.analytics.daily import daily, totals
from bot.analytics.funnel import Funnel, funnel
from bot.analytics.nudges import effects
from bot.config import Config
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")
T = TypeVar("T")


@pytest.fixture
async def bot() -> AsyncIterator[TestBot]:
    async with TestBot.running({}, config=Config(), start=START) as running:
        await seed(running)
        yield running


async def read(bot: TestBot, fn: Callable[[Connection], T]) -> T:
    async with bot.bot.store.unit() as conn:
        return await conn.run_sync(fn)


async def test_daily_figures_of_group_r1_over_7_days(bot: TestBot) -> None:
    now = bot.clock.now()
    found = await read(bot, lambda conn: daily(conn, now, TZ, 7, ["r1"]))
    assert [d.isoformat() for d in found.days] == [f"2026-11-{d}" for d in range(20, 27)]
    assert found.series == {
        # index 0..6 = 11-20..11-26
        # i at 02:00 local on 11-20 (18:00 UTC on 11-19); c, d on 11-21; e at 00:30 local on 11-24 (16:30 UTC 11-23)
        "joins": [1, 2, 0, 0, 1, 0, 0],
        "leaves": [0, 0, 0, 0, 0, 1, 0],  # d on 11-25
        "active": [0, 1, 0, 0, 1, 1, 2],  # c 11-21, h 11-24, c 11-25, a+b 11-26 (f is in r2 only)
        "checkins": [0, 0, 1, 0, 0, 0, 0],  # c 11-22 (a, b on 11-17: before the span)
        "quiz_answers": [0, 0, 0, 2, 0, 0, 0],  # a and b on 11-23
        "quiz_winners": [0, 0, 0, 1, 0, 0, 0],  # a
        "coupons_issued": [0, 0, 1, 0, 0, 1, 0],  # C4 on 11-22, C3 on 11-25 (C1, C2 on 11-18)
        "coupons_claimed": [0, 0, 0, 0, 0, 1, 0],  # a won the drop; c found it sold out
        "coupons_redeemed": [0, 0, 0, 0, 0, 0, 1],  # C3 on 11-26 (C1 on 11-19)
        "messages_sent": [0, 0, 0, 0, 0, 0, 2],  # rows 1, 2 (4 merged into 1, 5 a removal: not messages)
        "messages_held": [0, 0, 0, 0, 1, 0, 2],  # 3 expired 11-24; 2 left 5 min late, 7 waits 1 h (6: 30 s only)
    }


async def test_daily_figures_in_total_add_the_other_group(bot: TestBot) -> None:
    now = bot.clock.now()
    found = await read(bot, lambda conn: daily(conn, now, TZ, 7))
    assert found.series["joins"] == [1, 2, 0, 1, 1, 0, 0]  # f joined r2 on 11-23
    assert found.series["active"] == [0, 1, 0, 1, 1, 1, 2]  # f spoke on 11-23
    assert found.series["checkins"] == [0, 0, 1, 0, 1, 0, 0]  # f on 11-24
    assert len(found.days) == 7 and (await read(bot, lambda conn: daily(conn, now, TZ, 90))).days[0].isoformat() == (
        "2026-08-29"  # 90 days ending 11-26: 11-26 minus 89 days
    )


async def test_totals_over_a_span_are_the_days_added_up(bot: TestBot) -> None:
    now = bot.clock.now()
    since = now - timedelta(days=6, hours=9)  # 11-20 00:00 local: the 7 days of the chart
    per_day = await read(bot, lambda conn: daily(conn, now, TZ, 7, ["r1"]))
    summed = await read(bot, lambda conn: totals(conn, since, now, TZ, ["r1"]))
    # `active` counts people: a, b, c, h spoke in the span (c on two days) = 4, not the 5 member-days
    assert summed == {k: sum(v) for k, v in per_day.series.items()} | {"active": 4}


async def test_funnel_of_members_who_joined_in_the_last_30_days(bot: TestBot) -> None:
    now = bot.clock.now()
    since = now - timedelta(days=30)
    # joined since 10-27: a, b, c, d, e, h, i (r1) and f (r2) = 8 (g joined 10-17: before)
    # checked in after joining: a, b, c, f = 4; of them got a coupon after joining: a, b = 2 (d got one but never
    # checked in: a funnel step counts only those who took the steps before it); redeemed one: a = 1
    # brought someone in: a (e); f "invited" itself, which is nobody = 1
    assert await read(bot, lambda conn: funnel(conn, since, now)) == Funnel(8, 4, 2, 1, 1)
    assert await read(bot, lambda conn: funnel(conn, since, now, ["r2"])) == Funnel(1, 1, 0, 0, 0)


async def test_cohorts_by_join_week_and_weeks_later_still_active(bot: TestBot) -> None:
    now = bot.clock.now()
    found = await read(bot, lambda conn: cohorts(conn, now, TZ, 3))
    assert [(c.week.isoformat(), c.members, c.active) for c in found] == [
        ("2026-11-09", 1, [1, 0, 1]),  # h: spoke 11-12 (week 0) and 11-24 (week 2)
        ("2026-11-16", 5, [1, 3]),  # a, b, c, d, i: c spoke 11-21 (week 0); a, b 11-26 and c 11-25 (week 1)
        ("2026-11-23", 2, [1]),  # e, f (00:30 local on Monday 11-23, still Sunday in UTC): f spoke 11-23
    ]
    in_r1 = await read(bot, lambda conn: cohorts(conn, now, TZ, 3, ["r1"]))
    assert in_r1[2].members == 1 and in_r1[2].active == [0]  # e only: f is in r2


async def test_nudges_vs_holdout_with_the_difference_and_its_95_percent_interval(bot: TestBot) -> None:
    since = bot.clock.now() - timedelta(days=30)
    birthday, wake = await read(bot, lambda conn: effects(conn, since))
    # wake: nudged n1-n4 (n1 twice: one person), n1-n3 back = 3/4; held n5-n8, n5 back = 1/4 (n10: before the span)
    assert (wake.playbook_id, wake.nudged, wake.nudged_back, wake.held, wake.held_back) == ("wake", 4, 3, 4, 1)
    # d = 0.75 - 0.25 = 0.5; se = sqrt(0.75*0.25/4 + 0.25*0.75/4) = sqrt(0.09375) = 0.306186
    # 95%: 0.5 ± 1.959964 * 0.306186 = 0.5 ± 0.600114 -> (-0.100114, 1.100114)
    d, low, high = wake.difference() or (0, 0, 0)
    assert d == 0.5 and math.isclose(low, -0.100114, abs_tol=1e-6) and math.isclose(high, 1.100114, abs_tol=1e-6)
    # birthday held nobody out: no comparison, no interval
    assert (birthday.nudged, birthday.nudged_back, birthday.held, birthday.difference()) == (1, 1, 0, None)
    (overall,) = await read(bot, lambda conn: effects(conn, since, by_playbook=False))
    assert (overall.nudged, overall.nudged_back, overall.held, overall.held_back) == (5, 4, 4, 1)


async def test_one_week_of_cohorts_is_this_week_alone(bot: TestBot) -> None:
    now = bot.clock.now()
    (week,) = await read(bot, lambda conn: cohorts(conn, now, TZ, 1))
    assert (week.week.isoformat(), week.members, week.active) == ("2026-11-23", 2, [1])  # e, f; f spoke 11-23
