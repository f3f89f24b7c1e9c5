"""For the transfer tests: a small shop with rows in many tables, and every row of every table, comparable
across SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bot.store import Store
from bot.store.dialect import aware
from bot.store.migrations import schema
from bot.testing import TestBot

ROOT = Path(__file__).resolve().parent.parent
BIG = 2**31 - 1  # the most points a PostgreSQL INTEGER column holds
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Rows = dict[str, list[tuple[Any, ...]]]


async def make_shop(database: str, members: int = 6) -> None:
    """Check-ins, chat and greetings from the shipped playbooks over three days, and a few hostile values."""
    async with TestBot.running(ROOT / "playbooks", database=database, start=START) as bot:
        for day in range(3):
            for n in range(members):
                await bot.say(f"u{n}", "签到", room=f"r{n % 2}")
                await bot.say(f"u{n}", f"大家好 {day} 🎉", room=f"r{n % 2}")
            await bot.advance(timedelta(days=1))
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            await conn.execute(
                text("UPDATE members SET name = :name, points = :points WHERE id = 'u1'"),
                {"name": "小王 '); DROP TABLE members; -- 👍\n", "points": BIG},
            )
    finally:
        await store.close()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


async def every_row(database: str) -> Rows:
    """Every row of every table of the schema, in a stable order."""
    store = await Store.open(database, create=False)
    try:
        async with store.unit() as conn:
            found: Rows = {}
            for table in schema().sorted_tables:
                rows = (await conn.execute(select(table))).all()
                found[table.name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
            return found
    finally:
        await store.close()
