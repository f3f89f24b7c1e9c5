"""Everything that differs between SQLite and PostgreSQL lives here and only here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, Table, cast, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

from bot.clock import Clock

# SQLite result codes (the low byte of an extended code) that pass: the write lock is another process's, the
# disk is full, an I/O error.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_FULL = 5, 6, 10, 13
_SQLITE_PASSING = {_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_FULL}
# PostgreSQL SQLSTATE classes and codes that pass: connection lost, out of resources (disk full, too many
# connections), the server shutting down or starting, a serialization failure or deadlock (try again).
_PG_PASSING_CLASSES = ("08", "53", "57", "58")
_PG_PASSING_CODES = ("40001", "40P01")
FAILED = "qunguan_failed"  # key in a connection's info: a passing error happened inside the unit of work


def _driver_error(exc: BaseException) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def transient(exc: BaseException) -> bool:
    """Whether the database could not do it now but may soon: SQLite locked or busy, disk full, I/O error;
    PostgreSQL connection errors, out of resources, shutting down. Such an error is worth trying again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    error = _driver_error(exc)
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_PASSING
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str):
        return state.startswith(_PG_PASSING_CLASSES) or state in _PG_PASSING_CODES
    return isinstance(error, ConnectionError | TimeoutError | socket.gaierror)  # the server cannot be reached


def log_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    """A loop's failure: the database away for a while (a restart, a partition) is one warning line and the loop
    tries again; anything else is an error with its traceback."""
    if transient(exc):
        log.warning("%s: database unavailable (%s); trying again", what, describe(exc))
    else:
        log.error("%s", what, exc_info=exc)


def describe(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's statement and help link: 'database is locked'."""
    error = _driver_error(exc)
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# SQL texts sqlite3 keeps prepared per connection (default 128): the hot statements (bot/store/hot.py) and
# SQLAlchemy's must not push each other out.
CACHED_STATEMENTS = 512


def engine_options(url: str) -> dict[str, Any]:
    if not url.startswith("sqlite"):
        return {}
    if ":memory:" in url or url.endswith("://"):
        # One shared connection, or every connection would see its own empty database.
        return {
            "poolclass": StaticPool,
            "connect_args": {"check_same_thread": False, "cached_statements": CACHED_STATEMENTS},
        }
    return {"connect_args": {"cached_statements": CACHED_STATEMENTS}}


def configure(engine: Engine | AsyncEngine, *, synchronous: str = "NORMAL", autocheckpoint: int | None = None) -> None:
    """SQLite: WAL, real BEGIN IMMEDIATE transactions (so SAVEPOINT works), busy timeout; `autocheckpoint`: the WAL
    pages at which a commit checkpoints (SQLite's default otherwise; bot/store/checkpoint.py)."""
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
        # Inline on the event loop, a wait inside SQLite for another process's write lock would stall the whole
        # bot: fail at once here, and wait in Store.unit, which retries through the clock (begin_waiting).
        cursor.execute(f"PRAGMA busy_timeout={0 if inline else 10000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # An event's savepoints keep the pages they may roll back to in a sub-journal, which SQLite otherwise writes
        # to a temporary file: two writes per page, a dozen pages an event. In memory, they cost nothing to keep.
        cursor.execute("PRAGMA temp_store=MEMORY")
        if autocheckpoint is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def watch_failures(engine: Engine | AsyncEngine) -> None:
    """A passing error (disk full, connection lost) inside a unit of work fails the whole unit, even where
    code catches it: a playbook's savepoint must not turn 'the disk is full' into 'this playbook failed' and
    commit the event without its check-in. Store.unit raises what is recorded here before it commits.

    SQLite rolls the whole transaction back on some of these errors (a full disk in WAL mode does): a new
    transaction is opened at once, so that statements after the error cannot commit one by one; the unit
    rolls it back."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: ExceptionContext) -> None:
        conn = context.connection
        error = context.sqlalchemy_exception or context.original_exception
        statement = (context.statement or "").lstrip().upper()
        if conn is None or statement.startswith("BEGIN") or not transient(error):
            return
        conn.info.setdefault(FAILED, error)
        driver = conn.connection.dbapi_connection
        if conn.dialect.driver == "pysqlite" and driver is not None and not driver.in_transaction:
            driver.execute("BEGIN")


def take_failure(conn: Connection) -> BaseException | None:
    """The passing error recorded on this connection during the unit, if any (and forget it)."""
    return conn.info.pop(FAILED, None)


LOCK_WAIT = 10.0  # seconds a unit waits for another process's write lock before it fails


async def begin_waiting(engine: Engine, clock: Clock) -> Connection:
    """A connection in a write transaction (BEGIN IMMEDIATE). While another process holds SQLite's write lock (or
    is switching a new file to WAL), wait through the clock (the loop keeps serving; a virtual clock does not sleep)
    and try again, up to LOCK_WAIT seconds."""
    delay, waited = 0.005, 0.0
    while True:
        conn: Connection | None = None
        try:
            conn = engine.connect()  # a new connection's PRAGMAs (WAL) may meet a process setting the file up
            conn.begin()
            take_failure(conn)  # left by an earlier unit on this pooled connection
            return conn
        except OperationalError as exc:
            if conn is not None:
                conn.close()
            code = getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF
            if code not in (_SQLITE_BUSY, _SQLITE_LOCKED) or waited >= LOCK_WAIT:
                raise
        await clock.sleep(delay)
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
    where: Any = None,
) -> Insert:
    """INSERT, or UPDATE the row with the same keys (only where `where` holds of the stored row: rowcount 0
    when it does not)."""
    stmt = _insert(conn, table).values(**values)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(update), where=where)


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC: SQLite hands datetimes back naive (they were written as UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def seconds_between(dialect_name: str, later: Any, earlier: Any) -> Any:
    """SQL for the seconds from `earlier` to `later` (two time columns): julianday on SQLite, epoch on PostgreSQL."""
    if dialect_name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400


def hour_of(column: Any) -> Any:
    """SQL for the UTC hour a stored time falls in, as text 'YYYY-MM-DD HH' (both databases write times that way)."""
    return func.substr(cast(column, String), 1, 13)
