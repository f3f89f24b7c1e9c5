"""The store: SQLite in WAL mode, schema versions, invariants held by the database, units of work."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from bot.store import Store, StoreError, activity
from bot.store.migrations import SCHEMA_VERSION, SchemaError, add_missing, migrate
from bot.store.tables import Member, OnceMark, Setting
from bot.testing import TestBot
from handlers.checkin import Checkin
from handlers.points import PointsEntry, add_points, balance
from handlers.tags import MemberTag

# Every test on SQLite and PostgreSQL; sqlite_only marks those about SQLite's own files and migrations
# (PostgreSQL's versioning is in tests/contract/test_store_contract.py).
pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

CHECKIN = """
id: checkin
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - tag: 签到过
  - reply: "连续 {{ checkin.streak }} 天，共 {{ member.points }} 分，标签 {{ member.tags | join(',') }}"
"""


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = await Store.open(backend.database if backend.postgresql else ":memory:")
    yield s
    await s.close()


def schema_version(path: Path) -> str | None:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM settings WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- opening


@pytest.mark.sqlite_only
async def test_file_database_is_created_in_wal_mode_with_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "qunguan.db"
    store = await Store.open(str(path))
    try:
        async with store.unit() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    finally:
        await store.close()
    assert path.is_file()
    assert mode == "wal"
    with sqlite3.connect(path) as db:  # WAL is persistent: a fresh connection sees it too
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.sqlite_only
async def test_fresh_database_records_the_latest_schema_version_in_settings(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = await Store.open(str(path))
    try:
        async with store.unit() as conn:
            value = (await conn.execute(select(Setting.value).where(Setting.key == "schema_version"))).scalar()
    finally:
        await store.close()
    assert value == str(SCHEMA_VERSION)
    assert schema_version(path) == str(SCHEMA_VERSION)


@pytest.mark.sqlite_only
async def test_reopening_a_current_database_keeps_its_version_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = await Store.open(str(path))
    async with store.unit() as conn:
        await add_points(conn, "u1", 7, at=AT)
    await store.close()

    store = await Store.open(str(path))
    try:
        async with store.unit() as conn:
            assert await balance(conn, "u1") == 7
    finally:
        await store.close()
    assert schema_version(path) == str(SCHEMA_VERSION)


@pytest.mark.sqlite_only
async def test_database_newer_than_the_code_is_refused_clearly_and_left_unmodified(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    await (await Store.open(str(path))).close()
    newer = SCHEMA_VERSION + 1
    with sqlite3.connect(path) as db:
        db.execute("UPDATE settings SET value = ? WHERE key = 'schema_version'", (str(newer),))
    before = sha256(path)

    with pytest.raises(StoreError) as caught:
        await Store.open(str(path))

    message = str(caught.value)
    assert f"schema version {newer}" in message
    assert "newer" in message
    assert f"({SCHEMA_VERSION})" in message
    for noise in ("Traceback", "[SQL", "sqlalche.me", "SchemaError", "\n"):
        assert noise not in message
    assert schema_version(path) == str(newer)
    assert sha256(path) == before


@pytest.mark.sqlite_only
async def test_database_with_foreign_tables_and_no_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO orders (total) VALUES (9.5)")

    with pytest.raises(StoreError, match="no schema version"):
        await Store.open(str(path))

    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"orders"}
        assert db.execute("SELECT total FROM orders").fetchall() == [(9.5,)]


@pytest.mark.sqlite_only
async def test_file_that_is_not_a_database_is_refused_with_a_one_line_message(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is a shopping list, not SQLite\n" * 100)

    with pytest.raises(StoreError) as caught:
        await Store.open(str(path))

    message = str(caught.value)
    assert str(path) in message
    assert "not a database" in message
    for noise in ("[SQL", "sqlalche.me", "Background on this error", "\n"):
        assert noise not in message


# -- migrations (sync connection, fake steps)


@pytest.fixture
def sync_conn() -> Connection:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        yield conn
    engine.dispose()


def version_of(conn: Connection) -> int:
    return int(conn.execute(select(Setting.value).where(Setting.key == "schema_version")).scalar_one())


@pytest.mark.sqlite_only
def test_migrate_creates_a_new_database_at_latest_and_returns_zero(sync_conn: Connection) -> None:
    assert migrate(sync_conn, latest=3, steps={}) == 0
    assert version_of(sync_conn) == 3
    assert {"members", "points_ledger", "checkins", "once_marks", "seen_events"} <= set(
        inspect(sync_conn).get_table_names()
    )


@pytest.mark.sqlite_only
def test_migration_steps_run_in_order_from_an_older_version(sync_conn: Connection) -> None:
    migrate(sync_conn, latest=1, steps={})
    ran: list[tuple[int, int]] = []

    def step(version: int):
        def run(conn: Connection) -> None:
            ran.append((version, version_of(conn)))  # sees the version before it
            if version == 2:
                conn.exec_driver_sql("ALTER TABLE members ADD COLUMN nickname VARCHAR DEFAULT ''")

        return run

    steps = {4: step(4), 2: step(2), 3: step(3)}  # mapping order must not matter
    assert migrate(sync_conn, latest=4, steps=steps) == 1

    assert ran == [(2, 1), (3, 2), (4, 3)]
    assert version_of(sync_conn) == 4
    assert "nickname" in {c["name"] for c in inspect(sync_conn).get_columns("members")}
    assert migrate(sync_conn, latest=4, steps=steps) == 4  # nothing left to do
    assert len(ran) == 3


@pytest.mark.sqlite_only
def test_missing_migration_step_is_an_error_and_no_step_runs(sync_conn: Connection) -> None:
    migrate(sync_conn, latest=1, steps={})
    ran: list[int] = []
    steps = {2: lambda c: ran.append(2), 4: lambda c: ran.append(4)}

    with pytest.raises(SchemaError, match="schema version 3"):
        migrate(sync_conn, latest=4, steps=steps)

    assert ran == []
    assert version_of(sync_conn) == 1


@pytest.mark.sqlite_only
def test_migrate_refuses_a_newer_version(sync_conn: Connection) -> None:
    migrate(sync_conn, latest=5, steps={})
    with pytest.raises(SchemaError, match="newer"):
        migrate(sync_conn, latest=4, steps={})
    assert version_of(sync_conn) == 5


@pytest.mark.sqlite_only
def test_add_missing_adds_new_tables_columns_and_indexes_and_keeps_rows(sync_conn: Connection) -> None:
    """The step that upgrades a database to version 4 adds what the models gained, rows kept."""
    old = MetaData()
    Table("widgets", old, Column("id", Integer, primary_key=True), Column("name", String, nullable=False))
    old.create_all(sync_conn)
    sync_conn.execute(old.tables["widgets"].insert().values(id=1, name="a"))

    new = MetaData()
    Table(
        "widgets",
        new,
        Column("id", Integer, primary_key=True),
        Column("name", String, nullable=False),
        Column("colour", String, nullable=True, index=True),
        Column("size", Integer, nullable=False, server_default="3"),
    )
    Table("gadgets", new, Column("id", Integer, primary_key=True))
    add_missing(sync_conn, new)

    found = inspect(sync_conn)
    assert {c["name"] for c in found.get_columns("widgets")} == {"id", "name", "colour", "size"}
    assert "gadgets" in found.get_table_names()
    assert [i["column_names"] for i in found.get_indexes("widgets")] == [["colour"]]
    assert sync_conn.execute(text("SELECT id, name, colour, size FROM widgets")).all() == [(1, "a", None, 3)]


@pytest.mark.sqlite_only
def test_add_missing_refuses_a_new_required_column_without_a_default(sync_conn: Connection) -> None:
    old = MetaData()
    Table("widgets", old, Column("id", Integer, primary_key=True))
    old.create_all(sync_conn)
    new = MetaData()
    Table("widgets", new, Column("id", Integer, primary_key=True), Column("name", String, nullable=False))
    with pytest.raises(SchemaError, match=r"widgets\.name"):
        add_missing(sync_conn, new)


@pytest.mark.sqlite_only
async def test_store_open_runs_pending_steps_in_one_transaction(tmp_path: Path, monkeypatch) -> None:
    """A failing step leaves the database at its old version, with no half-done step."""
    path = tmp_path / "q.db"
    await (await Store.open(str(path))).close()

    def good(conn: Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE extra (id INTEGER PRIMARY KEY)")

    def bad(conn: Connection) -> None:
        raise RuntimeError("step blew up")

    latest = SCHEMA_VERSION + 2
    monkeypatch.setattr(
        "bot.store.database.migrate", partial(migrate, latest=latest, steps={latest - 1: good, latest: bad})
    )
    with pytest.raises(StoreError, match="step blew up"):
        await Store.open(str(path))

    assert schema_version(path) == str(SCHEMA_VERSION)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []


# -- invariants held by the database itself


async def test_checkins_unique_member_day_is_enforced_by_the_database(store: Store) -> None:
    row = {"member_id": "u1", "day": date(2026, 11, 23), "streak": 1, "points": 5, "at": AT}
    async with store.unit() as conn:
        await conn.execute(insert(Checkin.__table__).values(**row))
    with pytest.raises(IntegrityError):
        async with store.unit() as conn:
            await conn.execute(insert(Checkin.__table__).values(**{**row, "streak": 2, "at": AT + timedelta(1)}))
    async with store.unit() as conn:
        await conn.execute(insert(Checkin.__table__).values(**{**row, "day": date(2026, 11, 24)}))
        await conn.execute(insert(Checkin.__table__).values(**{**row, "member_id": "u2"}))
        count = (await conn.execute(select(func.count()).select_from(Checkin.__table__))).scalar()
    assert count == 3


async def test_once_marks_primary_key_rejects_a_second_use_in_the_database(store: Store) -> None:
    row = {"playbook_id": "quiz", "scope_key": "member:u1", "period": "2026-W48", "at": AT}
    async with store.unit() as conn:
        await conn.execute(insert(OnceMark.__table__).values(**row))
    with pytest.raises(IntegrityError):
        async with store.unit() as conn:
            await conn.execute(insert(OnceMark.__table__).values(**{**row, "at": AT + timedelta(hours=1)}))
    async with store.unit() as conn:
        await conn.execute(insert(OnceMark.__table__).values(**{**row, "period": "2026-W49"}))
        await conn.execute(insert(OnceMark.__table__).values(**{**row, "scope_key": "member:u2"}))
        count = (await conn.execute(select(func.count()).select_from(OnceMark.__table__))).scalar()
    assert count == 3


async def test_member_tags_are_unique_per_member_and_name(store: Store) -> None:
    row = {"member_id": "u1", "tag": "新人", "at": AT}
    async with store.unit() as conn:
        await conn.execute(insert(MemberTag.__table__).values(**row))
    with pytest.raises(IntegrityError):
        async with store.unit() as conn:
            await conn.execute(insert(MemberTag.__table__).values(**row))


# -- points


async def ledger(store: Store, member_id: str) -> list[tuple[int, int]]:
    table = PointsEntry.__table__
    async with store.unit() as conn:
        rows = await conn.execute(
            select(table.c.delta, table.c.balance).where(table.c.member_id == member_id).order_by(table.c.id)
        )
        return [(r.delta, r.balance) for r in rows]


async def test_add_points_appends_one_ledger_row_with_the_running_balance(store: Store) -> None:
    for delta, expected in ((10, 10), (5, 15), (-12, 3), (0, 3)):
        async with store.unit() as conn:
            assert await add_points(conn, "u1", delta, at=AT, reason="r") == expected
    assert await ledger(store, "u1") == [(10, 10), (5, 15), (-12, 3), (0, 3)]
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 3


async def test_add_points_never_goes_below_zero_and_writes_no_ledger_row_when_refused(store: Store) -> None:
    async with store.unit() as conn:
        await add_points(conn, "u1", 5, at=AT)
        assert await add_points(conn, "u1", -6, at=AT) is None
        assert await add_points(conn, "u2", -1, at=AT) is None  # a stranger has 0
        assert await add_points(conn, "u1", -5, at=AT) == 0
        assert await add_points(conn, "u1", -1, at=AT) is None
    assert await ledger(store, "u1") == [(5, 5), (-5, 0)]
    assert await ledger(store, "u2") == []
    async with store.unit() as conn:
        assert await balance(conn, "u1") == 0
        assert await balance(conn, "u2") == 0


async def test_add_points_allow_negative_goes_below_zero_through_the_ledger(store: Store) -> None:
    async with store.unit() as conn:
        assert await add_points(conn, "u1", -3, at=AT, allow_negative=True) == -3
    assert await ledger(store, "u1") == [(-3, -3)]


async def test_concurrent_units_keep_balance_equal_to_ledger_sum(backend: Backend) -> None:
    store = await Store.open(backend.database)
    deltas = [7, -3, 2, -20, 11] * 10

    async def one(delta: int) -> int | None:
        async with store.unit() as conn:
            result = await add_points(conn, "u1", delta, at=AT)
            await asyncio.sleep(0)  # let the other units try to interleave
            return result

    try:
        results = await asyncio.gather(*(one(d) for d in deltas))
        table = PointsEntry.__table__
        async with store.unit() as conn:
            total = (await conn.execute(select(func.sum(table.c.delta)).where(table.c.member_id == "u1"))).scalar()
            count = (await conn.execute(select(func.count()).select_from(table))).scalar()
            last = (await conn.execute(select(table.c.balance).order_by(table.c.id.desc()).limit(1))).scalar()
            points = await balance(conn, "u1")
    finally:
        await store.close()
    applied = [r for r in results if r is not None]
    assert points == total == last
    assert count == len(applied)
    assert points >= 0
    assert sum(d for d, r in zip(deltas, results, strict=True) if r is not None) == total


async def test_an_exception_inside_a_unit_leaves_nothing_written(backend: Backend) -> None:
    store = await Store.open(backend.database)
    try:
        with pytest.raises(RuntimeError, match="crash"):
            async with store.unit() as conn:
                await add_points(conn, "u1", 10, at=AT)
                await activity.mark_seen(conn, "ev-1", AT)
                raise RuntimeError("crash")
        async with store.unit() as conn:
            assert (await conn.execute(select(func.count()).select_from(Member.__table__))).scalar() == 0
            assert (await conn.execute(select(func.count()).select_from(PointsEntry.__table__))).scalar() == 0
            assert await activity.mark_seen(conn, "ev-1", AT) is True  # the mark was rolled back too
    finally:
        await store.close()
    again = await Store.open(backend.database)  # and nothing reached the database for another process either
    try:
        async with again.unit() as conn:
            assert (await conn.execute(select(func.count()).select_from(PointsEntry.__table__))).scalar() == 0
    finally:
        await again.close()


async def test_units_after_a_crashed_unit_still_work(store: Store) -> None:
    with pytest.raises(ValueError):
        async with store.unit() as conn:
            await add_points(conn, "u1", 1, at=AT)
            raise ValueError
    async with store.unit() as conn:
        assert await add_points(conn, "u1", 2, at=AT) == 2


# -- seen events


async def test_mark_seen_is_true_once_then_false_for_a_redelivery(store: Store) -> None:
    async with store.unit() as conn:
        assert await activity.mark_seen(conn, "msg-1", AT) is True
        assert await activity.mark_seen(conn, "msg-1", AT) is False
    async with store.unit() as conn:
        assert await activity.mark_seen(conn, "msg-1", AT + timedelta(days=1)) is False
        assert await activity.mark_seen(conn, "msg-2", AT) is True


async def test_redelivered_message_event_acts_once() -> None:
    bot = await TestBot.create({"playbooks/checkin.yaml": CHECKIN}, start=datetime(2026, 11, 23, 9, tzinfo=TZ))
    try:
        first = await bot.say("u1", "签到", room="r1", event_id="wx-42")
        again = await bot.say("u1", "签到", room="r1", event_id="wx-42")
    finally:
        await bot.close()
    assert len(first) == 1
    assert again == []


# -- restart


async def test_restart_on_the_same_file_keeps_points_streaks_and_tags(backend: Backend, tmp_path: Path) -> None:
    path = backend.database if backend.postgresql else str(tmp_path / "data" / "qunguan.db")
    start = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    playbooks = {"playbooks/checkin.yaml": CHECKIN}

    bot = await TestBot.create(playbooks, start=start, database=path)
    try:
        [first] = await bot.say("u1", "签到", room="r1", event_id="wx-day1")
    finally:
        await bot.close()
    assert "连续 1 天，共 5 分，标签 签到过" in first.text

    bot = await TestBot.create(playbooks, start=start, database=path)
    try:
        await bot.advance(timedelta(days=1))
        [second] = await bot.say("u1", "签到", room="r1", event_id="wx-day2")
        async with bot.bot.store.unit() as conn:
            points = await balance(conn, "u1")
    finally:
        await bot.close()
    assert "连续 2 天，共 10 分，标签 签到过" in second.text
    assert points == 10


async def test_testbot_events_after_a_restart_on_the_same_file_are_not_dropped_as_duplicates(backend: Backend) -> None:
    path = backend.database
    playbooks = {"playbooks/checkin.yaml": CHECKIN}
    bot = await TestBot.create(playbooks, database=path)
    try:
        await bot.say("u1", "签到", room="r1")
    finally:
        await bot.close()
    bot = await TestBot.create(playbooks, database=path)
    try:
        await bot.advance(timedelta(days=1))
        answer = await bot.say("u1", "签到", room="r1")
    finally:
        await bot.close()
    assert len(answer) == 1


V1_TABLES = (
    "settings",
    "members",
    "rooms",
    "room_members",
    "seen_events",
    "points_ledger",
    "checkins",
    "once_marks",
    "cooldowns",
    "member_tags",
)


@pytest.mark.sqlite_only
async def test_a_version_1_database_is_stepped_up_keeping_its_points(tmp_path: Path) -> None:
    """A shop that ran the first release keeps its members' points when it upgrades."""
    path = tmp_path / "v1.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables[name] for name in V1_TABLES])
        conn.execute(insert(Setting.__table__).values(key="schema_version", value="1"))
        conn.execute(insert(Member.__table__).values(id="u1", name="小王", points=20, first_seen=AT))
        conn.execute(insert(PointsEntry.__table__).values(member_id="u1", delta=20, balance=20, reason="签到", at=AT))
    engine.dispose()

    store = await Store.open(str(path))
    try:
        async with store.unit() as conn:
            assert await balance(conn, "u1") == 20
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await store.close()
    assert set(SQLModel.metadata.tables) <= tables
    assert schema_version(path) == str(SCHEMA_VERSION)


@pytest.mark.sqlite_only
async def test_a_version_2_database_gets_the_broadcast_and_reload_tables(tmp_path: Path) -> None:
    """Last release's shops can /群发 and /重载 after upgrading, keeping their members."""
    path = tmp_path / "v2.db"
    engine = create_engine(f"sqlite:///{path}")
    new_tables = {"broadcasts", "reload_requests"}
    with engine.begin() as conn:
        old = [t for name, t in SQLModel.metadata.tables.items() if name not in new_tables]
        SQLModel.metadata.create_all(conn, tables=old)
        conn.exec_driver_sql("DROP INDEX ix_audit_at")
        conn.execute(insert(Setting.__table__).values(key="schema_version", value="2"))
        conn.execute(insert(Member.__table__).values(id="u1", name="小王", points=20, first_seen=AT))
    engine.dispose()

    await (await Store.open(str(path))).close()

    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert db.execute("SELECT points FROM members WHERE id = 'u1'").fetchone() == (20,)
    assert new_tables | {"ix_audit_at"} <= names  # an index missing from an old table is made too
    assert schema_version(path) == str(SCHEMA_VERSION)


@pytest.mark.sqlite_only
async def test_an_aiosqlite_url_keeps_the_asyncio_driver_and_the_same_behaviour(tmp_path: Path) -> None:
    """Operators may choose aiosqlite (the loop stays free during long queries): same store, same rules."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    try:
        async with store.unit() as conn:
            assert await activity.mark_seen(conn, "e1", AT)
            assert not await activity.mark_seen(conn, "e1", AT)
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    finally:
        await store.close()
    assert mode == "wal"


async def test_pruning_drops_old_event_ids_and_finished_messages_and_keeps_everything_still_needed(
    backend: Backend,
) -> None:
    from bot.store.housekeeping import OUTBOX_FOR, SEEN_FOR, prune
    from bot.store.tables import OutboxMessage

    now = AT + timedelta(days=365)
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:
            await activity.mark_seen(conn, "old", now - SEEN_FOR - timedelta(hours=1))
            await activity.mark_seen(conn, "recent", now - SEEN_FOR + timedelta(hours=1))
            rows = [
                {
                    "dedup_key": key,
                    "kind": "reply",
                    "priority": 0,
                    "event_id": key,
                    "state": state,
                    "created_at": now - age,
                    "not_before": now - age,
                }
                for key, state, age in [
                    ("old-sent", "sent", OUTBOX_FOR + timedelta(days=1)),
                    ("old-unknown", "unknown", OUTBOX_FOR + timedelta(days=1)),
                    ("old-pending", "pending", OUTBOX_FOR + timedelta(days=1)),
                    ("recent-sent", "sent", OUTBOX_FOR - timedelta(days=1)),
                ]
            ]
            await conn.execute(insert(OutboxMessage.__table__), rows)
        assert await prune(store, now) == 3
        async with store.unit() as conn:
            assert await activity.mark_seen(conn, "old", now)  # forgotten: a redelivery a month later acts again
            assert not await activity.mark_seen(conn, "recent", now)
            keys = (await conn.execute(select(OutboxMessage.dedup_key).order_by(OutboxMessage.dedup_key))).scalars()
            assert list(keys) == ["old-pending", "recent-sent"]
    finally:
        await store.close()
