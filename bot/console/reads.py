"""The console's reads (analytics, traces, search) never run on the bot's event loop.

On a SQLite file they run in a worker thread on a read-only connection of their own: WAL gives it a snapshot
while the bot writes, and nothing the console reads holds the bot's write lock. On PostgreSQL they run on a
separate read-only engine (the server does the work; the loop only waits on the socket). An in-memory
database (tests) has only the bot's connection: there the read runs in a unit of the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from bot.store import Store

T = TypeVar("T")
WORKERS = 2  # console reads at once; more would only compete with the bot for the two cores


class Reader:
    """`await reader.run(fn)`: `fn(conn)` (plain SQLAlchemy on a sync Connection) off the event loop."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[[Connection], T]) -> T:
        store = self._store
        if store.file is not None:
            if self._sync is None:
                uri = f"sqlite:///file:{store.file}?mode=ro&uri=true"
                self._sync = create_engine(uri, connect_args={"check_same_thread": False}, pool_size=WORKERS)
                self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="console-read")
            return await asyncio.get_running_loop().run_in_executor(self._pool, _read, self._sync, fn)
        if isinstance(store.engine, AsyncEngine) and store.engine.dialect.name == "postgresql":
            if self._async is None:
                read_only = {"server_settings": {"default_transaction_read_only": "on"}}
                self._async = create_async_engine(store.engine.url, connect_args=read_only, pool_size=WORKERS)
            async with self._async.connect() as conn:
                return await conn.run_sync(fn)
        async with store.unit() as conn:
            return await conn.run_sync(fn)

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.dispose()
        if self._async is not None:
            await self._async.dispose()
        if self._pool is not None:
            self._pool.shutdown(wait=False)


def _read(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.connect() as conn:
        return fn(conn)
