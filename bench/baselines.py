"""Baselines measured in the same run as the figures they judge: the no-I/O pipeline, and the SQLite
reference rates of /work/shared/FACTS.md, which show how this machine compares with the reference one."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ahocorasick
import aiosqlite
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.workload import chat_text

QUEUE_SIZE = 1024  # a bounded queue, as a connector feeding an engine would use
BATCH = 100  # rows per commit in the executemany reference


async def noio_pipeline(messages: int, keywords: int, seed: int) -> float:
    """asyncio queue -> keyword index -> dict -> awaited fake send: what a bot costs with no I/O at all (msgs/s).

    The fake send yields to the event loop once, as any real send does; without that the consumer drains
    the queue in batches and the figure measures a loop that no bot runs (about 5x higher).
    """
    rng = random.Random(seed)
    words = [f"词{i:04d}" for i in range(keywords)]
    replies = {word: f"关于{word}的回答" for word in words}
    index = ahocorasick.Automaton()
    for word in words:
        index.add_word(word, word)
    index.make_automaton()
    texts = [chat_text(rng, rng.choice(words)) for _ in range(min(messages, 10_000))]
    queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_SIZE)
    sent: list[str] = []

    async def send(text: str) -> None:
        await asyncio.sleep(0)
        sent.append(text)

    async def consume() -> None:
        while (text := await queue.get()) is not None:
            for _end, word in index.iter(text):
                await send(replies[word])

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    for i in range(messages):
        await queue.put(texts[i % len(texts)])
    await queue.put(None)
    await consumer
    elapsed = time.perf_counter() - start
    assert len(sent) == messages, "every message should have found its keyword"
    return messages / elapsed


_CREATE = "CREATE TABLE rows (id INTEGER PRIMARY KEY, text TEXT NOT NULL, at TEXT NOT NULL)"
_INSERT = "INSERT INTO rows (text, at) VALUES (?, ?)"


def _wal(conn: Any) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")


def sqlite_row_commit(rows: int, folder: Path) -> float:
    """stdlib sqlite3, WAL + synchronous=NORMAL, INSERT + COMMIT per row (rows/s)."""
    conn = sqlite3.connect(folder / "stdlib.db", isolation_level=None)
    try:
        _wal(conn)
        conn.execute(_CREATE)
        at = datetime.now(UTC).isoformat()
        start = time.perf_counter()
        for i in range(rows):
            conn.execute("BEGIN")
            conn.execute(_INSERT, (f"row {i}", at))
            conn.execute("COMMIT")
        return rows / (time.perf_counter() - start)
    finally:
        conn.close()


async def aiosqlite_row_commit(rows: int, folder: Path) -> float:
    """aiosqlite, explicit BEGIN / INSERT / COMMIT per row: three thread hand-offs a row (rows/s)."""
    async with aiosqlite.connect(folder / "aio.db", isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute(_CREATE)
        at = datetime.now(UTC).isoformat()
        start = time.perf_counter()
        for i in range(rows):
            await db.execute("BEGIN")
            await db.execute(_INSERT, (f"row {i}", at))
            await db.execute("COMMIT")
        return rows / (time.perf_counter() - start)


async def aiosqlite_executemany(rows: int, folder: Path) -> float:
    """aiosqlite, `executemany` of BATCH rows per transaction: group commit (rows/s)."""
    async with aiosqlite.connect(folder / "many.db", isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute(_CREATE)
        at = datetime.now(UTC).isoformat()
        start = time.perf_counter()
        for first in range(0, rows, BATCH):
            await db.execute("BEGIN")
            await db.executemany(_INSERT, [(f"row {i}", at) for i in range(first, min(first + BATCH, rows))])
            await db.execute("COMMIT")
        return rows / (time.perf_counter() - start)


class _Base(SQLModel, registry=registry()):
    """Own registry: the bench table must never land in the bot's metadata (and so in its databases)."""


class BenchRow(_Base, table=True):
    __tablename__ = "bench_rows"
    id: int | None = Field(default=None, primary_key=True)
    text: str
    at: datetime


async def sqlmodel_row_commit(rows: int, folder: Path) -> float:
    """SQLModel AsyncSession, `add` + `commit` per row, the ORM way (rows/s)."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{folder / 'orm.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        _wal(cursor)
        cursor.close()

    try:
        async with engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)
        at = datetime.now(UTC)
        async with AsyncSession(engine) as session:
            start = time.perf_counter()
            for i in range(rows):
                session.add(BenchRow(text=f"row {i}", at=at))
                await session.commit()
            return rows / (time.perf_counter() - start)
    finally:
        await engine.dispose()


async def sqlite_references(rows: int, slow_rows: int) -> dict[str, float]:
    """All four references, each in a fresh database file."""
    with tempfile.TemporaryDirectory(prefix="qunguan-bench-") as tmp:
        folder = Path(tmp)
        return {
            "sqlite_row_commit": sqlite_row_commit(rows, folder),
            "aiosqlite_row_commit": await aiosqlite_row_commit(slow_rows, folder),
            "sqlmodel_row_commit": await sqlmodel_row_commit(slow_rows, folder),
            "aiosqlite_executemany": await aiosqlite_executemany(rows, folder),
        }
