"""`qunguan backup FILE` / `qunguan restore FILE`: a round trip keeps every row of every table; SQLite's backup
is consistent while the bot writes; restore refuses a database in use, one that holds a shop (unless --force),
files that are not backups; a failed backup or restore leaves nothing half done."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backends import Backend, database_url
from click.testing import Result
from sqlalchemy import inspect
from transfer_rows import every_row, make_shop
from typer.testing import CliRunner

from bot.cli import app
from bot.store import Store
from bot.testing import TestBot
from bot.transfer import pg_tools

pytestmark = [pytest.mark.usefixtures("backend"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent


def _run(tmp_path: Path, *args: str) -> Result:
    config = tmp_path / "config.yaml"
    config.write_text("language: zh-CN\n", encoding="utf-8")
    return CliRunner().invoke(app, [*args, "--config", str(config)])


@pytest.fixture
def second(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Another database of the same backend, empty (for PostgreSQL a new database in the cluster)."""
    yield from database_url("postgresql" if backend.postgresql else "sqlite", tmp_path / "restored", request)


@pytest.fixture
def backup(backend: Backend, tmp_path: Path) -> Path:
    """A backup of a shop on the backend (the shop stays there to compare with)."""
    asyncio.run(make_shop(backend.database))
    file = tmp_path / "backups" / "shop.backup"
    file.parent.mkdir()
    done = _run(tmp_path, "backup", str(file), "--database", backend.database)
    assert done.exit_code == 0, done.output
    assert "已备份" in done.output
    return file


def test_a_backup_restored_into_an_empty_database_has_every_row_of_every_table(
    backend: Backend, tmp_path: Path, second: str, backup: Path
) -> None:
    file = backup
    done = _run(tmp_path, "restore", str(file), "--database", second)
    assert done.exit_code == 0, done.output
    assert "已从" in done.output
    assert asyncio.run(every_row(second)) == asyncio.run(every_row(backend.database))
    assert list(file.parent.iterdir()) == [file]  # no partial file left beside it


def test_restore_refuses_a_database_that_holds_a_shop_unless_forced(
    backend: Backend, tmp_path: Path, second: str, backup: Path
) -> None:
    file = backup
    asyncio.run(make_shop(second, members=2))  # another shop's rows where the backup should go
    theirs = asyncio.run(every_row(second))
    done = _run(tmp_path, "restore", str(file), "--database", second)
    assert done.exit_code == 2, done.output
    assert "没有做任何修改" in done.output and "--force" in done.output
    assert asyncio.run(every_row(second)) == theirs
    done = _run(tmp_path, "restore", str(file), "--database", second, "--force")
    assert done.exit_code == 0, done.output
    assert asyncio.run(every_row(second)) == asyncio.run(every_row(backend.database))


def test_restore_refuses_a_database_a_running_bot_has_open_even_when_forced(
    backend: Backend, tmp_path: Path, second: str, backup: Path
) -> None:
    file = backup

    async def while_running() -> tuple[Result, int]:
        async with TestBot.running(ROOT / "playbooks", database=second) as bot:
            await bot.say("u9", "签到", room="r1")
            done = await asyncio.to_thread(_run, tmp_path, "restore", str(file), "--database", second, "--force")
            return done, await bot.field("u9", "points")

    done, points = asyncio.run(while_running())
    assert done.exit_code == 2, done.output
    assert "（机器人还在运行？）：请先停止它" in done.output
    assert points > 0
    assert "u9" in {row[0] for row in asyncio.run(every_row(second))["members"]}


@pytest.mark.sqlite_only
def test_a_backup_taken_while_the_bot_writes_is_one_committed_state(tmp_path: Path) -> None:
    """Each write moves a point into the ledger and the member's total in one transaction: any backup taken
    between, during or after them has the two agreeing, and has every transaction committed before it."""
    database = tmp_path / "q.db"
    asyncio.run(make_shop(str(database)))
    writer = sqlite3.connect(database, isolation_level=None, timeout=10)
    writer.execute("BEGIN IMMEDIATE")
    _move_a_point(writer)  # half done: the ledger row is in, the member's total not yet
    first = tmp_path / "during.backup"
    assert _run(tmp_path, "backup", str(first), "--database", str(database)).exit_code == 0
    writer.execute("UPDATE members SET points = points + 1 WHERE id = 'u0'")
    writer.execute("COMMIT")  # committed, in the WAL file (not yet in the main file)
    second = tmp_path / "after.backup"
    assert _run(tmp_path, "backup", str(second), "--database", str(database)).exit_code == 0
    assert _ledger_and_total(first)[0] == _ledger_and_total(first)[1]
    assert _ledger_and_total(second) == (_ledger_and_total(first)[0] + 1,) * 2

    moved = threading.Event()
    stop = threading.Event()

    def keep_writing() -> None:
        conn = sqlite3.connect(database, isolation_level=None, timeout=10)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            _move_a_point(conn)
            conn.execute("UPDATE members SET points = points + 1 WHERE id = 'u0'")
            conn.execute("COMMIT")
            moved.set()
        conn.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        assert moved.wait(30)
        copies = [tmp_path / f"busy{n}.backup" for n in range(5)]
        for copy in copies:
            assert _run(tmp_path, "backup", str(copy), "--database", str(database)).exit_code == 0
    finally:
        stop.set()
        thread.join()
        writer.close()
    seen = [_ledger_and_total(copy) for copy in copies]
    assert all(ledger == total for ledger, total in seen), seen
    assert seen[-1][0] > _ledger_and_total(second)[0]  # the writes went on during the backups


def _move_a_point(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO points_ledger (member_id, delta, balance, reason, playbook_id, at) "
        "SELECT 'u0', 1, 0, 'test', '', at FROM points_ledger WHERE member_id = 'u0' LIMIT 1"
    )


def _ledger_and_total(file: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        ledger = conn.execute("SELECT sum(delta) FROM points_ledger WHERE member_id = 'u0'").fetchone()[0]
        total = conn.execute("SELECT points FROM members WHERE id = 'u0'").fetchone()[0]
        return int(ledger), int(total)
    finally:
        conn.close()


@pytest.mark.sqlite_only
def test_backup_and_restore_refuse_what_they_cannot_do_in_one_line(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    asyncio.run(make_shop(str(database)))
    existing = tmp_path / "existing.backup"
    existing.write_text("yesterday's", encoding="utf-8")
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello", encoding="utf-8")
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    sqlite_backup = tmp_path / "shop.backup"
    assert _run(tmp_path, "backup", str(sqlite_backup), "--database", str(database)).exit_code == 0
    cases = {
        ("backup", str(existing)): "已经存在：换一个文件名，或加 `--force` 覆盖它",
        ("backup", str(tmp_path / "no" / "folder.backup")): "没有文件夹",
        ("backup", str(tmp_path / "x.backup"), "--database", str(tmp_path / "typo.db")): "typo.db 没有数据库",
        ("restore", str(tmp_path / "missing.backup")): "missing.backup 没有备份文件",
        ("restore", str(not_a_backup)): "既不是 SQLite 数据库，也不是 `pg_dump` 自定义格式的文件",
        ("restore", str(foreign)): "不是群管的数据库",
        ("restore", str(sqlite_backup), "--database", "postgresql://x@127.0.0.1:1/x"): "请改用 `qunguan migrate --from",
    }
    for args, said in cases.items():
        if "--database" not in args:
            args = (*args, "--database", str(tmp_path / "target.db"))
        done = _run(tmp_path, *args)
        assert done.exit_code == 2, (args, done.output)
        assert said in done.output and "Traceback" not in done.output, (args, done.output)
    assert existing.read_text(encoding="utf-8") == "yesterday's"
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "target.db").exists()


@pytest.mark.sqlite_only
def test_pg_dump_gets_the_password_in_its_environment_never_on_its_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And an unreachable server is one line naming pg_dump, with no file left behind."""
    seen: list[tuple[list[str], dict[str, str]]] = []
    real = subprocess.run

    def watched(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        seen.append((command, options.get("env") or {}))
        return real(command, **options)

    monkeypatch.setattr(pg_tools.subprocess, "run", watched)
    file = tmp_path / "shop.backup"
    done = _run(tmp_path, "backup", str(file), "--database", "postgresql://shop:s3cret@127.0.0.1:1/shop")
    assert done.exit_code == 2, done.output
    assert "pg_dump 失败：" in done.output and "Connection refused" in done.output and "s3cret" not in done.output
    assert not file.exists() and list(tmp_path.glob("*.partial")) == []
    dumps = [(command, env) for command, env in seen if Path(command[0]).name == "pg_dump"]
    assert dumps and all("s3cret" not in " ".join(command) for command, _ in dumps)
    assert dumps[0][1]["PGPASSWORD"] == "s3cret" and dumps[0][1]["PGPORT"] == "1"


def test_a_restore_that_fails_half_way_leaves_the_target_as_it_was(
    backend: Backend, tmp_path: Path, second: str, backup: Path
) -> None:
    file = backup
    data = file.read_bytes()
    file.write_bytes(data[: len(data) * 2 // 3])  # a truncated copy
    done = _run(tmp_path, "restore", str(file), "--database", second)
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output

    async def tables() -> int:
        store = Store.connect(second)
        try:
            async with store.unit() as conn:
                return len(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await store.close()

    assert asyncio.run(tables()) == 0


@pytest.mark.sqlite_only  # reads the code only
def test_every_refusal_the_transfer_commands_write_has_a_chinese_form() -> None:
    """Like tests/test_i18n.py's check of the CLI's lines, for the messages bot/transfer/ raises."""
    from test_i18n import HOLE, Probe, _parts

    from bot.i18n.zh_cn import CATALOG, TERMS

    probe = Probe(CATALOG, TERMS)
    missing = []
    for file in sorted((ROOT / "bot" / "transfer").glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("TransferError", "StoreError")):
                continue
            parts = _parts(node.args[0]) if node.args else None
            if parts is None:
                continue  # passes on a message made elsewhere
            text = "".join(HOLE if p is None else p for p in parts)
            if probe.translate(text) is None:
                missing.append(f"{file.name}:{node.lineno}: {text!r}")
    assert missing == []
