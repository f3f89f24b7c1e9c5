"""One contract, every store: inline SQLite, SQLite through aiosqlite, and PostgreSQL through asyncpg.

What the engine and the abilities rely on from `Store` and `bot.store.dialect`, checked the same way on
each backend (as aiogram runs one storage suite over all its backends): a unit of work commits together
or not at all, a savepoint rolls back alone, insert-or-ignore and upsert say what they did, times come
back as the UTC instants that went in, concurrent units keep the points ledger whole, a conditional
update never oversells, and a database is created, versioned and reopened with its rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from backends import database_url
from sqlalchemy import func, select, update

from bot.store import Store, StoreError, activity, dialect
from bot.store.migrations import SCHEMA_VERSION
from bot.store.tables import Member, Setting
from handlers.coupons import CouponStock
from handlers.points import PointsEntry, add_points, balance

STORES = ("sqlite", "sqlite+aiosqlite", pytest.param("postgresql", marks=pytest.mark.slow))
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture(params=STORES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that outlives one Store: reopen it to see what was committed."""
    yield from database_url(request.param, tmp_path, request)


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    opened = await Store.open(url)
    try:
        yield opened
    finally:
        await opened.close()


async def count(store: Store, table: object) -> int:
    async with store.unit() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()  # type: ignore[arg-type]


async def test_a_unit_commits_everything_or_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match="crash"):
        async with store.unit() as conn:
            await add_points(conn, "u1", 10, at=AT)
            await activity.mark_seen(conn, "ev-1", AT)
            raise RuntimeError("crash")
    assert await count(store, PointsEntry.__table__) == 0
    async with store.unit() as conn:
        assert await activity.mark_seen(conn, "ev-1", AT) is True  # the mark was rolled back with the rest
        assert await add_points(conn, "u1", 10, at=AT) == 10
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 10


async def test_a_savepoint_rolls_back_alone(store: Store) -> None:
    async with store.unit() as conn:
        await add_points(conn, "u1", 5, at=AT)
        with pytest.raises(ValueError):
            async with conn.begin_nested():
                await add_points(conn, "u1", 100, at=AT)
                raise ValueError
        async with conn.begin_nested():
            await add_points(conn, "u1", 1, at=AT)
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 6
    assert await count(store, PointsEntry.__table__) == 2


async def test_insert_ignore_and_upsert_say_what_they_did(store: Store) -> None:
    table = Setting.__table__
    async with store.unit() as conn:
        first = await conn.execute(dialect.insert_ignore(conn, table), {"key": "k", "value": "1"})
        again = await conn.execute(dialect.insert_ignore(conn, table), {"key": "k", "value": "2"})
        assert (first.rowcount, again.rowcount) == (1, 0)
        await conn.execute(dialect.upsert(conn, table, {"key": "k", "value": "3"}, ["key"], {"value": "3"}))
        await conn.execute(dialect.upsert(conn, table, {"key": "n", "value": "4"}, ["key"], {"value": "4"}))
        rows = dict((await conn.execute(select(table.c.key, table.c.value).order_by(table.c.key))).all())
    assert rows == {"k": "3", "n": "4", "schema_version": str(SCHEMA_VERSION)}


async def test_times_come_back_as_the_utc_instants_that_went_in(store: Store) -> None:
    shanghai = AT.astimezone(ZoneInfo("Asia/Shanghai"))
    async with store.unit() as conn:
        await conn.execute(Member.__table__.insert().values(id="u1", name="小王", first_seen=shanghai))
    async with store.unit() as conn:
        stored = (await conn.execute(select(Member.__table__.c.first_seen))).scalar_one()
    assert dialect.aware(stored) == AT


async def test_concurrent_units_keep_the_balance_equal_to_the_ledger_sum(url: str) -> None:
    stores = [await Store.open(url), await Store.open(url)]  # two processes sharing one database
    deltas = [7, -3, 2, -20, 11] * 8

    async def one(i: int, delta: int) -> int | None:
        async with stores[i % 2].unit() as conn:
            result = await add_points(conn, "u1", delta, at=AT)
            await asyncio.sleep(0)  # let the other units try to interleave
            return result

    try:
        results = await asyncio.gather(*(one(i, d) for i, d in enumerate(deltas)))
        table = PointsEntry.__table__
        async with stores[0].unit() as conn:
            total = (await conn.execute(select(func.sum(table.c.delta)))).scalar()
            points = await balance(conn, "u1")
    finally:
        for s in stores:
            await s.close()
    applied = [d for d, r in zip(deltas, results, strict=True) if r is not None]
    assert points == total == sum(applied)
    assert points >= 0


async def test_a_conditional_update_never_passes_its_limit_under_concurrency(url: str) -> None:
    stores = [await Store.open(url), await Store.open(url)]
    table = CouponStock.__table__
    async with stores[0].unit() as conn:
        await conn.execute(table.insert().values(batch_id="b", issued=0))

    async def take(i: int) -> bool:
        async with stores[i % 2].unit() as conn:
            done = await conn.execute(
                update(table).where(table.c.batch_id == "b", table.c.issued < 5).values(issued=table.c.issued + 1)
            )
            return done.rowcount == 1

    try:
        taken = await asyncio.gather(*(take(i) for i in range(40)))
        async with stores[1].unit() as conn:
            issued = (await conn.execute(select(table.c.issued))).scalar_one()
    finally:
        for s in stores:
            await s.close()
    assert sum(taken) == issued == 5


async def test_a_new_database_is_versioned_and_a_reopened_one_keeps_its_rows(url: str) -> None:
    first = await Store.open(url)
    try:
        async with first.unit() as conn:
            await add_points(conn, "u1", 3, at=AT)
    finally:
        await first.close()
    again = await Store.open(url)
    try:
        async with again.unit() as conn:
            version = (await conn.execute(select(Setting.value).where(Setting.key == "schema_version"))).scalar()
            assert await balance(conn, "u1") == 3
    finally:
        await again.close()
    assert version == str(SCHEMA_VERSION)


async def test_an_unusable_database_is_one_clear_store_error(url: str) -> None:
    """A file that is not a database, or a PostgreSQL database that does not exist."""
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).write_bytes(b"these are not the tables you are looking for" * 100)
        broken = url
    else:
        broken = url + "_no_such_db"
    with pytest.raises(StoreError) as caught:
        await Store.open(broken)
    message = str(caught.value)
    assert "\n" not in message and "sqlalche.me" not in message


async def test_a_unit_that_waits_never_blocks_another_store_forever(url: str) -> None:
    """Two stores on one database each finish their units; neither is lost to the other's lock."""
    a, b = await Store.open(url), await Store.open(url)
    try:

        async def slow() -> None:
            async with a.unit() as conn:
                await add_points(conn, "u1", 1, at=AT)
                await asyncio.sleep(0)

        async def quick() -> None:
            async with b.unit() as conn:
                await add_points(conn, "u2", 1, at=AT + timedelta(seconds=1))

        await asyncio.wait_for(asyncio.gather(slow(), quick()), timeout=30)
        async with a.unit() as conn:
            assert (await balance(conn, "u1"), await balance(conn, "u2")) == (1, 1)
    finally:
        await a.close()
        await b.close()
