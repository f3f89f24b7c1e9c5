"""A sandbox's database: a copy of the shop's, never the shop's own.

SQLite: SQLite's online backup API copies the shop's database into the sandbox's temporary file, a consistent
snapshot even while the bot writes (run through the console's reader, so off the bot's event loop). PostgreSQL:
nothing is copied; the sandbox starts from an empty SQLite database with the schema, and the page says so.
Before the sandbox's bot opens the copy, what belongs to the shop's own running is taken out of it: messages
still waiting in the outbox (the sandbox would "send" them again) and the shop's traces (the panel shows only
what the sandbox did).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Connection, delete

from bot.console.tables import Trace, TraceCount
from bot.store import Store
from bot.store.tables import OutboxMessage

COPY = "copy"  # the sandbox runs on a copy of the shop's data
EMPTY = "empty"  # the shop's database is not SQLite: the sandbox starts from an empty one
WAITING = ("pending", "sending")  # outbox states of messages not sent yet


def backup(conn: Connection, target: Path) -> bool:
    """For `console.reader.run`: copy the SQLite database `conn` reads into `target`. False when the shop's
    database is not SQLite (nothing copied)."""
    source = conn.connection.driver_connection
    if not isinstance(source, sqlite3.Connection):
        return False
    if source.in_transaction:  # the bot's own in-memory database (tests), read inside a unit: its pages as they are
        source = sqlite3.connect(":memory:")
        source.deserialize(conn.connection.driver_connection.serialize())
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
    return True


async def scrub(database: Path) -> None:
    """Take the shop's own running out of a copy: its unsent messages and its traces."""
    store = await Store.open(str(database))
    try:
        async with store.unit() as conn:
            outbox = OutboxMessage.__table__
            await conn.execute(delete(outbox).where(outbox.c.state.in_(WAITING)))
            await conn.execute(delete(Trace.__table__))
            await conn.execute(delete(TraceCount.__table__))
    finally:
        await store.close()
