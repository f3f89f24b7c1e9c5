"""SQLite statements run inline on the event loop, behind AsyncConnection's interface.

aiosqlite runs each statement on its own thread: one hand-over there and back per statement, which
cost more than the statement itself (an event writes about twenty). SQLite in WAL mode answers our
small indexed statements in microseconds from its page cache, so running them where they are awaited
is faster than any hand-over. PostgreSQL keeps SQLAlchemy's asyncio driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect, Executable, Result

T = TypeVar("T")


class InlineConnection:
    """The part of AsyncConnection the bot uses, on a sync connection: `await` returns at once."""

    def __init__(self, sync: Connection) -> None:
        self.sync_connection = sync

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

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        """A savepoint: released when the block ends, rolled back if it raises."""
        with self.sync_connection.begin_nested():
            yield
