"""Scheduled playbooks in a fleet: every process's scheduler makes ticks for its groups, and each (playbook, group,
due time) is acted on once across the fleet (schedule_fires), by the group's speaker when it has a live one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import insert, select

from bot.clock import VirtualClock
from bot.config import load_config
from bot.events import Outgoing
from bot.fleet.accounts import run_as
from bot.fleet.tables import ScheduleFire, SpeakerLease
from bot.store.housekeeping import prune
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
FLEET = "accounts:\n  shop-a: {}\n  shop-b: {}\n"


def schedule(pid: str, when: str) -> dict[str, str]:
    text = f"id: {pid}\nwhen:\n  - schedule: {when}\ndo:\n  - say: \"{pid} {{{{ now.strftime('%H:%M') }}}}\"\n"
    return {f"playbooks/{pid}.yaml": text}


async def _pair(
    tmp_path: Path, backend: Backend, playbooks: dict[str, str], *, b_later: timedelta = timedelta()
) -> tuple[TestBot, TestBot]:
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")
    config = load_config(str(tmp_path / "config.yaml"))[0]
    clock = VirtualClock(MONDAY)
    a = await TestBot.create(playbooks, config=run_as(config, "shop-a"), database=backend.database, clock=clock)
    clock.forward_to(MONDAY + b_later)
    b = await TestBot.create(playbooks, config=run_as(config, "shop-b"), database=backend.database, clock=clock)
    for bot in (a, b):
        await bot.add_room("r1", "会员福利1群")
    return a, b


@pytest.fixture
async def closing() -> AsyncIterator[list[TestBot]]:
    bots: list[TestBot] = []
    yield bots
    for bot in bots:
        await bot.close()


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def test_a_cron_schedule_fires_once_per_group_across_the_fleet(
    tmp_path: Path, backend: Backend, closing: list[TestBot]
) -> None:
    a, b = await _pair(tmp_path, backend, schedule("quiz", '{cron: "0 10 * * *"}'))
    closing += [a, b]
    until = MONDAY + timedelta(days=2, hours=2)
    sent = [*await a.advance_to(until), *await b.advance_to(until)]
    assert texts(sent) == ["quiz 10:00"] * 3  # Monday to Wednesday, once each
    fires = await a.rows(select(ScheduleFire.__table__.c.room_id, ScheduleFire.__table__.c.account))
    assert sorted(fires) == [("r1", "shop-a")] * 3


async def test_every_counts_from_the_same_moment_in_every_process_of_a_fleet(
    tmp_path: Path, backend: Backend, closing: list[TestBot]
) -> None:
    """Two processes started 20 minutes apart must not each run an hourly playbook on their own phase."""
    a, b = await _pair(tmp_path, backend, schedule("nudge", "{every: 1h}"), b_later=timedelta(minutes=20))
    closing += [a, b]
    until = MONDAY + timedelta(hours=3, minutes=30)
    sent = [*await a.advance_to(until), *await b.advance_to(until)]
    assert sorted(texts(sent)) == ["nudge 10:00", "nudge 11:00", "nudge 12:00"]


async def test_a_tick_for_a_group_another_live_speaker_leads_is_left_to_it(
    tmp_path: Path, backend: Backend, closing: list[TestBot]
) -> None:
    a, b = await _pair(tmp_path, backend, schedule("quiz", '{cron: "0 10 * * *"}'))
    closing += [a, b]
    async with b.bot.store.unit() as conn:  # shop-b speaks for r1 for the next two hours
        lease = {"room_id": "r1", "account": "shop-b", "since": MONDAY, "expires_at": MONDAY + timedelta(hours=2)}
        await conn.execute(insert(SpeakerLease.__table__).values(lease))
    until = MONDAY + timedelta(hours=1)  # both processes' schedulers reach 10:00
    assert texts(await a.advance_to(until)) == []
    assert texts(await b.advance_to(until)) == ["quiz 10:00"]
    fires = await a.rows(select(ScheduleFire.__table__.c.account))
    assert [row.account for row in fires] == ["shop-b"]


async def test_a_process_back_after_the_due_time_does_not_fire_it_again(
    tmp_path: Path, backend: Backend, closing: list[TestBot]
) -> None:
    """The real-time scheduler catches up a fire missed by up to five minutes (APScheduler's misfire grace): a
    process that was down at 10:00 and is back at 10:03 runs the 10:00 job, which another process already ran."""
    a, b = await _pair(tmp_path, backend, schedule("quiz", '{cron: "0 10 * * *"}'))
    closing += [a, b]
    assert texts(await a.advance_to(MONDAY + timedelta(hours=1, minutes=3))) == ["quiz 10:00"]
    scheduler = b.bot.scheduler
    (playbook, trigger), *_ = scheduler._plan
    await scheduler._job(playbook.id, trigger)  # what APScheduler calls when the late process comes back
    await b.settle()
    assert texts(b.sent) == []


async def test_the_fires_are_pruned_after_a_month_and_recent_ones_stay(backend: Backend) -> None:
    """A fire's key only has to outlive the scheduler's catch-up of a missed time (minutes); a shop with hundreds of
    groups and hourly schedules would otherwise add thousands of rows a day forever."""
    async with TestBot.running({}, database=backend.database) as bot:
        now = bot.clock.now()
        async with bot.bot.store.unit() as conn:
            for n, age in enumerate((timedelta(days=31), timedelta(days=29), timedelta(minutes=5))):
                fire = {"playbook_id": "hourly", "room_id": f"r{n}", "due_at": now - age, "account": "shop-a"}
                await conn.execute(insert(ScheduleFire.__table__).values(fire))
        await prune(bot.bot.store, now)
        rows = await bot.rows(select(ScheduleFire.__table__.c.room_id).order_by(ScheduleFire.__table__.c.room_id))
        assert [row.room_id for row in rows] == ["r1", "r2"]
