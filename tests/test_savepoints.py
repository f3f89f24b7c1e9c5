"""Savepoints on the database driver (bot/store/savepoint.py): every event and every playbook run has one. They keep
what SQLAlchemy's nested transactions promised: a rolled-back savepoint takes SQLAlchemy's writes and the driver's
with it, an outer one keeps what an inner one rolled back did not, and a passing database error inside one still
fails the whole unit even where code caught it."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone

import pytest
from backends import Backend
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError
from test_hot_statements import GREEDY, blocked, seen_before

from bot.store import Store, dialect
from bot.store.activity import mark_seen
from bot.store.savepoint import savepoint
from bot.store.tables import Member, SeenEvent
from bot.testing import TestBot
from handlers.checkin import Checkin
from handlers.points import PointsEntry, add_points, balance

pytestmark = pytest.mark.usefixtures("backend")

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8)))


async def ledger(store: Store) -> list[int]:
    async with store.unit() as conn:
        return list((await conn.execute(select(PointsEntry.__table__.c.delta))).scalars().all())


async def test_a_rolled_back_savepoint_takes_sqlalchemys_and_the_drivers_writes_with_it(store: Store) -> None:
    async with store.unit() as conn:
        await add_points(conn, "u1", 5, at=NOW)  # the driver's writes
        with pytest.raises(RuntimeError):
            async with savepoint(conn):
                await add_points(conn, "u1", 7, at=NOW)
                await conn.execute(Member.__table__.update().values(name="改名"))  # SQLAlchemy's
                raise RuntimeError("the playbook failed")
        assert await balance(conn, "u1") == 5
        assert (await conn.execute(select(Member.__table__.c.name))).scalar_one() != "改名"
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 5
    assert await ledger(store) == [5]


async def test_savepoints_nest_and_an_inner_one_rolls_back_alone(store: Store) -> None:
    async with store.unit() as conn, savepoint(conn):  # the unit's first statement: PostgreSQL begins here
        await add_points(conn, "u1", 1, at=NOW)
        with pytest.raises(RuntimeError):
            async with savepoint(conn):
                await add_points(conn, "u1", 2, at=NOW)
                raise RuntimeError("inner")
        async with savepoint(conn):
            await add_points(conn, "u1", 4, at=NOW)
    assert await ledger(store) == [1, 4]


async def test_a_unit_that_fails_takes_its_released_savepoints_with_it(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.unit() as conn:
            async with savepoint(conn):
                assert await mark_seen(conn, "e1", NOW)
                await add_points(conn, "u1", 5, at=NOW)
            raise RuntimeError("the batch failed")
    assert not await seen_before(store, "e1")
    assert await ledger(store) == []


async def test_a_database_error_rolls_back_to_the_savepoint_and_the_unit_goes_on(store: Store) -> None:
    """PostgreSQL aborts the whole transaction on an error: the savepoint's rollback is what lets the unit go on."""
    async with store.unit() as conn:
        assert await mark_seen(conn, "e1", NOW)
        with pytest.raises(DBAPIError):
            async with savepoint(conn):
                await add_points(conn, "u1", 3, at=NOW)
                await conn.exec_driver_sql("SELECT * FROM no_such_table")
        await add_points(conn, "u1", 5, at=NOW)
    assert await ledger(store) == [5]
    assert await seen_before(store, "e1")


async def test_a_passing_database_error_in_a_savepoint_fails_the_unit_even_when_caught(
    store: Store, backend: Backend
) -> None:
    async with store.unit() as conn:
        await add_points(conn, "u1", 5, at=NOW)
    async with blocked(store, backend) as reason:
        with pytest.raises(DBAPIError) as failed:
            async with store.unit() as conn:
                assert await mark_seen(conn, "e1", NOW)
                try:
                    async with savepoint(conn):
                        await add_points(conn, "u1", 5, at=NOW, reason=reason)
                except DBAPIError:
                    pass  # a playbook's failure
                else:
                    pytest.fail("the database did not fail")
        assert dialect.transient(failed.value)
    assert not await seen_before(store, "e1")
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 5


async def test_an_events_savepoints_go_to_the_driver_not_through_sqlalchemy() -> None:
    """SQLAlchemy's nested transaction cost more than the statements in it: an event's savepoint and its playbooks'
    are said to the driver, on both databases, and a failing playbook still rolls back alone."""
    async with TestBot.running({"greedy": GREEDY}) as bot:
        said: list[str] = []
        engine = bot.bot.store.engine
        sync = getattr(engine, "sync_engine", engine)

        def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
            said.append(statement)

        event.listen(sync, "before_cursor_execute", seen)
        try:
            assert await bot.say("u1", "签到", room="r1", event_id="wx-1") == []
        finally:
            event.remove(sync, "before_cursor_execute", seen)
        assert not [s for s in said if "SAVEPOINT" in s.upper()]
        assert (await bot.rows(select(func.count()).select_from(Checkin.__table__)))[0][0] == 0
        assert (await bot.rows(select(SeenEvent.__table__.c.id)))[0][0] == "wx-1"


async def test_a_savepoint_rolled_back_after_released_ones_takes_only_its_own_writes(store: Store) -> None:
    """As a batch of events: each one's savepoint after the last one's released; one rolls back alone, and one
    rolled back takes the playbook savepoints released inside it."""
    async with store.unit() as conn:
        for delta, fails in ((1, False), (2, True), (4, False), (8, True), (16, False)):
            with contextlib.suppress(RuntimeError):
                async with savepoint(conn):
                    async with savepoint(conn):
                        await add_points(conn, "u1", delta, at=NOW)
                    await conn.execute(PointsEntry.__table__.update().values(reason="批"))
                    if fails:
                        raise RuntimeError("the event failed")
        assert await balance(conn, "u1") == 21
    assert await ledger(store) == [1, 4, 16]
    async with store.unit() as conn:
        assert set((await conn.execute(select(PointsEntry.__table__.c.reason))).scalars()) == {"批"}
