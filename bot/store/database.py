"""The Store: an async engine plus the unit of work every event runs in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store import dialect
from bot.store.inline import InlineConnection
from bot.store.migrations import SchemaError, migrate


class StoreError(Exception):
    """The database cannot be used (unreadable, newer schema, ...)."""


def database_url(path: str) -> str:
    if "://" in path:
        return path
    if path == ":memory:":
        return "sqlite:///:memory:"
    return f"sqlite:///{Path(path).expanduser().resolve()}"


class Store:
    """SQLite (a file path or a `sqlite://` URL) runs inline (bot/store/inline.py); other URLs go through
    SQLAlchemy's asyncio engine: `postgresql+asyncpg://`, or `sqlite+aiosqlite://` to keep the event loop free
    during long queries at the cost of a thread hand-over per statement."""

    def __init__(self, engine: Engine | AsyncEngine) -> None:
        self.engine = engine
        self._lock = dialect.writer_lock(engine)

    @classmethod
    async def open(cls, path: str, *, synchronous: str = "NORMAL") -> Store:
        """Open (creating or migrating) the database at `path`, `:memory:`, or a URL."""
        url = database_url(path)
        if url.startswith("sqlite") and ":memory:" not in url:
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        options = dialect.engine_options(url)
        inline = url.startswith("sqlite://")
        engine = create_engine(url, **options) if inline else create_async_engine(url, **options)
        dialect.configure(engine, synchronous=synchronous)
        store = cls(engine)
        try:
            async with store.unit() as conn:
                await conn.run_sync(lambda c: migrate(c))
        except SchemaError as exc:
            await store.close()
            raise StoreError(str(exc)) from exc
        except Exception as exc:
            await store.close()
            # The driver's own words, without SQLAlchemy's statement and help link.
            detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            raise StoreError(f"cannot open database {path}: {detail}") from exc
        return store

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: everything inside commits together or not at all."""
        async with self._lock:
            if isinstance(self.engine, AsyncEngine):
                async with self.engine.begin() as conn:
                    yield conn
            else:
                sync = await dialect.begin_waiting(self.engine)
                try:
                    yield InlineConnection(sync)  # type: ignore[misc]  # AsyncConnection's interface
                    sync.commit()
                except BaseException:
                    sync.rollback()
                    raise
                finally:
                    sync.close()

    async def close(self) -> None:
        if isinstance(self.engine, AsyncEngine):
            await self.engine.dispose()
        else:
            self.engine.dispose()
