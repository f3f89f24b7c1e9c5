"""Two accounts of one shop in one test: two TestBots on one database and one virtual clock (shop-a, shop-b),
with the fleet's shared facts (who speaks for a group, who is in it) written as the speaker stream would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from bot.clock import VirtualClock
from bot.config import Config
from bot.connectors.memory import MemoryConnector
from bot.fleet.account_rooms import seen_in
from bot.fleet.accounts import run_as
from bot.fleet.tables import SpeakerLease
from bot.store import dialect
from bot.testing import TestBot

START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")


def fleet(**sending: Any) -> Config:
    accounts = {"shop-a": {}, "shop-b": {}}
    return Config.model_validate({"accounts": accounts, "sending": {"jitter": None, **sending}})


@asynccontextmanager
async def pair(
    playbooks: dict[str, str],
    database: str,
    *,
    config: Config | None = None,
    names: tuple[str, str] = ("shop-a", "shop-b"),
    **options: Any,
) -> AsyncIterator[tuple[TestBot, TestBot]]:
    """Two accounts' bots (by default shop-a and shop-b), closed whatever the test did."""
    config = config or fleet()
    clock = VirtualClock(START)
    bots: list[TestBot] = []
    try:
        for name in names:
            connector = options.pop(f"connector_{len(bots)}", None) or MemoryConnector()
            bot = await TestBot.create(
                playbooks, config=run_as(config, name), database=database, clock=clock, connector=connector, **options
            )
            bots.append(bot)
        yield bots[0], bots[1]
    finally:
        for bot in bots:
            await bot.close()


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
