"""The Store: an async engine plus the unit of work every event runs in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store import dialect
from bot.store.migrations import SchemaError, migrate


class StoreError(Exception):
    """The database cannot be used (unreadable, newer schema, ...)."""


def database_url(path: str) -> str:
    if "://" in path:
        return path
    if path == ":memory:":
        return "sqlite+aiosqlite:///:memory:"
    return f"sqlite+aiosqlite:///{Path(path).expanduser().resolve()}"


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._lock = dialect.writer_lock(engine)

    @classmethod
    async def open(cls, path: str, *, synchronous: str = "NORMAL") -> Store:
        """Open (creating or migrating) the database at `path`, `:memory:`, or a URL."""
        url = database_url(path)
        if url.startswith("sqlite") and ":memory:" not in url:
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **dialect.engine_options(url))
        dialect.configure(engine, synchronous=synchronous)
        store = cls(engine)
        try:
            async with store.unit() as conn:
                await conn.run_sync(lambda c: migrate(c))
        except SchemaError as exc:
            await engine.dispose()
            raise StoreError(str(exc)) from exc
        except Exception as exc:
            await engine.dispose()
            # The driver's own words, without SQLAlchemy's statement and help link.
            detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            raise StoreError(f"cannot open database {path}: {detail}") from exc
        return store

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: everything inside commits together or not at all."""
        async with self._lock, self.engine.begin() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()
