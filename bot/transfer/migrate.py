"""`qunguan migrate`: a whole shop from one database into a new, empty one (SQLite -> PostgreSQL above all).

All or nothing: the target's schema and every row go in one transaction on the target, committed only once
every table's checks agree (bot/transfer/copy.py). A SQLite source is read from a consistent snapshot (the
online backup API), so a bot may even be running on it; an older snapshot is upgraded to today's schema, and
the source file itself is never written. A PostgreSQL source is read in one REPEATABLE READ transaction and
must be at today's schema version (open it once with this Qunguan to upgrade it)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import greenlet_spawn

from bot.store import Store, StoreError, dialect
from bot.store.database import database_file, database_url
from bot.store.inline import InlineConnection
from bot.transfer.copy import BATCH, Mismatch, Report, transfer
from bot.transfer.sqlite_backup import copy_database
from bot.transfer.urls import TransferError, normalise, shown

Progress = Callable[[str, int], None]


@asynccontextmanager
async def _reading(store: Store) -> AsyncIterator[AsyncConnection | InlineConnection]:
    """One consistent view of the source for the whole copy."""
    if isinstance(store.engine, AsyncEngine):
        async with store.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            async with conn.begin():
                yield conn
    else:
        async with store.unit() as conn:
            yield conn


@asynccontextmanager
async def _readable(source: str) -> AsyncIterator[str]:
    """What to read from: a PostgreSQL URL as it is; a SQLite file as an upgraded snapshot in a temporary folder."""
    file = database_file(database_url(source))
    if file is None:
        yield source
        return
    if not file.is_file():
        raise TransferError(f"no database at {file}")
    with tempfile.TemporaryDirectory(prefix="qunguan-migrate-") as folder:
        snapshot = Path(folder) / "snapshot.db"
        copy_database(file, snapshot)
        try:
            store = await Store.open(str(snapshot), create=False)  # today's schema; refuses a newer one
        except StoreError as exc:
            raise TransferError(f"the source {file}: {exc}") from None
        await store.close()
        yield str(snapshot)


async def migrate_database(source: str, target: str, *, batch: int = BATCH, progress: Progress | None = None) -> Report:
    """Copy every row of `source` into the empty `target`; raise TransferError (Mismatch: checks differ)."""
    source, target = normalise(source), normalise(target)
    if database_url(source) == database_url(target):
        raise TransferError("the source and the target are the same database")
    made = database_file(database_url(target))
    made = made if made is not None and not made.exists() else None  # a SQLite file this command creates
    try:
        return await _copy(source, target, batch, progress)
    except BaseException:
        for leftover in ("", "-wal", "-shm", "-journal") if made is not None else ():
            Path(f"{made}{leftover}").unlink(missing_ok=True)  # empty: the failed transaction left nothing in it
        raise


async def _copy(source: str, target: str, batch: int, progress: Progress | None) -> Report:
    async with _readable(source) as readable:
        reader = Store.connect(readable, create=False)
        where = f"reading {shown(source)}"  # which side a driver's error came from
        try:
            writer = Store.connect(target)
            try:
                async with _reading(reader) as sconn:
                    where = f"writing {shown(target)}"
                    async with writer.unit() as tconn:
                        return await greenlet_spawn(
                            transfer, sconn.sync_connection, tconn.sync_connection, batch=batch, progress=progress
                        )
            finally:
                await writer.close()
        except Mismatch:
            raise
        except TransferError as exc:
            raise TransferError(f"{exc}; nothing was written to {shown(target)}") from None
        except StoreError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise TransferError(f"{where}: {dialect.describe(exc)}; nothing was written to {shown(target)}") from None
        finally:
            await reader.close()
