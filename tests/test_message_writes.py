"""What a member's message costs the database: every message rewrites a few columns (the member's last activity,
the day's count, points), so an index on one of them would move an entry to another page of its index on each
message, a random page written at every commit for an ordering only a console list uses. A table never keeps two
indexes over the same columns either: each would be written for nothing. And an event's savepoints keep the pages
they may roll back in memory: SQLite's default keeps them in a temporary file, two writes per page."""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from backends import Backend
from sqlalchemy import inspect

from bench.fullpath import traced
from bot.config import Config, StaffSection
from bot.store import Store
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]))
# "UPDATE members SET a = ..., b = ... WHERE" and an upsert's "DO UPDATE SET a = ...": the columns they rewrite
_END = r"(?:\s+WHERE\b|\s+RETURNING\b|$)"
_UPDATE = re.compile(r"\bUPDATE\s+(\w+)\s+SET\s+(.*?)" + _END, re.I | re.S)
_UPSERT = re.compile(r"\bINSERT\s+INTO\s+(\w+)\b.*\bDO\s+UPDATE\s+SET\s+(.*?)" + _END, re.I | re.S)


def _rewritten(statement: str) -> set[tuple[str, str]]:
    found = _UPSERT.search(statement) or _UPDATE.search(statement)
    if found is None:
        return set()
    table, assignments = found.groups()
    return {(table, column) for column in re.findall(r"(\w+)\s*=", assignments)}


async def _indexes(database: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Each table's indexes (name, columns) as the database holds them."""
    store = await Store.open(database)
    try:
        async with store.unit() as conn:

            def look(sync: object) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
                found = inspect(sync)
                return {
                    table: [(i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)]
                    for table in found.get_table_names()
                }

            return await conn.run_sync(look)
    finally:
        await store.close()


@pytest.mark.sqlite_only
async def test_no_column_a_message_rewrites_carries_an_index(backend: Backend) -> None:
    """Traced at the driver while members chat, check in twice (a streak) and one is renamed."""
    rewritten: set[tuple[str, str]] = set()

    def on_statement(statement: str) -> None:
        rewritten.update(_rewritten(statement))

    async with TestBot.running(ROOT / "playbooks", config=CONFIG, database=backend.database) as bot:
        await bot.say("u1", "大家好", room="r1")
        with traced(bot.bot.store.engine, on_statement):
            await bot.say("u1", "签到", room="r1")
            await bot.say("u2", "大家好", room="r1")
            bot.member("u1", "小王改名了")
            await bot.say("u1", "今天天气不错", room="r1")
            await bot.advance(timedelta(days=1))
            await bot.say("u1", "签到", room="r1")
    assert ("members", "last_active") in rewritten  # the trace saw the message path
    indexed = {
        (table, column)
        for table, indexes in (await _indexes(backend.database)).items()
        for _name, columns in indexes
        for column in columns
    }
    # The outbox is the delivery queue: the worker finds the next reply by its state, and each reply moves in that
    # index once, when sent. Everything else a message rewrites, it rewrites again at the member's next message.
    assert sorted((t, c) for t, c in rewritten & indexed if t != "outbox") == []


async def test_no_table_keeps_two_indexes_over_the_same_columns(backend: Backend) -> None:
    async with TestBot.running(ROOT / "playbooks", config=CONFIG, database=backend.database):
        pass
    twice = {
        table: names
        for table, indexes in (await _indexes(backend.database)).items()
        for columns in {c for _n, c in indexes}
        if len(names := sorted(n for n, c in indexes if c == columns)) > 1
    }
    assert twice == {}


def _temporary_files() -> set[str]:
    """SQLite's temporary files this process holds open ("etilqs_…", unlinked once open)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if "etilqs_" in target:
            found.add(target)
    return found


@pytest.mark.sqlite_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the open files in /proc/self/fd")
async def test_an_events_savepoints_keep_what_they_may_roll_back_in_memory_not_in_a_temporary_file(
    backend: Backend,
) -> None:
    """Looked at as each statement starts, inside the events' savepoints, while members check in and chat."""
    opened: set[str] = set()

    def on_statement(_statement: str) -> None:
        opened.update(_temporary_files())

    async with TestBot.running(ROOT / "playbooks", config=CONFIG, database=backend.database) as bot:
        await bot.say("u1", "大家好", room="r1")
        with traced(bot.bot.store.engine, on_statement):
            for member in ("u1", "u2", "u3"):
                await bot.say(member, "签到", room="r1")
                await bot.say(member, "今天天气不错", room="r1")
            assert await bot.field("u3", "streak") == 1
    assert opened == set()
