"""Faults of the store a test provokes: another process's write lock, a full disk (SQLite), the database refusing
one reply's outbox row at its INSERT or at the COMMIT (both databases)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bot.testing import TestBot


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


REFUSE = {  # the database itself refuses one reply's outbox row (a fault at the edge: a constraint, a full table)
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.text LIKE 'bad %'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.text LIKE 'bad %' THEN"
        " RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


REFUSE_AT_COMMIT = {  # the database accepts one reply's outbox row and refuses the transaction at its COMMIT
    "sqlite": [
        "CREATE TABLE nowhere (id INTEGER PRIMARY KEY)",
        "CREATE TABLE trap (id INTEGER REFERENCES nowhere (id) DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TRIGGER refuse AFTER INSERT ON outbox WHEN NEW.text LIKE 'bad %'"
        " BEGIN INSERT INTO trap (id) VALUES (1); END",
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.text LIKE 'bad %' THEN"
        " RAISE EXCEPTION 'refused at commit'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON outbox DEFERRABLE INITIALLY DEFERRED"
        " FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


async def install(bot: TestBot, faults: dict[str, list[str]]) -> None:
    """A fault of the database itself, in the dialect the test runs on."""
    async with bot.bot.store.unit() as conn:
        for sql in faults[conn.dialect.name]:
            await conn.exec_driver_sql(sql)
