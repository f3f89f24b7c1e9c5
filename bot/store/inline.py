"""SQLite statements run inline on the event loop, behind AsyncConnection's interface.

aiosqlite runs each statement on its own thread: one hand-over there and back per statement, which
cost more than the statement itself (an event writes about twenty). SQLite in WAL mode answers our
small indexed statements in microseconds from its page cache, so running them where they are awaited
is faster than any hand-over. PostgreSQL keeps SQLAlchemy's asyncio driver.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect, Executable, Result

T = TypeVar("T")


class InlineConnection:
    """The part of AsyncConnection the bot uses, on a sync connection: `await` returns at once."""

    def __init__(self, sync: Connection) -> None:
        self.sync_connection = sync
        self.driver: sqlite3.Connection = sync.connection.driver_connection  # for what runs on the driver itself
        self._depth = 0  # savepoints open

    @property
    def dialect(self) -> Dialect:
        return self.sync_connection.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        return self.sync_connection.execute(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Result[Any]:
        return self.sync_connection.exec_driver_sql(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync_connection.scalar(statement, parameters)

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self.sync_connection, *args)

    def begin_nested(self) -> _Savepoint:
        """A savepoint: released when the block ends, rolled back if it raises. Said to the driver itself: every
        event and every playbook run has one, and SQLAlchemy's nested transaction cost ten times the statements.
        Savepoints nest; each level has its own name, and SQLite finds the innermost of a name."""
        return _Savepoint(self)

    def _undo(self, name: str) -> None:
        """Back to the savepoint. When SQLite has rolled the whole transaction back itself (some disk-full and I/O
        errors do), there is none: the unit fails as a whole, with the error that did it (dialect.watch_failures)."""
        if self.driver.in_transaction:
            self._driver_sql(f"ROLLBACK TO {name}")
            self._driver_sql(f"RELEASE {name}")

    def _driver_sql(self, sql: str) -> None:
        sync = self.sync_connection
        try:
            self.driver.execute(sql)
        except Exception as exc:  # as SQLAlchemy's own statements: its exception, and watch_failures sees it
            sync._handle_dbapi_exception(exc, sql, (), None, None)
            raise  # unreachable: the line above raises


class _Savepoint:
    """InlineConnection.begin_nested's block: a class, not a generator, as two of them wrap every event."""

    __slots__ = ("_conn", "_name")

    def __init__(self, conn: InlineConnection) -> None:
        self._conn = conn
        self._name = ""

    async def __aenter__(self) -> None:
        conn = self._conn
        conn._depth += 1
        self._name = f"q{conn._depth}"
        try:
            conn._driver_sql(f"SAVEPOINT {self._name}")
        except BaseException:
            conn._depth -= 1
            raise

    async def __aexit__(self, kind: type[BaseException] | None, _exc: BaseException | None, _tb: Any) -> None:
        conn = self._conn
        try:
            if kind is None:
                conn._driver_sql(f"RELEASE {self._name}")
            else:
                conn._undo(self._name)
        finally:
            conn._depth -= 1
