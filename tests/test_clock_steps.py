"""The clock or the timezone going back, as shops meet it: a machine clock that ran fast is corrected (NTP,
an operator fixing it) or the timezone in config.yaml is edited, and the bot is started again on the same
database. A virtual clock never goes back, so each test runs a second bot on the database file of a first
one whose clock (or timezone) was ahead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from timed import Timed

from bot.config import Config
from bot.testing import TestBot
from handlers.checkin import Checkin

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
PLAYBOOKS = {
    f"playbooks/{name}": (ROOT / "playbooks" / name).read_text("utf-8")
    for name in ("daily-checkin.yaml", "my-points.yaml")
} | {"playbooks/hello.yaml": "id: hello\nwhen:\n  - message: {text: 你好}\ndo:\n  - reply: 你好 {{ member.name }}\n"}

FAST_CLOCK = "a machine clock one hour fast, corrected before the restart"
TIMEZONE_EDIT = "the timezone edited from Asia/Shanghai to Asia/Urumqi (two hours behind)"


async def start(database: str, at: datetime, *, timezone: str = "Asia/Shanghai", governor: bool = False) -> TestBot:
    config = Config.model_validate({"timezone": timezone, "sending": {"jitter": None}})
    connector = Timed()
    bot = await TestBot.create(
        PLAYBOOKS, config=config, database=database, start=at, governor=governor, connector=connector
    )
    connector.clock = bot.clock
    return bot


@pytest.mark.parametrize("change", [FAST_CLOCK, TIMEZONE_EDIT])
async def test_a_check_in_date_never_goes_backwards_so_the_same_day_is_never_paid_twice(
    tmp_path: Path, change: str
) -> None:
    database = str(tmp_path / "shop.db")
    checked_in = datetime(2026, 11, 24, 0, 30, tzinfo=SHANGHAI)  # the 24th as the bot saw it
    if change == FAST_CLOCK:
        later, timezone = checked_in - timedelta(minutes=55), "Asia/Shanghai"  # really 23:35 on the 23rd
    else:
        later, timezone = checked_in + timedelta(minutes=5), "Asia/Urumqi"  # 22:35 on the 23rd in Urumqi
    first = await start(database, checked_in)
    try:
        (done,) = await first.say("u1", "签到", room="r1")
        assert "连续 1 天，+5 分" in done.text
    finally:
        await first.close()

    second = await start(database, later, timezone=timezone)
    try:
        (again,) = await second.say("u1", "签到", room="r1")
        assert "今天已经签到过啦" in again.text  # the check-in dated "tomorrow" counts as today's
        assert await second.field("u1", "points") == 5
        assert len(await second.rows(select(Checkin.__table__))) == 1
        tz = ZoneInfo(timezone)
        await second.advance_to(datetime(2026, 11, 24, 9, 0, tzinfo=tz))
        (same_day,) = await second.say("u1", "签到", room="r1")
        assert "今天已经签到过啦" in same_day.text  # the 24th was checked in already
        await second.advance_to(datetime(2026, 11, 25, 9, 0, tzinfo=tz))
        (next_day,) = await second.say("u1", "签到", room="r1")
        assert "连续 2 天，+5 分，共 10 分" in next_day.text  # the streak carries on from the 24th
    finally:
        await second.close()


async def test_sends_recorded_in_the_future_never_stall_sending_after_the_clock_is_corrected(
    tmp_path: Path,
) -> None:
    """Sent at 10:00 by a clock one hour fast, restarted at the true 09:05: the room and account gaps run from
    the restart, not from 10:00 (which would hold every reply to that group for an hour)."""
    database = str(tmp_path / "shop.db")
    fast = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    first = await start(database, fast, governor=True)
    try:
        assert [m.text for m in await first.say("u1", "你好", room="r1")] == ["你好 u1"]
    finally:
        await first.close()

    corrected = fast - timedelta(minutes=55)
    second = await start(database, corrected, governor=True)
    try:
        await second.say("u2", "你好", room="r1")
        await second.say("u3", "你好", room="r2")
        await second.advance(timedelta(seconds=10))
        assert sorted(m.text for m in second.sent) == ["你好 u2", "你好 u3"]
        times = second.connector.times  # type: ignore[attr-defined]
        assert all(t - corrected <= timedelta(seconds=4) for t in times), [t - corrected for t in times]
    finally:
        await second.close()


async def test_a_welcome_queued_by_a_clock_that_ran_fast_is_not_held_an_hour_after_the_correction(
    tmp_path: Path,
) -> None:
    """Welcomes wait `welcome_batch` (10 s) for company from when they were queued; queued by a clock an hour
    fast, after a restart with the right time they go at once, not an hour later."""
    database = str(tmp_path / "shop.db")
    welcome = {"playbooks/welcome.yaml": "id: welcome\nwhen:\n  - join: {}\ndo:\n  - reply: 欢迎 {{ member.name }}\n"}
    fast = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    first = await TestBot.create(welcome, database=database, start=fast, governor=True)
    await first.join("u1", "r1")
    await first.crash()
    assert first.sent == []

    corrected = fast - timedelta(hours=1)
    second = await TestBot.create(welcome, database=database, start=corrected, governor=True)
    try:
        await second.advance(timedelta(seconds=30))
        assert [m.text for m in second.sent] == ["欢迎 u1"]
    finally:
        await second.close()
