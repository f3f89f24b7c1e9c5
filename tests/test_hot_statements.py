"""The hot statements (bot/store/hot.py) run on the database driver, yet keep what SQLAlchemy's statements promise:
they are part of the unit of work and of its savepoints, a passing database error in one fails the whole unit
even where code caught it, times come back aware UTC and dates as dates, and each is prepared once."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg
import pytest
from backends import Backend
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from bot.store import Store, dialect, hot
from bot.store.activity import mark_seen
from bot.store.tables import SeenEvent
from bot.testing import TestBot
from handlers.checkin import Checkin, last_checkin
from handlers.points import PointsEntry, add_points, balance

pytestmark = pytest.mark.usefixtures("backend")

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8)))

GREEDY = """
id: greedy
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - points: {add: -1000, reason: 贪心}
  - reply: 不会到这里
"""


class Undo(Exception):
    """Raised to roll a unit back."""


async def seen_before(store: Store, event_id: str) -> bool:
    """Whether an event id was committed as seen (marking it again, in a unit rolled back)."""
    with pytest.raises(Undo):
        async with store.unit() as conn:
            first = await mark_seen(conn, event_id, NOW)
            raise Undo
    return not first


async def test_a_failing_playbook_rolls_back_its_check_in_and_points_and_the_event_still_counts() -> None:
    """The check-in and the ledger are raw writes inside the playbook's savepoint: the playbook fails after them
    (a debit below zero), so they roll back with it; the event itself (seen, the member's activity) commits."""
    async with TestBot.running({"greedy": GREEDY}) as bot:
        assert await bot.say("u1", "签到", room="r1", event_id="wx-1") == []
        assert (await bot.rows(select(func.count()).select_from(Checkin.__table__)))[0][0] == 0
        assert (await bot.rows(select(func.count()).select_from(PointsEntry.__table__)))[0][0] == 0
        assert await bot.field("u1", "points") == 0
        assert await bot.field("u1", "streak") == 0
        assert (await bot.rows(select(SeenEvent.__table__.c.id)))[0][0] == "wx-1"
        assert await bot.say("u1", "签到", room="r1", event_id="wx-1") == []  # a redelivery: seen, not run again
        assert (await bot.rows(select(func.count()).select_from(Checkin.__table__)))[0][0] == 0


async def test_a_unit_that_fails_takes_its_raw_writes_with_it(store: Store) -> None:
    """Raw statements are in the unit's transaction from the first one (PostgreSQL: SQLAlchemy begins it lazily)."""
    with pytest.raises(RuntimeError):
        async with store.unit() as conn:
            assert await mark_seen(conn, "e1", NOW)
            assert await add_points(conn, "u1", 5, at=NOW) == 5
            raise RuntimeError("the event failed")
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 0
        assert await mark_seen(conn, "e1", NOW)


async def test_a_savepoint_rolled_back_takes_the_raw_writes_made_inside_it(store: Store) -> None:
    async with store.unit() as conn:
        await add_points(conn, "u1", 5, at=NOW)
        with pytest.raises(RuntimeError):
            async with conn.begin_nested():
                await add_points(conn, "u1", 7, at=NOW)
                assert await balance(conn, "u1") == 12
                raise RuntimeError("the playbook failed")
        assert await balance(conn, "u1") == 5
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 5
        ledger = (await conn.execute(select(PointsEntry.__table__.c.delta))).scalars().all()
        assert ledger == [5]


async def test_a_passing_database_error_in_a_raw_statement_fails_the_unit_even_when_caught(
    store: Store, backend: Backend
) -> None:
    """SQLite: the disk fills up under a ledger row; PostgreSQL: the statement is cancelled (it waited for a row
    another session holds past statement_timeout). Code catches it in a savepoint and goes on; the unit must
    still fail, or the event would commit without its points."""
    async with store.unit() as conn:
        await add_points(conn, "u1", 5, at=NOW)
    async with blocked(store, backend) as reason:
        with pytest.raises(DBAPIError) as failed:
            async with store.unit() as conn:
                assert await mark_seen(conn, "e1", NOW)
                try:
                    async with conn.begin_nested():
                        await add_points(conn, "u1", 5, at=NOW, reason=reason)
                except DBAPIError:
                    pass  # a playbook's failure (SQLite: its savepoint went with the transaction the error ended)
                else:
                    pytest.fail("the database did not fail")
        assert dialect.transient(failed.value)
    assert not await seen_before(store, "e1")
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 5


class blocked:
    """What makes the next write of the ledger fail in passing, until the block ends."""

    def __init__(self, store: Store, backend: Backend) -> None:
        self.store, self.backend = store, backend
        self.other: asyncpg.Connection | None = None

    async def __aenter__(self) -> str:
        if self.backend.postgresql:
            url = self.backend.database.replace("postgresql+asyncpg", "postgresql")
            self.other = await asyncpg.connect(url)
            await self.other.execute(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" SET statement_timeout = 200')
            await self.other.execute("BEGIN; UPDATE members SET points = points WHERE id = 'u1'")
            await self.store.engine.dispose()  # new connections read the setting
            return "等锁"
        engine = self.store.engine
        with sqlite3.connect(self.backend.database) as db:
            pages = db.execute("PRAGMA page_count").fetchone()[0]
        raw = engine.raw_connection()  # the pooled connection the next unit uses
        raw.driver_connection.execute(f"PRAGMA max_page_count = {pages}")
        raw.close()
        return "长" * 20000  # a reason longer than the pages left

    async def __aexit__(self, *exc: object) -> None:
        if self.other is not None:
            await self.other.execute("ROLLBACK")
            name = self.backend.database.rsplit("/", 1)[1]
            await self.other.execute(f'ALTER DATABASE "{name}" RESET statement_timeout')
            await self.other.close()
        else:
            raw = self.store.engine.raw_connection()
            raw.driver_connection.execute("PRAGMA max_page_count = 4294967294")
            raw.close()


async def test_times_go_in_aware_and_come_back_aware_utc_and_days_as_dates(store: Store) -> None:
    stored_at = hot.Statement("seen at", "SELECT at FROM seen_events WHERE id = :id", times=(0,))
    async with store.unit() as conn:
        await mark_seen(conn, "e1", NOW)
        raw = await hot.scalar(conn, stored_at, {"id": "e1"})
        through_sqlalchemy = (await conn.execute(select(SeenEvent.__table__.c.at))).scalar_one()
        await add_points(conn, "u1", 5, at=NOW)
        await conn.execute(
            Checkin.__table__.insert().values(member_id="u1", day=date(2026, 11, 23), streak=3, points=5, at=NOW)
        )
        assert await last_checkin(conn, "u1") == (date(2026, 11, 23), 3)
    assert raw == through_sqlalchemy == NOW
    assert raw.utcoffset() == through_sqlalchemy.utcoffset() == timedelta(0)
    assert raw.tzinfo is UTC


async def test_a_naive_time_is_refused_as_sqlalchemy_refuses_it(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone"):
        async with store.unit() as conn:
            await mark_seen(conn, "e1", NOW.replace(tzinfo=None))
    assert not await seen_before(store, "e1")


# -- PostgreSQL only: the asyncpg connection itself


@pytest.mark.slow
@pytest.mark.sqlite_only  # the `backend` runs once: these open PostgreSQL themselves
async def test_postgresql_prepares_each_hot_statement_once_per_connection(pg_url: str) -> None:
    store = await Store.open(pg_url)
    try:
        for i in range(3):
            async with store.unit() as conn:
                await mark_seen(conn, f"e{i}", NOW)
                await add_points(conn, "u1", 1, at=NOW)
        async with store.unit() as conn:
            query = text("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
            prepared = (await conn.execute(query)).all()
    finally:
        await store.close()
    # One prepared statement each, run every time (u1's first credit ran twice: before and after their row); the
    # credit and its ledger entry are one statement on PostgreSQL (one round trip).
    for statement, runs in (
        ("INSERT INTO seen_events", 3),
        ("WITH changed AS (UPDATE members SET points", 4),
    ):
        assert [n for sql, n in prepared if sql.startswith(statement)] == [runs], (statement, prepared)


@pytest.mark.slow
@pytest.mark.sqlite_only  # the `backend` runs once: these open PostgreSQL themselves
async def test_postgresql_connection_lost_in_a_raw_statement_fails_the_unit_and_the_next_gets_a_new_one(
    pg_url: str,
) -> None:
    store = await Store.open(pg_url)
    admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        with pytest.raises(DBAPIError) as failed:
            async with store.unit() as conn:
                await mark_seen(conn, "e1", NOW)
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
                await add_points(conn, "u1", 5, at=NOW)
        assert dialect.transient(failed.value) and failed.value.connection_invalidated
        async with store.unit() as conn:
            assert await mark_seen(conn, "e1", NOW)  # the lost unit committed nothing
            assert await add_points(conn, "u1", 5, at=NOW) == 5
    finally:
        await admin.close()
        await store.close()
