"""WAL checkpoints off the event loop.

Left to itself SQLite copies the WAL back into the database file (and syncs both) inside a commit, once the WAL
holds about a thousand pages: one batch of events in ten then waits for it. Here a thread of its own does that
with a connection of its own, a passive checkpoint every few commits; sqlite3 lets go of the GIL while SQLite
works, so it runs beside the event loop, on the other core. A passive checkpoint never waits for a lock and never
holds up a writer. The store's own connections keep SQLite's automatic checkpoint as a backstop (BACKSTOP pages),
should this thread fall behind. A checkpoint that fails is no event's failure: the next one, or SQLite's own,
copies the same pages."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger("qunguan.store")

EVERY = 8  # commits between two checkpoints (a batch of events is one commit)
BACKSTOP = 4000  # pages in the WAL at which the store's connections checkpoint themselves (SQLite's default: 1000)


class Checkpointer:
    """Passive checkpoints of one SQLite file, on a thread, every EVERY commits."""

    def __init__(self, file: Path, *, synchronous: str, every: int = EVERY) -> None:
        self.file = file
        self.synchronous = synchronous
        self.every = every
        self._commits = 0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qunguan-checkpoint")
        self._connection: sqlite3.Connection | None = None
        self._running: asyncio.Future[None] | None = None

    def committed(self) -> None:
        """A transaction committed: every EVERY of them, a checkpoint starts unless one still runs."""
        self._commits += 1
        if self._commits < self.every or self._running is not None:
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)
        self._running.add_done_callback(self._done)

    async def idle(self) -> None:
        """Return once no checkpoint runs."""
        if self._running is not None:
            await asyncio.wait([self._running])

    async def close(self) -> None:
        await self.idle()
        self._thread.submit(self._close).result()
        self._thread.shutdown()

    def _checkpoint(self) -> None:
        if self._connection is None:
            # mode=rw: a database file deleted meanwhile is not made anew (the store reports it gone)
            uri = f"{self.file.resolve().as_uri()}?mode=rw"
            self._connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._connection.execute(f"PRAGMA synchronous={self.synchronous}")
        self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _done(self, running: asyncio.Future[None]) -> None:
        self._running = None
        if not running.cancelled() and (exc := running.exception()) is not None:
            log.warning("WAL checkpoint of %s failed (SQLite checkpoints by itself later): %s", self.file, exc)
