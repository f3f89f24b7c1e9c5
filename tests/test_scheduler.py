"""Schedules: fire times from APScheduler triggers, walked under a virtual clock or run in real time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import Bot
from bot.clock import SystemClock
from bot.config import Config, RoomSection
from bot.connectors.memory import MemoryConnector
from bot.events import Outgoing, RoomRef
from bot.playbook.library import load_texts
from bot.playbook.types import cron_trigger
from bot.store.activity import upsert_room
from bot.store.tables import SeenEvent
from bot.testing import TestBot

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday
STAMP = "{{ now.strftime('%a %Y-%m-%d %H:%M') }}"


def schedule(pid: str, when: str, text: str = STAMP, rooms: str = "") -> str:
    return f'id: {pid}\nwhen:\n  - schedule: {when}\n{rooms}do:\n  - say: "{pid} {text}"\n'


async def make_bot(
    playbooks: dict[str, str],
    *,
    start: datetime = MONDAY,
    rooms: tuple[tuple[str, str], ...] = (("r1", "会员福利1群"),),
    config: Config | None = None,
) -> TestBot:
    bot = await TestBot.create(playbooks, start=start, config=config)
    for room_id, topic in rooms:
        await bot.add_room(room_id, topic)
    return bot


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def fire_times(trigger, start: datetime, until: datetime) -> list[datetime]:
    out, t = [], trigger.get_next_fire_time(None, start)
    while t is not None and t <= until:
        out.append(t)
        t = trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
    return out


# -- cron


async def test_cron_wednesday_20h_fires_once_at_local_wednesday_20h_in_seven_days_from_monday() -> None:
    bot = await make_bot({"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')})
    try:
        sent = await bot.advance(timedelta(days=7))
        now = bot.clock.now()
    finally:
        await bot.close()
    assert texts(sent) == ["quiz Wed 2026-11-25 20:00"]
    assert sent[0].room == RoomRef("r1", "会员福利1群")
    assert now == MONDAY + timedelta(days=7)  # the clock ends where it was told, not at the last tick


async def test_cron_fires_once_per_week() -> None:
    bot = await make_bot({"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')})
    try:
        sent = await bot.advance(timedelta(days=21))
    finally:
        await bot.close()
    assert texts(sent) == ["quiz Wed 2026-11-25 20:00", "quiz Wed 2026-12-02 20:00", "quiz Wed 2026-12-09 20:00"]


async def test_cron_due_at_the_start_instant_does_not_fire_until_next_time() -> None:
    start = datetime(2026, 11, 25, 20, 0, tzinfo=TZ)  # exactly Wednesday 20:00
    bot = await make_bot({"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')}, start=start)
    try:
        sent = await bot.advance(timedelta(days=7))
    finally:
        await bot.close()
    assert texts(sent) == ["quiz Wed 2026-12-02 20:00"]


async def test_schedule_ticks_once_per_known_room() -> None:
    bot = await make_bot(
        {"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')},
        rooms=(("r1", "会员福利1群"), ("r2", "会员福利2群")),
    )
    try:
        sent = await bot.advance(timedelta(days=7))
    finally:
        await bot.close()
    assert sorted(m.room.id for m in sent) == ["r1", "r2"]
    assert texts(sent) == ["quiz Wed 2026-11-25 20:00"] * 2


async def test_schedule_with_rooms_ticks_only_in_the_named_room() -> None:
    playbook = schedule("quiz", '{cron: "0 20 * * WED"}', rooms="rooms: [会员福利2群]\n")
    bot = await make_bot({"playbooks/quiz.yaml": playbook}, rooms=(("r1", "会员福利1群"), ("r2", "会员福利2群")))
    try:
        sent = await bot.advance(timedelta(days=7))
    finally:
        await bot.close()
    assert [m.room.id for m in sent] == ["r2"]


async def test_schedule_skips_known_rooms_the_bot_does_not_manage() -> None:
    config = Config(rooms=[RoomSection(topic="会员福利1群")])
    bot = await make_bot(
        {"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')},
        rooms=(("r1", "会员福利1群"), ("r9", "家人群")),
        config=config,
    )
    try:
        sent = await bot.advance(timedelta(days=7))
    finally:
        await bot.close()
    assert [m.room.id for m in sent] == ["r1"]


async def test_cron_weekday_zero_and_seven_mean_sunday() -> None:
    bot = await make_bot(
        {
            "playbooks/a.yaml": schedule("zero", '{cron: "0 9 * * 0"}'),
            "playbooks/b.yaml": schedule("seven", '{cron: "0 10 * * 7"}'),
        }
    )
    try:
        sent = await bot.advance(timedelta(days=14))
    finally:
        await bot.close()
    assert texts(sent) == [
        "zero Sun 2026-11-29 09:00",
        "seven Sun 2026-11-29 10:00",
        "zero Sun 2026-12-06 09:00",
        "seven Sun 2026-12-06 10:00",
    ]


async def test_cron_weekdays_one_to_five_are_monday_to_friday() -> None:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    bot = await make_bot(
        {"playbooks/a.yaml": schedule("work", '{cron: "0 9 * * 1-5"}', "{{ now.strftime('%a') }}")}, start=start
    )
    try:
        sent = await bot.advance(timedelta(days=7))
    finally:
        await bot.close()
    assert texts(sent) == ["work Mon", "work Tue", "work Wed", "work Thu", "work Fri"]


def test_cron_weekday_range_starting_at_sunday_is_sunday_to_thursday() -> None:
    trigger = cron_trigger("0 9 * * 0-4", TZ)
    days = [
        t.strftime("%a") for t in fire_times(trigger, MONDAY - timedelta(days=1), MONDAY + timedelta(days=5, hours=23))
    ]
    assert days == ["Sun", "Mon", "Tue", "Wed", "Thu"]


def test_cron_weekday_step_is_every_other_day_from_sunday() -> None:
    trigger = cron_trigger("0 9 * * */2", TZ)
    days = [
        t.strftime("%a") for t in fire_times(trigger, MONDAY - timedelta(days=1), MONDAY + timedelta(days=5, hours=23))
    ]
    assert days == ["Sun", "Tue", "Thu", "Sat"]


def test_cron_weekday_range_may_end_at_sunday_by_name() -> None:
    trigger = cron_trigger("0 9 * * FRI-SUN", TZ)
    days = [t.strftime("%a") for t in fire_times(trigger, MONDAY, MONDAY + timedelta(days=7))]
    assert days == ["Fri", "Sat", "Sun"]


def test_cron_with_a_day_and_a_weekday_fires_on_either_as_standard_cron_does() -> None:
    trigger = cron_trigger("0 9 1 * MON", TZ)
    dates = [t.strftime("%m-%d %a") for t in fire_times(trigger, MONDAY, MONDAY + timedelta(days=14))]
    assert dates == ["11-23 Mon", "11-30 Mon", "12-01 Tue", "12-07 Mon"]


@pytest.mark.parametrize("line", ["0 9 * * 8", "0 9 * * 5-1", "0 9 * * */0", "0 9 * * funday"])
def test_a_bad_weekday_field_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="weekday"):
        cron_trigger(line, TZ)


# -- every, at


async def test_every_hour_fires_24_times_a_day_counted_from_the_start() -> None:
    start = datetime(2026, 11, 23, 9, 7, tzinfo=TZ)
    bot = await make_bot(
        {"playbooks/a.yaml": schedule("hourly", "{every: 1h}", "{{ now.strftime('%d %H:%M') }}")}, start=start
    )
    try:
        sent = await bot.advance(timedelta(days=1))
    finally:
        await bot.close()
    assert len(sent) == 24
    assert texts(sent)[0] == "hourly 23 10:07"
    assert texts(sent)[-1] == "hourly 24 09:07"


async def test_every_counts_from_the_start_not_from_the_hour() -> None:
    start = datetime(2026, 11, 23, 9, 7, tzinfo=TZ)
    bot = await make_bot(
        {"playbooks/a.yaml": schedule("slow", "{every: 90m}", "{{ now.strftime('%H:%M') }}")}, start=start
    )
    try:
        sent = await bot.advance(timedelta(hours=5))
    finally:
        await bot.close()
    assert texts(sent) == ["slow 10:37", "slow 12:07", "slow 13:37"]


async def test_at_fires_once_at_that_local_time() -> None:
    bot = await make_bot({"playbooks/a.yaml": schedule("sale", '{at: "2026-12-12 20:00"}')})
    try:
        sent = await bot.advance(timedelta(days=30))
        seen_at = bot.clock.now()
        later = await bot.advance(timedelta(days=400))
    finally:
        await bot.close()
    assert texts(sent) == ["sale Sat 2026-12-12 20:00"]
    assert seen_at == datetime(2026, 12, 23, 1, 0, tzinfo=UTC)
    assert later == []


async def test_at_before_the_start_never_fires_and_does_not_break_advancing() -> None:
    bot = await make_bot(
        {
            "playbooks/a.yaml": schedule("past", '{at: "2026-11-01 20:00"}'),
            "playbooks/b.yaml": schedule("quiz", '{cron: "0 20 * * WED"}'),
        }
    )
    try:
        sent = await bot.advance(timedelta(days=7))
    finally:
        await bot.close()
    assert texts(sent) == ["quiz Wed 2026-11-25 20:00"]


async def test_at_the_start_instant_does_not_fire() -> None:
    start = datetime(2026, 12, 12, 20, 0, tzinfo=TZ)
    bot = await make_bot({"playbooks/a.yaml": schedule("sale", '{at: "2026-12-12 20:00"}')}, start=start)
    try:
        sent = await bot.advance(timedelta(days=1))
    finally:
        await bot.close()
    assert sent == []


# -- order and stepping


ORDERED = {
    # file order is not time order
    "playbooks/a.yaml": schedule("cron", '{cron: "30 10 * * *"}', "{{ now.strftime('%H:%M') }}"),
    "playbooks/b.yaml": schedule("at", '{at: "2026-11-23 10:15"}', "{{ now.strftime('%H:%M') }}"),
    "playbooks/c.yaml": schedule("every", "{every: 1h}", "{{ now.strftime('%H:%M') }}"),
}


async def test_schedules_due_in_one_advance_fire_in_time_order_seeing_their_own_time() -> None:
    bot = await make_bot(ORDERED)
    try:
        sent = await bot.advance(timedelta(hours=2))
    finally:
        await bot.close()
    assert texts(sent) == ["every 10:00", "at 10:15", "cron 10:30", "every 11:00"]


async def test_schedules_due_at_the_same_moment_all_fire() -> None:
    bot = await make_bot(
        {
            "playbooks/a.yaml": schedule("one", '{cron: "0 10 * * *"}', "{{ now.strftime('%H:%M') }}"),
            "playbooks/b.yaml": schedule("two", "{every: 1h}", "{{ now.strftime('%H:%M') }}"),
        }
    )
    try:
        sent = await bot.advance(timedelta(hours=1))
    finally:
        await bot.close()
    assert sorted(texts(sent)) == ["one 10:00", "two 10:00"]


async def test_small_steps_and_one_big_step_fire_the_same_ticks() -> None:
    playbooks = {
        **ORDERED,
        "playbooks/d.yaml": schedule("quiz", '{cron: "0 20 * * WED"}'),
        "playbooks/e.yaml": schedule("odd", "{every: 7h}"),
    }
    big = await make_bot(playbooks, rooms=(("r1", "会员福利1群"), ("r2", "会员福利2群")))
    small = await make_bot(playbooks, rooms=(("r1", "会员福利1群"), ("r2", "会员福利2群")))
    try:
        at_once = await big.advance(timedelta(days=4))
        stepped: list[Outgoing] = []
        step = timedelta(minutes=37)
        while small.clock.now() + step <= big.clock.now():
            stepped += await small.advance(step)
        stepped += await small.advance(big.clock.now() - small.clock.now())
    finally:
        await big.close()
        await small.close()
    assert len(at_once) > 30
    assert [(m.room.id, m.text) for m in stepped] == [(m.room.id, m.text) for m in at_once]
    assert small.clock.now() == big.clock.now()


async def test_advance_returns_nothing_when_nothing_is_due() -> None:
    bot = await make_bot({"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')})
    try:
        sent = await bot.advance(timedelta(days=1))
        assert bot.bot.scheduler.next_due() == datetime(2026, 11, 25, 20, 0, tzinfo=TZ)
    finally:
        await bot.close()
    assert sent == []


async def test_a_scheduled_playbook_that_waits_past_the_next_tick_does_not_break_advancing() -> None:
    playbook = (
        "id: slow\nwhen:\n  - schedule: {every: 1m}\ndo:\n  - say: \"a {{ now.strftime('%H:%M:%S') }}\"\n"
        "  - wait: 90s\n  - say: \"b {{ now.strftime('%H:%M:%S') }}\"\n"
    )
    bot = await make_bot({"playbooks/slow.yaml": playbook})
    try:
        sent = await bot.advance(timedelta(minutes=3))
    finally:
        await bot.close()
    assert texts(sent)[:2] == ["a 09:01:00", "b 09:02:30"]
    assert len([t for t in texts(sent) if t.startswith("a ")]) == 3


# -- a tick is an ordinary event


async def test_firing_the_same_tick_twice_sends_once() -> None:
    bot = await make_bot({"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')})
    try:
        playbook = bot.engine.playbooks.get("quiz")
        when = datetime(2026, 11, 25, 20, 0, tzinfo=TZ)
        await bot.bot.scheduler.fire(playbook, when)
        await bot.bot.scheduler.fire(playbook, when.astimezone(UTC))  # same moment, other zone: same tick
        await bot.engine.settle()
        once = list(bot.sent)
        await bot.bot.scheduler.fire(playbook, when + timedelta(days=7))
        await bot.engine.settle()
    finally:
        await bot.close()
    assert len(once) == 1
    assert len(bot.sent) == 2


async def test_a_tick_replayed_by_advance_after_a_manual_fire_is_dropped() -> None:
    bot = await make_bot({"playbooks/quiz.yaml": schedule("quiz", '{cron: "0 20 * * WED"}')})
    try:
        await bot.bot.scheduler.fire(bot.engine.playbooks.get("quiz"), datetime(2026, 11, 25, 20, 0, tzinfo=TZ))
        sent = await bot.advance(timedelta(days=7))
    finally:
        await bot.close()
    assert len(bot.sent) == 1
    assert sent == []


# -- real time


class SignallingConnector(MemoryConnector):
    """Records sends and sets an event once `wanted` messages arrived."""

    def __init__(self, wanted: int) -> None:
        super().__init__()
        self.wanted = wanted
        self.arrived = asyncio.Event()

    async def send(self, message: Outgoing) -> None:
        await super().send(message)
        if len(self.sent) >= self.wanted:
            self.arrived.set()


@pytest.mark.slow
async def test_real_time_scheduler_fires_distinct_ticks_through_apscheduler() -> None:
    config = Config()
    connector = SignallingConnector(wanted=2)
    playbooks = load_texts({"playbooks/beat.yaml": schedule("beat", "{every: 1s}", "{{ now.strftime('%H:%M:%S') }}")})
    bot = await Bot.create(
        config, clock=SystemClock(), connector=connector, playbooks=playbooks, database=":memory:", trust_rooms=True
    )
    try:
        async with bot.store.unit() as conn:
            await upsert_room(conn, RoomRef("r1", "会员福利1群"), bot.clock.now())
        bot.scheduler.restart_from_now()
        bot.scheduler.start()
        await asyncio.wait_for(connector.arrived.wait(), timeout=10)
        bot.scheduler.shutdown()
        async with bot.store.unit() as conn:
            ids = sorted((await conn.execute(select(SeenEvent.id).where(SeenEvent.id.startswith("tick:")))).scalars())
    finally:
        bot.scheduler.shutdown()
        await bot.close()
    assert [m.room.id for m in connector.sent[:2]] == ["r1", "r1"]
    # Each tick is named by its own scheduled second (not the first run's, or the second would be a duplicate).
    stamps = [datetime.strptime(i.split(":")[2], "%Y%m%dT%H%M%S") for i in ids[:2]]
    assert stamps[1] - stamps[0] == timedelta(seconds=1)
