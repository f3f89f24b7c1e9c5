"""Abilities declare their tables beside their code, and every database gets every table, whatever opens it
first: the bot, a `qunguan` command, a test's TestBot or a script (the bench). Table names never change, so the
databases of shops already running keep working."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from backends import Backend
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from bot.config import DATABASE_ENV
from bot.store.database import database_url
from bot.store.migrations import schema

pytestmark = pytest.mark.slow  # heavy by nature: kept out of the fast part (README)

ROOT = Path(__file__).resolve().parent.parent

MACHINERY = {
    "settings",
    "members",
    "rooms",
    "room_bindings",
    "room_members",
    "message_days",
    "seen_events",
    "once_marks",
    "cooldowns",
    "member_names",
    "room_topics",
    "opt_outs",
    "outbox",
    "audit",
    "playbook_switches",
    "reload_requests",
    "playbook_versions",
}
BESIDE_THEIR_CODE = {
    "checkins": "handlers.checkin",
    "coupons": "handlers.coupons",
    "coupon_stock": "handlers.coupons",
    "group_buys": "handlers.group_buy",
    "group_buy_members": "handlers.group_buy",
    "nudges": "handlers.segments",
    "broadcasts": "handlers.broadcast",
    "points_ledger": "handlers.points",
    "reward_exchanges": "handlers.rewards",
    "member_tags": "handlers.tags",
    "profile_values": "handlers.profile_fields",
    "moderation_log": "handlers.moderation.log",
    "blacklist": "handlers.moderation.blacklist",
    "alert_throttle": "handlers.moderation.throttle",
    "windows": "bot.windows",
    "window_entries": "bot.windows",
    "console_links": "bot.console.tables",
    "console_sessions": "bot.console.tables",
    "traces": "bot.console.tables",
    "trace_counts": "bot.console.tables",
    "orders": "handlers.orders",
    "member_orders": "handlers.orders",
    "fleet_accounts": "bot.fleet.tables",
    "speaker_leases": "bot.fleet.tables",
    "held_events": "bot.fleet.tables",
    "schedule_fires": "bot.fleet.tables",
    "friendships": "bot.fleet.tables",
    "account_rooms": "bot.fleet.tables",
}
EVERY_TABLE = MACHINERY | set(BESIDE_THEIR_CODE)

# What opens a fresh database first, each in a new interpreter that has loaded nothing yet.
SCRIPT = "import asyncio, os, sys\n{}\nasyncio.run(main(os.environ['" + DATABASE_ENV + "']))\n"
OPENERS = {
    "qunguan run": ["-m", "bot", "run"],
    "qunguan audit": ["-m", "bot", "audit"],
    "qunguan reload": ["-m", "bot", "reload", "--wait", "0"],
    "qunguan replay": ["-m", "bot", "replay"],
    "qunguan rooms": ["-m", "bot", "rooms"],
    "qunguan rooms bind": ["-m", "bot", "rooms", "bind", "r1"],
    "a script: Store.open (the bench)": [
        "-c",
        SCRIPT.format(
            "from bot.store import Store\nasync def main(database):\n    await (await Store.open(database)).close()"
        ),
    ],
    "a test: TestBot": [
        "-c",
        SCRIPT.format(
            "from bot.testing import TestBot\n"
            "async def main(database):\n"
            "    await (await TestBot.create({}, database=database)).close()"
        ),
    ],
}


def models() -> dict[str, str]:
    """Table name -> the module that declares it, for every table of the bot's schema (the bench keeps its own)."""
    metadata = schema()
    found: dict[str, str] = {}
    todo = list(SQLModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo += model.__subclasses__()
        if getattr(model, "__table__", None) is not None and model.__table__.metadata is metadata:
            found[model.__table__.name] = model.__module__
    return found


def test_every_table_keeps_its_name_and_an_abilitys_tables_live_beside_its_code() -> None:
    assert set(schema().tables) == EVERY_TABLE
    assert models() == {**dict.fromkeys(MACHINERY, "bot.store.tables"), **BESIDE_THEIR_CODE}


async def tables_in(database: str) -> set[str]:
    url = database_url(database)
    engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://", 1) if "+" not in url else url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


@pytest.mark.empty_database
@pytest.mark.parametrize("opener", OPENERS)
def test_a_fresh_database_gets_every_table_whatever_opens_it_first(
    opener: str, backend: Backend, tmp_path: Path
) -> None:
    """An empty database (a new PostgreSQL database, an empty SQLite file): the first thing to open it creates the
    schema at the latest version, and nothing adds a table to a database at that version later. So each way in
    must know every ability's tables, even one that never loads a playbook."""
    if not backend.postgresql:
        Path(backend.database).touch()  # empty: the commands that only read refuse a missing file
    (tmp_path / "playbooks").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), DATABASE_ENV: backend.database}
    done = subprocess.run(
        [sys.executable, *OPENERS[opener]],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert asyncio.run(tables_in(backend.database)) == EVERY_TABLE
