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


async def _back_to_version_4(database: str) -> None:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            await conn.execute(
                text("INSERT INTO members (id, name, points, first_seen) VALUES ('u1', '小王', 500, CURRENT_TIMESTAMP)")
            )
            for table in NEW_TABLES:
                await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            for table, column in NEW_COLUMNS:
                await conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            await conn.execute(text("UPDATE settings SET value = '4' WHERE key = 'schema_version'"))
    finally:
        await store.close()


async def _schema(database: str) -> tuple[set[str], set[str], str]:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:

            def look(sync: object) -> tuple[set[str], set[str]]:
                found = inspect(sync)
                return set(found.get_table_names()), {c["name"] for c in found.get_columns("outbox")}

            tables, outbox = await conn.run_sync(look)
            version = (await conn.execute(text("SELECT value FROM settings WHERE key = 'schema_version'"))).scalar()
    finally:
        await store.close()
    return tables, outbox, str(version)


async def test_a_version_4_database_gets_what_growth_ii_added_and_keeps_its_members(backend: Backend) -> None:
    await _back_to_version_4(backend.database)
    async with TestBot.running(ROOT / "playbooks", config=CONFIG, database=backend.database) as bot:
        await bot.say("u1", "大家好", room="r1")
        assert await bot.field("u1", "messages_30d") == 1
        assert await bot.field("u1", "points") == 500
        assert await bot.field("u1", "orders") == 0
    tables, outbox, version = await _schema(backend.database)
    assert set(NEW_TABLES) <= tables
    assert "announce" in outbox
    assert version == str(SCHEMA_VERSION)


async def test_a_version_8_database_drops_the_indexes_written_for_nothing_and_keeps_its_rows(backend: Backend) -> None:
    """Version 8 indexed members.last_active, which every message rewrites, and room_members.inviter_id twice."""
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:
            await conn.execute(
                text("INSERT INTO members (id, name, points, first_seen) VALUES ('u1', '小王', 500, CURRENT_TIMESTAMP)")
            )
            await conn.execute(text("CREATE INDEX ix_members_last_active ON members (last_active)"))
            await conn.execute(text("CREATE INDEX ix_room_members_inviter ON room_members (inviter_id)"))
            await conn.execute(text("UPDATE settings SET value = '8' WHERE key = 'schema_version'"))
    finally:
        await store.close()
    async with TestBot.running(ROOT / "playbooks", config=CONFIG, database=backend.database) as bot:
        await bot.say("u1", "签到", room="r1")
        assert await bot.field("u1", "points") > 500
        assert await bot.field("u1", "streak") == 1
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:

            def names(sync: object) -> set[str]:
                found = inspect(sync)
                return {i["name"] for table in ("members", "room_members") for i in found.get_indexes(table)}

            indexes = await conn.run_sync(names)
            version = (await conn.execute(text("SELECT value FROM settings WHERE key = 'schema_version'"))).scalar()
    finally:
        await store.close()
    assert indexes.isdisjoint(DROPPED_INDEXES)
    assert "ix_room_members_inviter_id" in indexes
    assert version == str(SCHEMA_VERSION)
