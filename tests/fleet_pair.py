"""Two accounts of one fleet in one process (tests): two TestBots on one database and one virtual clock, one per
account. A message in a group both are in reaches both, each with its own event id, with the same text and time.
`speaks` and `present` write the fleet's shared facts directly (who speaks for a group, who is in it)."""

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
from bot.fleet.account_rooms import seen_in
from bot.fleet.accounts import run_as
from bot.fleet.tables import SpeakerLease
from bot.store import dialect
from bot.testing import TestBot

START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")


def fleet(**sending: Any) -> Config:
    """Accounts shop-a and shop-b, a 30 s lease, sends without jitter; `sending` overrides."""
    accounts = {"shop-a": {}, "shop-b": {}}
    settings = {"lease": "30s", "hold": "5m"}
    return Config.model_validate({"accounts": accounts, "fleet": settings, "sending": {"jitter": None, **sending}})


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


@asynccontextmanager
async def pair(
    database: str,
    playbooks: Any = None,
    *,
    config: Config | None = None,
    names: tuple[str, str] = ("shop-a", "shop-b"),
    first: dict[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[tuple[TestBot, TestBot]]:
    """Two accounts' bots (shop-a and shop-b unless `names`), closed (or left crashed) at the end. `options` go to
    both TestBots, `first` to the first one only (its own connector, a paced governor)."""
    config = config or fleet()
    clock = VirtualClock(START)
    bots: list[TestBot] = []
    try:
        for n, name in enumerate(names):
            given = {**options, **(first or {})} if n == 0 else options
            bot = await TestBot.create(
                ECHO if playbooks is None else playbooks,
                config=run_as(config, name),
                database=database,
                clock=clock,
                **given,
            )
            bots.append(bot)
        yield bots[0], bots[1]
    finally:
        for bot in bots:
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


async def speaks(bot: TestBot, room_id: str, account: str) -> None:
    """`account` holds the group's lease for the next half minute."""
    now = bot.clock.now()
    values = {"room_id": room_id, "account": account, "since": now, "expires_at": now + timedelta(seconds=30)}
    async with bot.bot.store.unit() as conn:
        table = SpeakerLease.__table__
        await conn.execute(dialect.upsert(conn, table, values, ["room_id"], {"account": account}))


async def present(bot: TestBot, room_id: str, *accounts: str) -> None:
    """The accounts are in the group (as their own events showed)."""
    async with bot.bot.store.unit() as conn:
        for account in accounts:
            await seen_in(conn, account, room_id, bot.clock.now())
