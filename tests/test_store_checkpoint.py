"""WAL checkpoints on a thread of their own (bot/store/checkpoint.py): what committed reaches the database file
itself without any commit doing that copy, and a file deleted meanwhile is never made anew by it."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.checkpoint import EVERY

pytestmark = pytest.mark.sqlite_only  # the WAL is SQLite's


def in_the_file_itself(file: Path) -> int:
    """Events marked seen as the database file holds them, its WAL left aside (immutable: SQLite reads no WAL)."""
    raw = sqlite3.connect(f"{file.as_uri()}?immutable=1", uri=True)
    try:
        return int(raw.execute("SELECT count(*) FROM seen_events").fetchone()[0])
    finally:
        raw.close()


async def mark(store: Store, event_id: str) -> None:
    async with store.unit() as conn:
        await conn.exec_driver_sql("INSERT INTO seen_events (id, at) VALUES (?, '2026-12-01 00:00:00')", (event_id,))


async def test_committed_writes_reach_the_database_file_by_the_checkpoint_thread(tmp_path: Path) -> None:
    file = tmp_path / "q.db"
    store = await Store.open(str(file))
    try:
        assert store.checkpoints is not None
        with sqlite3.connect(file) as raw:  # the schema into the file, as a starting point
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = in_the_file_itself(file)
        marked = 3 * EVERY  # far below SQLite's own checkpoint size: a commit alone leaves them in the WAL
        for i in range(marked):
            await mark(store, f"e{i}")
            await store.checkpoints.idle()
        assert in_the_file_itself(file) >= before + marked - (EVERY - 1)  # all but those since the last checkpoint
    finally:
        await store.close()


async def test_a_database_file_deleted_while_running_is_not_made_anew_by_a_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "q.db"
    store = await Store.open(str(file))
    try:
        assert store.checkpoints is not None
        for name in ("q.db", "q.db-wal", "q.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        with caplog.at_level(logging.WARNING, logger="qunguan.store"):
            for _ in range(EVERY):
                store.checkpoints.committed()  # as if units had committed before the file went
            await store.checkpoints.idle()
        assert not file.exists()
        assert "WAL checkpoint" in caplog.text
    finally:
        await store.close()


async def test_an_in_memory_database_has_no_checkpoint_thread() -> None:
    store = await Store.open(":memory:")
    try:
        assert store.checkpoints is None
    finally:
        await store.close()
