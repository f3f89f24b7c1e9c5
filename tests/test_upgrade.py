"""A shop upgrading keeps its database: the tables, columns and indexes a release adds arrive when the bot opens
the database of a release before (here schema version 4, from before Growth II and the console), every row kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from backends import Backend
from sqlalchemy import inspect, text

from bot.config import Config, StaffSection
from bot.store import Store
from bot.store.migrations import DROPPED_INDEXES, SCHEMA_VERSION
from bot.testing import TestBot

pytestmark = [pytest.mark.usefixtures("backend"), pytest.mark.empty_database]

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]))
# What Growth II (issue 14) added to a version-4 database.
NEW_TABLES = (
    "message_days",
    "orders",
    "member_orders",
    "reward_exchanges",
    "profile_values",
    "group_buys",
    "group_buy_members",
    # and what the web console (issue 15, schema version 6) added
    "console_links",
    "console_sessions",
)
NEW_COLUMNS = (("outbox", "announce"),)


async def _back_to(database: str, version: int, undo: list[str]) -> None:
    """A database as release `version` left it: member u1 with 500 points, and `undo` run to take back what came
    after."""
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            await conn.execute(
                text("INSERT INTO members (id, name, points, first_seen) VALUES ('u1', '小王', 500, CURRENT_TIMESTAMP)")
            )
            for statement in undo:
                await conn.execute(text(statement))
            await conn.execute(text(f"UPDATE settings SET value = '{version}' WHERE key = 'schema_version'"))
    finally:
        await store.close()


async def _back_to_version_4(database: str) -> None:
    undo = [f"DROP TABLE IF EXISTS {table}" for table in NEW_TABLES]
    undo += [f"ALTER TABLE {table} DROP COLUMN {column}" for table, column in NEW_COLUMNS]
    await _back_to(database, 4, undo)


async def _schema(database: str) -> tuple[set[str], set[str], set[str], str]:
    """Its tables, the outbox's columns, every index's name, and the schema version."""
    store = await Store.open(database)
    try:
        async with store.unit() as conn:

            def look(sync: object) -> tuple[set[str], set[str], set[str]]:
                found = inspect(sync)
                tables = set(found.get_table_names())
                indexes = {i["name"] for table in tables for i in found.get_indexes(table)}
                return tables, {c["name"] for c in found.get_columns("outbox")}, indexes

            tables, outbox, indexes = await conn.run_sync(look)
            version = (await conn.execute(text("SELECT value FROM settings WHERE key = 'schema_version'"))).scalar()
    finally:
        await store.close()
    return tables, outbox, indexes, str(version)


async def test_a_version_4_database_gets_what_growth_ii_added_and_keeps_its_members(backend: Backend) -> None:
    await _back_to_version_4(backend.database)
    async with TestBot.running(ROOT / "playbooks", config=CONFIG, database=backend.database) as bot:
        await bot.say("u1", "大家好", room="r1")
        assert await bot.field("u1", "messages_30d") == 1
        assert await bot.field("u1", "points") == 500
        assert await bot.field("u1", "orders") == 0
    tables, outbox, _indexes, version = await _schema(backend.database)
    assert set(NEW_TABLES) <= tables
    assert "announce" in outbox
    assert version == str(SCHEMA_VERSION)


async def test_a_version_8_database_drops_the_indexes_written_for_nothing_and_keeps_its_rows(backend: Backend) -> None:
    """Version 8 indexed members.last_active, which every message rewrites, and room_members.inviter_id twice."""
    await _back_to(
        backend.database,
        8,
        [
            "CREATE INDEX ix_members_last_active ON members (last_active)",
            "CREATE INDEX ix_room_members_inviter ON room_members (inviter_id)",
        ],
    )
    async with TestBot.running(ROOT / "playbooks", config=CONFIG, database=backend.database) as bot:
        await bot.say("u1", "签到", room="r1")
        assert await bot.field("u1", "points") > 500
        assert await bot.field("u1", "streak") == 1
    _tables, _outbox, indexes, version = await _schema(backend.database)
    assert indexes.isdisjoint(DROPPED_INDEXES)
    assert "ix_room_members_inviter_id" in indexes
    assert version == str(SCHEMA_VERSION)
