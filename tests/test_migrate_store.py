"""Moving a shop's database (`qunguan migrate`), and several processes opening one empty database at once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from backends import Backend
from click.testing import Result
from sqlalchemy import Connection, Table, func, inspect, select, text
from sqlalchemy.exc import OperationalError
from transfer_rows import BIG, START, every_row, make_shop
from typer.testing import CliRunner

from bot.cli import app
from bot.store import Store
from bot.store.migrations import SCHEMA_VERSION, schema
from bot.testing import TestBot
from bot.transfer import copy

pytestmark = [pytest.mark.usefixtures("backend"), pytest.mark.empty_database, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
OPENERS = 4


async def _versions(database: str) -> list[str]:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            rows = await conn.execute(text("SELECT value FROM settings WHERE key = 'schema_version'"))
            return [str(v) for (v,) in rows]
    finally:
        await store.close()


async def test_several_stores_opening_one_empty_database_at_once_all_open_it(backend: Backend) -> None:
    """A fleet's first start: every process migrates the same empty database at the same moment."""
    results = await asyncio.gather(*(Store.open(backend.database) for _ in range(OPENERS)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    for store in results:
        if isinstance(store, Store):
            await store.close()
    assert failures == []
    assert len(await _versions(backend.database)) == 1


OPEN = """import asyncio, sys
from bot.store import Store
async def main():
    store = await Store.open(sys.argv[1])
    await store.close()
asyncio.run(main())
"""


@pytest.mark.slow
def test_several_processes_starting_on_one_empty_database_all_start(backend: Backend) -> None:
    env = {"PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, backend.database],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(OPENERS)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    assert [code for code, _ in outcomes] == [0] * OPENERS, outcomes
    assert len(asyncio.run(_versions(backend.database))) == 1


# -- qunguan migrate: the backend is the target; the source is a SQLite file, as a shop moving to PostgreSQL has.


def _config(tmp_path: Path, language: str = "zh-CN") -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"language: {language}\n", encoding="utf-8")
    return config


def _migrate(tmp_path: Path, *args: str, language: str = "zh-CN") -> Result:
    return CliRunner().invoke(app, ["migrate", *args, "--config", str(_config(tmp_path, language))])


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    source = tmp_path / "shop" / "qunguan.db"
    asyncio.run(make_shop(str(source)))
    return source


def test_migrate_moves_every_row_checks_every_table_and_the_bot_goes_on_there(
    backend: Backend, tmp_path: Path, shop: Path
) -> None:
    before = asyncio.run(every_row(str(shop)))
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database, "--batch", "4")
    assert done.exit_code == 0, done.output
    assert "完成：" in done.output and "不一致" not in done.output
    assert "members" in done.output and "points_ledger" in done.output
    assert asyncio.run(every_row(backend.database)) == before
    assert asyncio.run(every_row(str(shop))) == before  # the source is only read

    async def go_on() -> int:  # new rows get new ids (the sequences were moved past the copied ids)
        async with TestBot.running(
            ROOT / "playbooks", database=backend.database, start=START + timedelta(days=5)
        ) as bot:
            await bot.say("u0", "签到", room="r0")
            await bot.say("new", "签到", room="r0")
            return await bot.field("u1", "points")

    assert asyncio.run(go_on()) == BIG
    assert len(asyncio.run(every_row(backend.database))["points_ledger"]) == len(before["points_ledger"]) + 2


def test_migrate_speaks_english_when_config_says_so_and_takes_a_plain_postgresql_url(
    backend: Backend, tmp_path: Path, shop: Path
) -> None:
    plain = backend.database.replace("postgresql+asyncpg://", "postgresql://")  # as operators write it
    done = _migrate(tmp_path, "--from", str(shop), "--to", plain, language="en")
    assert done.exit_code == 0, done.output
    assert "every table's row count and column totals match" in done.output
    assert any(line.split()[:3] == ["table", "rows", "checks"] for line in done.output.splitlines())


def test_migrate_refuses_a_target_that_already_holds_a_shop_and_leaves_it_as_it_was(
    backend: Backend, tmp_path: Path, shop: Path
) -> None:
    assert _migrate(tmp_path, "--from", str(shop), "--to", backend.database).exit_code == 0
    asyncio.run(make_shop(backend.database, members=2))  # the target's bot ran on
    kept = asyncio.run(every_row(backend.database))
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database)
    assert done.exit_code == 2
    assert "没有做任何修改" in done.output and "目标数据库不是空的：表" in done.output
    assert "Traceback" not in done.output
    assert asyncio.run(every_row(backend.database)) == kept


def test_migrate_never_creates_a_missing_source(backend: Backend, tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "qunguan.db"
    done = _migrate(tmp_path, "--from", str(missing), "--to", backend.database)
    assert done.exit_code == 2
    assert f"{missing} 没有数据库" in done.output
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.sqlite_only  # the target is a new SQLite file
def test_a_failed_migrate_into_a_new_sqlite_file_leaves_no_file(
    tmp_path: Path, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(source: Connection, target: Connection, table: Table, batch: int = copy.BATCH) -> int:
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(copy, "copy_table", disk_full)
    target = tmp_path / "new.db"
    assert _migrate(tmp_path, "--from", str(shop), "--to", str(target)).exit_code == 2
    assert list(tmp_path.glob("new.db*")) == []


def test_a_check_that_differs_rolls_everything_back_and_exits_1(
    backend: Backend, tmp_path: Path, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = copy.copy_table

    def loses_a_row(source: Connection, target: Connection, table: Table, batch: int = copy.BATCH) -> int:
        if table.name != "points_ledger":
            return real(source, target, table, batch)
        rows = [dict(r._mapping) for r in source.execute(select(table))]
        target.execute(table.insert(), rows[1:])
        return len(rows) - 1

    monkeypatch.setattr(copy, "copy_table", loses_a_row)
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database)
    assert done.exit_code == 1, done.output
    assert "points_ledger" in done.output and "不一致：rows 18 != 17" in done.output
    assert "里的副本与来源不一致，已全部撤销" in done.output
    assert _shop_rows(backend.database) == -1  # not even the schema: it went in the same transaction


def _shop_rows(database: str) -> int:
    """Rows in the target outside its own schema version (0: nothing was copied), or -1 with no schema at all."""

    async def count() -> int:
        store = Store.connect(database)
        try:
            async with store.unit() as conn:
                if not await conn.run_sync(lambda c: inspect(c).has_table("settings")):
                    return -1
                total = 0
                for table in schema().sorted_tables:
                    total += (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                return total
        finally:
            await store.close()

    return asyncio.run(count())


def test_a_copy_failing_half_way_leaves_nothing_in_the_target_and_can_be_run_again(
    backend: Backend, tmp_path: Path, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (or a lost connection) after some tables and batches are in: the target shows none of them."""
    real = copy.copy_table

    def disk_full(source: Connection, target: Connection, table: Table, batch: int = copy.BATCH) -> int:
        if table.name == "points_ledger":
            target.execute(table.insert(), [dict(r._mapping) for r in source.execute(select(table).limit(3))])
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
        return real(source, target, table, batch)

    monkeypatch.setattr(copy, "copy_table", disk_full)
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database)
    assert done.exit_code == 2
    assert "复制表 points_ledger 时出错：database or disk is full；目标" in done.output
    assert _shop_rows(backend.database) == -1
    monkeypatch.undo()
    assert _migrate(tmp_path, "--from", str(shop), "--to", backend.database).exit_code == 0
    assert asyncio.run(every_row(backend.database)) == asyncio.run(every_row(str(shop)))


@pytest.mark.sqlite_only  # the targets are not the backend's
def test_migrate_refuses_bad_urls_and_unreachable_servers_in_one_line(tmp_path: Path, shop: Path) -> None:
    cases = {
        "mysql://root@localhost/shop": "不支持的数据库地址",
        "postgresql://nobody:secret@127.0.0.1:1/shop": "写入 postgresql+asyncpg://nobody:***@127.0.0.1:1/shop 时出错：",
        "postgresql://:::": "不是数据库地址",
    }
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE notes (x)").connection.close()
    cases[str(foreign)] = "目标：数据库里有表但没有结构版本"
    cases[str(shop)] = "来源和目标是同一个数据库"
    for target, said in cases.items():
        done = _migrate(tmp_path, "--from", str(shop), "--to", target)
        assert done.exit_code == 2, (target, done.output)
        assert said in done.output, done.output
        assert "secret" not in done.output and "Traceback" not in done.output
    done = _migrate(tmp_path, "--from", "postgresql://nobody:secret@127.0.0.1:1/shop", "--to", str(tmp_path / "t.db"))
    assert done.exit_code == 2, done.output
    assert (
        "读取 postgresql+asyncpg://nobody:***@127.0.0.1:1/shop 时出错：" in done.output and "secret" not in done.output
    )


def test_an_older_source_is_upgraded_in_a_copy_only(backend: Backend, tmp_path: Path, shop: Path) -> None:
    asyncio.run(_set_version(str(shop), SCHEMA_VERSION - 1))
    untouched = shop.read_bytes()
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database)
    assert done.exit_code == 0, done.output
    assert shop.read_bytes() == untouched
    assert asyncio.run(_versions(backend.database)) == [str(SCHEMA_VERSION)]


def test_a_newer_source_is_refused(backend: Backend, tmp_path: Path, shop: Path) -> None:
    asyncio.run(_set_version(str(shop), SCHEMA_VERSION + 1))
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database)
    assert done.exit_code == 2
    assert f"比当前群管（{SCHEMA_VERSION}）新" in done.output
    assert _shop_rows(backend.database) == -1


async def _set_version(database: str, version: int) -> None:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            await conn.execute(text("UPDATE settings SET value = :v WHERE key = 'schema_version'"), {"v": str(version)})
    finally:
        await store.close()
        for leftover in ("-wal", "-shm"):  # a closed database is one file: its bytes say whether it changed
            assert not Path(database + leftover).exists()


def test_a_value_the_target_cannot_hold_is_refused_naming_its_table(
    backend: Backend, tmp_path: Path, shop: Path
) -> None:
    """SQLite keeps any integer in an INTEGER column; PostgreSQL's INTEGER stops at 2**31 - 1."""
    asyncio.run(_set_points(str(shop), 2**40))
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database)
    if backend.postgresql:
        assert done.exit_code == 2
        assert "复制表 members 时出错：" in done.output and "out of int32 range" in done.output
        assert _shop_rows(backend.database) == -1
    else:
        assert done.exit_code == 0, done.output
        assert asyncio.run(every_row(backend.database))["members"] == asyncio.run(every_row(str(shop)))["members"]


async def _set_points(database: str, points: int) -> None:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            await conn.execute(text("UPDATE members SET points = :p WHERE id = 'u2'"), {"p": points})
    finally:
        await store.close()


@pytest.mark.slow
def test_a_migrate_killed_half_way_leaves_nothing_in_the_target_and_can_be_run_again(
    backend: Backend, tmp_path: Path, shop: Path
) -> None:
    """kill -9 once the first tables are in (a large one still to go): the target shows nothing of them."""
    writer = sqlite3.connect(shop)
    writer.executemany(
        "INSERT INTO seen_events (id, at) VALUES (?, '2026-11-23 09:00:00.000000')",
        ((f"bulk-{n}",) for n in range(200_000)),
    )
    writer.commit()
    writer.close()
    config = _config(tmp_path)
    command = [sys.executable, "-m", "bot", "migrate", "--from", str(shop), "--to", backend.database]
    process = subprocess.Popen(
        [*command, "--config", str(config)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    said = []
    for line in process.stdout:
        said.append(line)
        if "checkins" in line:  # rows are in the target's open transaction
            break
    process.kill()
    process.wait(timeout=60)
    assert any("已复制 checkins：18 行" in line for line in said), said
    assert _shop_rows(backend.database) == -1
    done = _migrate(tmp_path, "--from", str(shop), "--to", backend.database, "--batch", "5000")
    assert done.exit_code == 0, done.output
    assert "seen_events" in done.output and "200054" in done.output


def test_migrate_moves_a_shop_from_the_backend_into_a_new_sqlite_file(backend: Backend, tmp_path: Path) -> None:
    """PostgreSQL -> SQLite as well: a way back, and a copy to look at on a laptop."""
    asyncio.run(make_shop(backend.database))
    back = tmp_path / "back" / "qunguan.db"
    done = _migrate(tmp_path, "--from", backend.database, "--to", str(back))
    assert done.exit_code == 0, done.output
    assert asyncio.run(every_row(str(back))) == asyncio.run(every_row(backend.database))
