"""The Store: an async engine plus the unit of work every event runs in."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.clock import Clock, SystemClock
from bot.store import dialect
from bot.store.checkpoint import BACKSTOP, Checkpointer
from bot.store.inline import InlineConnection
from bot.store.migrations import SchemaError, migrate

_in_unit: ContextVar[bool] = ContextVar("qunguan_in_unit", default=False)


def unit_open() -> bool:
    """True while the running task holds a unit of work: then nothing may call the platform (a lookup over the
    network would hold SQLite's write lock, and with it every other event and the outbox, for its whole wait)."""
    return _in_unit.get()


class StoreError(Exception):
    """The database cannot be used (unreadable, newer schema, ...)."""


class DatabaseGone(StoreError):
    """The database file was deleted or replaced while the bot ran: whatever it wrote now would be lost."""


def database_url(path: str) -> str:
    if "://" in path:
        return path
    if path == ":memory:":
        return "sqlite:///:memory:"
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def database_file(url: str) -> Path | None:
    """The SQLite file a URL names; None for an in-memory or a server database."""
    if not url.startswith("sqlite") or ":memory:" in url or "mode=memory" in url:
        return None
    name = url.partition("///")[2].split("?", 1)[0]
    return Path(name) if name else None


def _create_private(file: Path) -> None:
    """An empty database file only its owner may read (0600), in folders made for it likewise (0700).
    SQLite gives the -wal and -shm files it creates beside it the database file's mode."""
    missing = []
    folder = file.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StoreError(f"cannot create the folder {folder} for the database: {exc.strerror}") from None
        folder.chmod(0o700)  # whatever the umask
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the database {file}: {exc.strerror}") from None


def _identity(file: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(file)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class Store:
    """SQLite (a file path or a `sqlite://` URL) runs inline (bot/store/inline.py); other URLs go through
    SQLAlchemy's asyncio engine: `postgresql+asyncpg://`, or `sqlite+aiosqlite://` to keep the event loop free
    during long queries at the cost of a thread hand-over per statement.

    A SQLite file is watched: each unit of work first checks that the file at the path is still the one open
    (device and inode, one stat). Deleted or replaced, the bot would write into a file nobody will read again;
    instead every unit raises DatabaseGone from then on and `gone()` returns, so the bot stops."""

    def __init__(
        self,
        engine: Engine | AsyncEngine,
        *,
        clock: Clock | None = None,
        file: Path | None = None,
        checkpoints: Checkpointer | None = None,
    ) -> None:
        self.engine = engine
        self.checkpoints = checkpoints  # an inline SQLite file's WAL checkpoints, on a thread (checkpoint.py)
        self.clock: Clock = clock or SystemClock()  # waits for another process's write lock go through it
        self.file = file
        self.lost: DatabaseGone | None = None
        self._lock = dialect.writer_lock(engine)
        self._identity = _identity(file) if file is not None else None
        self._gone = asyncio.Event()

    @classmethod
    async def open(
        cls, path: str, *, synchronous: str = "NORMAL", create: bool = True, clock: Clock | None = None
    ) -> Store:
        """Open (migrating) the database at `path`, `:memory:`, or a URL. A missing SQLite file is created
        (0600, in 0700 folders) unless `create` is false: commands that only read never make one."""
        store = cls.connect(path, synchronous=synchronous, create=create, clock=clock)
        file = store.file
        try:
            async with store.unit() as conn:
                await conn.run_sync(lambda c: migrate(c))
        except SchemaError as exc:
            await store.close()
            raise StoreError(str(exc)) from exc
        except Exception as exc:
            await store.close()
            raise StoreError(f"cannot open database {file or path}: {dialect.describe(exc)}") from exc
        return store

    @classmethod
    def connect(
        cls, path: str, *, synchronous: str = "NORMAL", create: bool = True, clock: Clock | None = None
    ) -> Store:
        """The database at `path` as it is, schema untouched: `qunguan migrate` creates a target's schema in the
        same transaction as its rows."""
        url = database_url(path)
        file = database_file(url)
        if file is not None and not file.exists():
            if not create:
                raise StoreError(f"no database at {file}")
            _create_private(file)
        options = dialect.engine_options(url)
        inline = url.startswith("sqlite://")
        engine = create_engine(url, **options) if inline else create_async_engine(url, **options)
        checkpoints = Checkpointer(file, synchronous=synchronous) if inline and file is not None else None
        dialect.configure(engine, synchronous=synchronous, autocheckpoint=BACKSTOP if checkpoints else None)
        dialect.watch_failures(engine)
        return cls(engine, clock=clock, file=file, checkpoints=checkpoints)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: everything inside commits together or not at all. A passing database error
        (disk full, connection lost) anywhere inside fails the whole unit, even if something caught it."""
        async with self._lock:
            if self._identity is not None:
                self._check_file()
            held = _in_unit.set(True)
            try:
                if isinstance(self.engine, AsyncEngine):
                    async with self.engine.begin() as conn:
                        dialect.take_failure(conn.sync_connection)
                        yield conn
                        if (failure := dialect.take_failure(conn.sync_connection)) is not None:
                            raise failure
                else:
                    sync = await dialect.begin_waiting(self.engine, self.clock)
                    try:
                        yield InlineConnection(sync)  # type: ignore[misc]  # AsyncConnection's interface
                        if (failure := dialect.take_failure(sync)) is not None:
                            raise failure
                        sync.commit()
                        if self.checkpoints is not None:
                            self.checkpoints.committed()
                    except BaseException:
                        dialect.take_failure(sync)
                        sync.rollback()
                        raise
                    finally:
                        sync.close()
            finally:
                _in_unit.reset(held)

    def _check_file(self) -> None:
        """Refuse to go on when the file at the path is no longer the one open."""
        if self.lost is not None:
            raise self.lost
        assert self.file is not None
        try:
            found = os.stat(self.file)
        except (FileNotFoundError, NotADirectoryError):
            what = "deleted"
        except OSError:
            return  # cannot tell (permissions): SQLite says so if it matters
        else:
            if (found.st_dev, found.st_ino) == self._identity:
                return
            what = "replaced by another file"
        self.lost = DatabaseGone(
            f"the database file {self.file} was {what} while the bot was running: stopped so that nothing more is "
            "written into a file that is gone; put the right database back at that path (from a backup) before "
            "starting again, then `qunguan replay` brings in the events in the dead-letter file"
        )
        self._gone.set()
        raise self.lost

    async def gone(self) -> DatabaseGone:
        """Return once the database file is found deleted or replaced."""
        await self._gone.wait()
        assert self.lost is not None
        return self.lost

    async def close(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.close()
        if isinstance(self.engine, AsyncEngine):
            await self.engine.dispose()
        else:
            self.engine.dispose()
