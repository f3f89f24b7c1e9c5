"""Two accounts of one fleet in one process (tests): two TestBots on one database and one virtual clock, one per
account. A message in a group both are in reaches both, each with its own event id, with the same text and time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakSet

from sqlalchemy import select

from bot.clock import VirtualClock
from bot.config import Config
from bot.events import Outgoing
from bot.fleet.accounts import run_as
from bot.fleet.tables import SpeakerLease
from bot.testing import TestBot

START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")
FLEET = Config.model_validate({"accounts": {"shop-a": {}, "shop-b": {}}, "fleet": {"lease": "30s", "hold": "5m"}})
PAST_LEASE = timedelta(seconds=31)

ECHO = {
    "playbooks/echo.yaml": """
id: echo
when:
  - message: {keywords: [问]}
do:
  - reply: "答：{{ message.text }}"
""",
    "playbooks/checkin.yaml": """
id: checkin
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - reply: "签到成功，共 {{ member.points }} 分"
""",
    "playbooks/welcome.yaml": """
id: welcome
when:
  - join: {}
do:
  - reply: "欢迎 {{ member.name }}"
""",
}


async def account(database: str, name: str, clock: VirtualClock, playbooks: Any = None, **options: Any) -> TestBot:
    config = run_as(FLEET, name)
    return await TestBot.create(
        ECHO if playbooks is None else playbooks, config=config, database=database, clock=clock, **options
    )


@asynccontextmanager
async def pair(database: str, playbooks: Any = None, **options: Any) -> AsyncIterator[tuple[TestBot, TestBot]]:
    """Accounts shop-a and shop-b; closed (or left crashed) at the end."""
    clock = VirtualClock(START)
    a = await account(database, "shop-a", clock, playbooks, **options)
    b = await account(database, "shop-b", clock, playbooks)
    try:
        yield a, b
    finally:
        for bot in (a, b):
            if bot not in _stopped:
                await bot.close()


_stopped: WeakSet[TestBot] = WeakSet()


async def crash(bot: TestBot) -> None:
    """The account's process dies (kill -9): nothing released, nothing drained."""
    _stopped.add(bot)
    await bot.crash()


async def stop(bot: TestBot) -> None:
    """A clean stop (Bot.close): the account's leases are released."""
    _stopped.add(bot)
    await bot.close()


async def say(bots: tuple[TestBot, ...], member: str, text: str, room: str = "r1") -> list[Outgoing]:
    """The member says it in a group all these accounts are in: each account gets its own copy."""
    sent: list[Outgoing] = []
    for bot in bots:
        sent += await bot.say(member, text, room=room)
    return sent


async def holder(bot: TestBot, room: str = "r1") -> str | None:
    table = SpeakerLease.__table__
    rows = await bot.rows(select(table.c.account).where(table.c.room_id == room))
    return rows[0].account if rows else None
