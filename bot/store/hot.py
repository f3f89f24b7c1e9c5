"""The statements every event runs, on the database driver itself: SQLAlchemy's per-statement machinery (compile
cache lookup, parameter processing, result set-up) cost more than SQLite running them.

A `Statement` is SQL written once (`:name` parameters; PostgreSQL's own text where it differs), run in the unit
of work SQLAlchemy began, inside its savepoints: on SQLite inline, the sqlite3 connection (which keeps each SQL
text prepared: `cached_statements`, bot/store/dialect.py); on PostgreSQL, the asyncpg connection with a prepared
statement per connection; on any other driver (aiosqlite), through `exec_driver_sql`. Values go in and come out
as SQLAlchemy's types did: times aware UTC (stored naive UTC on SQLite), dates as dates. A driver error goes
through SQLAlchemy's own error handling, so it is the exception callers know (IntegrityError, ...) and a passing
one (database locked, disk full, connection lost) fails the whole unit (bot/store/dialect.py: watch_failures).
SQLAlchemy and SQLModel stay for the schema, migrations and every other statement.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.inline import InlineConnection

Row = tuple[Any, ...]
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_PREPARED = "qunguan_hot"  # key in a pooled connection's info: its asyncpg prepared statements


@dataclass(frozen=True, eq=False)
class Statement:
    """One named statement. `defaults`: parameters a call may leave out (the columns' defaults, as SQLAlchemy
    fills them in); `dates` / `times`: positions of result columns holding a date / a time."""

    name: str
    sql: str
    pg: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    dates: tuple[int, ...] = ()
    times: tuple[int, ...] = ()
    _pg_names: list[str] = field(default_factory=list, init=False, repr=False)
    _pg_sql: list[str] = field(default_factory=list, init=False, repr=False)

    def positional(self) -> tuple[str, list[str]]:
        """PostgreSQL's text with $1, $2, ... and the parameter names in that order (worked out once)."""
        if not self._pg_sql:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            self._pg_sql.append(_PARAM.sub(number, self.pg or self.sql))
            self._pg_names.extend(names)
        return self._pg_sql[0], self._pg_names


def insert(name: str, table: Table, columns: Sequence[str], *, conflict: str = "", returning: str = "") -> Statement:
    """INSERT of `columns` into `table` (`conflict`: what follows ON CONFLICT, e.g. 'DO NOTHING'). As with
    SQLAlchemy, a column with a default is written too, its default where a call leaves it out."""
    defaults = {c.name: c.default.arg for c in table.c if c.default is not None and c.default.is_scalar}
    columns = [*columns, *(name for name in defaults if name not in columns)]
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    sql += f" ON CONFLICT {conflict}" if conflict else ""
    sql += f" RETURNING {returning}" if returning else ""
    return Statement(name, sql, defaults=defaults)


def fuses(conn: AsyncConnection) -> bool:
    """Whether statements that follow each other may go as one (a data-modifying WITH): on PostgreSQL each is a
    round trip, which costs more than the statement. SQLite has no such WITH, and a statement there is a call into
    the library, not a round trip."""
    return not isinstance(conn, InlineConnection) and conn.dialect.driver == "asyncpg"


async def execute(conn: AsyncConnection, statement: Statement, params: Mapping[str, Any]) -> int:
    """Run it; the rows it changed."""
    return (await _run(conn, statement, [params], fetch=False))[0]


async def fetchone(conn: AsyncConnection, statement: Statement, params: Mapping[str, Any]) -> Row | None:
    """Run it; its first row, or None."""
    rows = (await _run(conn, statement, [params], fetch=True))[1]
    return rows[0] if rows else None


async def scalar(conn: AsyncConnection, statement: Statement, params: Mapping[str, Any]) -> Any:
    """Run it; the first column of its first row, or None."""
    row = await fetchone(conn, statement, params)
    return row[0] if row is not None else None


async def executemany(conn: AsyncConnection, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run it once per row (one prepared statement)."""
    if rows:
        await _run(conn, statement, rows, fetch=False)


async def _run(
    conn: AsyncConnection, statement: Statement, rows: Sequence[Mapping[str, Any]], *, fetch: bool
) -> tuple[int, list[Row]]:
    if statement.defaults:
        rows = [{**statement.defaults, **row} for row in rows]
    if isinstance(conn, InlineConnection):
        return _sqlite(conn, statement, rows, fetch)
    if conn.dialect.driver == "asyncpg":
        return await _asyncpg(conn, statement, rows, fetch)
    if conn.dialect.name != "sqlite":
        raise NotImplementedError(f"hot statements on {conn.dialect.name}+{conn.dialect.driver}")
    result = await conn.exec_driver_sql(statement.sql, rows if len(rows) > 1 else rows[0])  # type: ignore[arg-type]
    found = [_sqlite_row(statement, tuple(r)) for r in result] if fetch else []
    return result.rowcount, found


# -- SQLite: the sqlite3 connection the unit's transaction is on


def _sqlite(
    conn: InlineConnection, statement: Statement, rows: Sequence[Mapping[str, Any]], fetch: bool
) -> tuple[int, list[Row]]:
    driver = conn.driver
    try:
        cursor = driver.execute(statement.sql, rows[0]) if len(rows) == 1 else driver.executemany(statement.sql, rows)
        found = [_sqlite_row(statement, r) for r in cursor.fetchall()] if fetch else []
        return cursor.rowcount, found
    except ValueError:  # a value the adapters refused (a naive time): the caller's mistake, as it was raised
        raise
    except Exception as exc:  # as SQLAlchemy's own statements: its exception, and watch_failures sees it
        params = rows[0] if len(rows) == 1 else rows
        conn.sync_connection._handle_dbapi_exception(exc, statement.sql, params, None, None)
        raise  # unreachable: the line above raises


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite storage of a time: naive UTC text (a naive time is refused)."""
    if value.tzinfo is not UTC:
        value = _utc(value)
    return value.isoformat(" ", "microseconds")[:-6]  # less its "+00:00": no naive copy made per value


# sqlite3's adapters, for the process: times and dates become that text as sqlite3 binds them, in C, with no pass
# over each row's values in Python. SQLAlchemy's own statements hand sqlite3 text already (its column types).
sqlite3.register_adapter(datetime, _sqlite_time)
sqlite3.register_adapter(date, date.isoformat)


def _sqlite_row(statement: Statement, row: Row) -> Row:
    if not (statement.dates or statement.times):
        return tuple(row)
    values = list(row)
    for i in statement.dates:
        if isinstance(values[i], str):
            values[i] = date.fromisoformat(values[i])
    for i in statement.times:
        if isinstance(values[i], str):
            values[i] = datetime.fromisoformat(values[i]).replace(tzinfo=UTC)
    return tuple(values)


def _utc(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("Datetime values must have timezone information (hot statements store UTC)")
    return value.astimezone(UTC)


# -- PostgreSQL: the asyncpg connection, statements prepared once per connection


async def _asyncpg(
    conn: AsyncConnection, statement: Statement, rows: Sequence[Mapping[str, Any]], fetch: bool
) -> tuple[int, list[Row]]:
    pooled = await raw(conn)
    adapted: Any = pooled.dbapi_connection  # SQLAlchemy's adapter: it begins the transaction on first use
    driver = pooled.driver_connection
    sql, names = statement.positional()
    args = [[_pg_value(row[name]) for name in names] for row in rows]
    try:
        await begun(adapted)
        prepared = pooled.info.setdefault(_PREPARED, {})
        ps = prepared.get(statement)
        if ps is None:
            ps = prepared[statement] = await driver.prepare(sql)
        if len(args) > 1:
            await ps.executemany(args)
            return len(args), []
        found = await ps.fetch(*args[0])
        status = ps.get_statusmsg() or ""
        count = int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else -1
        return count, [tuple(r) for r in found] if fetch else []
    except Exception as exc:
        await pg_failed(conn, adapted, exc, sql, args)
        raise  # unreachable: pg_failed raises


def _pg_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value)
    return value


async def raw(conn: AsyncConnection) -> Any:
    """The pooled connection under the unit's AsyncConnection. Once connected it is an attribute away:
    get_raw_connection's greenlet hop cost more than a short statement's Python side."""
    found = conn.sync_connection._dbapi_connection if conn.sync_connection is not None else None
    return found if found is not None else await conn.get_raw_connection()


async def begun(adapted: Any) -> None:
    """SQLAlchemy's asyncpg adapter begins its transaction lazily, on its first statement: begin it the same way
    when a driver statement comes first."""
    if adapted._transaction is None:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()


async def pg_failed(conn: AsyncConnection, adapted: Any, exc: Exception, sql: str, args: list[list[Any]]) -> None:
    """asyncpg's error as SQLAlchemy's own statements raise it (translated, watched, the connection invalidated
    when it is lost)."""
    try:
        adapted._handle_exception(exc)  # raises the DBAPI-style error SQLAlchemy's handling expects
    except Exception as translated:
        await conn.run_sync(_raise, translated, sql, args[0] if len(args) == 1 else args)


def _raise(sync: Connection, error: Exception, sql: str, params: Any) -> None:
    sync._handle_dbapi_exception(error, sql, params, None, None)
