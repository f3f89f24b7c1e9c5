"""Faults of the store a test provokes: another process's write lock, a full disk (SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another process holds SQLite's write lock on the file (as `BEGIN IMMEDIATE` in the sqlite3 shell would)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


class FullDisk:
    """The disk fills up: SQLite's own `max_page_count` keeps the file at the size it has now, so the next
    write that needs a page fails with 'database or disk is full', as on a full disk."""

    UNLIMITED = 4294967294

    def __init__(self, engine: Engine, path: Path) -> None:
        with sqlite3.connect(path) as db:
            self.pages = db.execute("PRAGMA page_count").fetchone()[0]
        self.engine = engine
        event.listen(engine, "checkout", self._limit)

    def _limit(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {self.pages}")

    def free(self) -> None:
        """Space is freed: the next connection used may grow the file again."""
        self.pages = self.UNLIMITED
