"""生日礼遇: birthdays as members write them, the `birthday: today` segment in the shop's timezone (Feb 29 on Feb 28
in other years) as one indexed query, `once: {per: month | year}`, and the shipped birthday playbooks' scenarios."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import Config
from bot.playbook.errors import Problems
from bot.playbook.library import load_folder
from bot.scenario import parse_scenario, run_scenario
from bot.testing import TestBot
from handlers.birthday import BadValue, birthdays_on, parse_birthday
from handlers.segments import Segment, SegmentScope, segment_query

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12-25", "12-25"),
        ("12/25", "12-25"),
        ("12.25", "12-25"),
        ("12 25", "12-25"),
        ("12月25日", "12-25"),
        ("12月25号", "12-25"),
        ("12月25", "12-25"),
        ("1225", "12-25"),
        ("１２－２５", "12-25"),  # full-width, as Chinese keyboards type it
        ("1990-12-25", "12-25"),  # the year is not kept
        ("1990年12月25日", "12-25"),
        ("19901225", "12-25"),
        ("3-8", "03-08"),
        ("2/29", "02-29"),
        (" 12-25。", "12-25"),
    ],
)
def test_the_common_ways_of_writing_a_birthday_read_as_month_day(typed: str, stored: str) -> None:
    assert parse_birthday(typed) == stored


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("13-45", "没有 13月45日 这一天，请按「月-日」写，例如 12-25"),
        ("02-30", "没有 2月30日 这一天，请按「月-日」写，例如 12-25"),
        ("0431", "没有 4月31日 这一天，请按「月-日」写，例如 12-25"),
        ("0-12", "没有 0月12日 这一天，请按「月-日」写，例如 12-25"),
        ("abc", "看不懂这个日期，请按「月-日」写，例如 12-25"),
        ("125", "看不懂这个日期，请按「月-日」写，例如 12-25"),  # 1月25日 or 12月5日: asked, not guessed
        ("{{ 7*7 }}", "看不懂这个日期，请按「月-日」写，例如 12-25"),
        ("12-25 加我微信 abc123", "看不懂这个日期，请按「月-日」写，例如 12-25"),
        ("", "看不懂这个日期，请按「月-日」写，例如 12-25"),
    ],
)
def test_a_birthday_that_is_no_date_is_refused_without_echoing_what_was_typed(typed: str, answer: str) -> None:
    assert parse_birthday(typed) == BadValue(answer)


def test_feb_29_birthdays_fall_on_feb_28_in_other_years_only() -> None:
    assert birthdays_on(date(2027, 2, 28)) == ["02-28", "02-29"]
    assert birthdays_on(date(2028, 2, 28)) == ["02-28"]
    assert birthdays_on(date(2028, 2, 29)) == ["02-29"]
    assert birthdays_on(date(2027, 3, 1)) == ["03-01"]


REGISTER = textwrap.dedent("""
    id: register
    when:
      - message: {regex: '^生日\\s+(?P<date>.+)$', in: any}
    do:
      - set_field: {field: birthday, value: "{{ message.groups.date }}"}
    fields:
      - {id: birthday, type: birthday}
""")


async def birthday_members(bot: TestBot, now: datetime) -> list[str]:
    query = segment_query(Segment(birthday="today"), scope=SegmentScope.at(now, bot.bot.config))
    return [row.id for row in await bot.rows(query)]


@pytest.mark.usefixtures("backend")
async def test_birthday_today_is_the_shops_local_day_with_feb_29_on_feb_28() -> None:
    config = Config.model_validate({"timezone": "Asia/Shanghai"})
    async with TestBot.running({"playbooks/r.yaml": REGISTER}, config=config) as bot:
        for member, day in (("u1", "12-25"), ("u2", "12-24"), ("u3", "02-29"), ("u4", "02-28")):
            await bot.say(member, f"生日 {day}", room="r1")
        await bot.say("u5", "在吗", room="r1")  # no birthday given
        # 17:30 UTC on Dec 24 is 01:30 on Dec 25 in Shanghai: the shop's day decides.
        assert await birthday_members(bot, datetime(2026, 12, 24, 17, 30, tzinfo=UTC)) == ["u1"]
        assert await birthday_members(bot, datetime(2026, 12, 24, 15, 30, tzinfo=UTC)) == ["u2"]
        assert await birthday_members(bot, datetime(2027, 2, 28, 1, 0, tzinfo=UTC)) == ["u3", "u4"]
        assert await birthday_members(bot, datetime(2028, 2, 28, 1, 0, tzinfo=UTC)) == ["u4"]
        assert await birthday_members(bot, datetime(2028, 2, 29, 1, 0, tzinfo=UTC)) == ["u3"]


async def test_birthday_today_is_one_index_range_not_a_scan_of_the_profiles() -> None:
    """The plan a million members need (the bench times it): SQLite reads the (field, value) index for today's
    birthdays and finds each such member by key, rather than testing every member's profile."""
    async with TestBot.running({"playbooks/r.yaml": REGISTER}) as bot:
        query = segment_query(Segment(birthday="today"), scope=SegmentScope.at(bot.clock.now(), bot.bot.config))
        compiled = query.compile(compile_kwargs={"literal_binds": True})
        plan = " | ".join(row[-1] for row in await bot.rows(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "ix_profile_values_field_value (field_id=? AND value=?)" in plan, plan
        assert "SCAN profile_values" not in plan, plan


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


@pytest.mark.parametrize("name", ["birthday.yaml", "birthday-greeting.yaml", "birthday-feb29.yaml"])
async def test_the_shipped_birthday_scenarios_pass(name: str) -> None:
    problems = Problems()
    scenario = parse_scenario(ROOT / "playbooks" / "tests" / name, name, problems)
    assert scenario is not None, problems.sorted()
    playbooks = load_folder(ROOT / "playbooks")
    assert playbooks.problems == []
    result = await run_scenario(scenario, playbooks, Config())
    assert result.passed, "\n".join(result.detail)
