"""Everything that differs between SQLite and PostgreSQL lives here and only here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite") and (":memory:" in url or url.endswith("://")):
        # One shared connection, or every connection would see its own empty database.
        return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    return {}


def configure(engine: Engine | AsyncEngine, *, synchronous: str = "NORMAL") -> None:
    """SQLite: WAL, real BEGIN IMMEDIATE transactions (so SAVEPOINT works), busy timeout."""
    if engine.dialect.name != "sqlite":
        return
    memory = engine.url.database in (None, "", ":memory:")
    inline = not isinstance(engine, AsyncEngine)
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        # Inline on the event loop, a wait for another process's write lock would stall the whole bot: wait
        # briefly here, and longer in Store.unit, which retries without blocking the loop (begin_waiting).
        cursor.execute(f"PRAGMA busy_timeout={20 if inline else 10000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


LOCK_WAIT = 10.0  # seconds a unit waits for another process's write lock before it fails


async def begin_waiting(engine: Engine) -> Connection:
    """A connection in a write transaction (BEGIN IMMEDIATE). While another process holds SQLite's write lock,
    wait with asyncio (the loop keeps serving) and try again, up to LOCK_WAIT seconds."""
    delay, waited = 0.005, 0.0
    while True:
        conn = engine.connect()
        try:
            conn.begin()
            return conn
        except OperationalError as exc:
            conn.close()
            if "locked" not in str(exc.orig) or waited >= LOCK_WAIT:
                raise
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.2)


def writer_lock(engine: Engine | AsyncEngine) -> contextlib.AbstractAsyncContextManager[Any]:
    """SQLite has one writer: serialise units in-process instead of failing with 'locked'."""
    if engine.dialect.name == "sqlite":
        return asyncio.Lock()
    return contextlib.nullcontext()


def _insert(conn: AsyncConnection, table: Table) -> Insert:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(conn: AsyncConnection, table: Table) -> Insert:
    """INSERT that does nothing when a unique key already exists (rowcount tells which). Execute it with the
    row as parameters: the statement is built once per table, as building one costs more than running it."""
    return _insert_ignore(conn.dialect.name, table)


@functools.cache
def _insert_ignore(dialect_name: str, table: Table) -> Insert:
    module = postgresql if dialect_name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def upsert(
    conn: AsyncConnection,
    table: Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Mapping[str, Any],
) -> Insert:
    stmt = _insert(conn, table).values(**values)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(update))


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC: SQLite hands datetimes back naive (they were written as UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
