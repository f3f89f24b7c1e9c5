"""The database file itself: deleted or replaced while the bot runs, missing or unopenable for a command,
created private (0600, in 0700 folders)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _serve, app
from bot.clock import VirtualClock
from bot.config import Config, RoomSection
from bot.connectors.memory import MemoryConnector
from bot.events import MemberRef, MessageEvent, RoomRef
from bot.playbook.library import load_folder
from bot.store import Store, StoreError
from bot.store.database import DatabaseGone
from bot.testing import TestBot

pytestmark = pytest.mark.slow  # heavy by nature: kept out of the fast part (README)

ROOT = Path(__file__).resolve().parent.parent
CHECKIN = """
id: checkin
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - reply: "{{ member.name }} 签到成功"
"""
runner = CliRunner()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- deleted or replaced while running


async def test_a_database_file_deleted_while_running_stops_the_bot_before_more_is_lost(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    bot = await TestBot.create({"checkin": CHECKIN}, database=str(database))
    try:
        assert len(await bot.say("u1", "签到", room="r1")) == 1
        database.unlink()
        with pytest.raises(DatabaseGone) as caught:
            await bot.say("u2", "签到", room="r1", event_id="wx-2")
        assert str(caught.value).startswith(f"the database file {database} was deleted while the bot was running")
        assert "\n" not in str(caught.value)
        assert bot.bot.store.lost is caught.value
        with pytest.raises(DatabaseGone):  # every later unit of work refuses too: nothing goes into the lost file
            await bot.field("u1", "points")
        assert not database.exists()  # and nothing made a new, empty one
        (entry,) = [json.loads(x) for x in (tmp_path / "q.dead-letters.jsonl").read_text("utf-8").splitlines()]
        assert entry["event"]["id"] == "wx-2"  # the event that found it is kept for `qunguan replay`
    finally:
        await bot.close()


async def test_a_database_file_replaced_by_another_while_running_stops_the_bot(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    bot = await TestBot.create({"checkin": CHECKIN}, database=str(database))
    try:
        await bot.say("u1", "签到", room="r1")
        backup = tmp_path / "backup.db"
        with sqlite3.connect(database) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)
        os.replace(backup, database)  # e.g. a restore from a backup while the bot runs
        with pytest.raises(DatabaseGone, match="was replaced by another file while the bot was running"):
            await bot.say("u2", "签到", room="r1")
    finally:
        await bot.close()


class _Started(MemoryConnector):
    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def start(self, emit) -> None:  # type: ignore[no-untyped-def]
        await super().start(emit)
        self.started.set()


async def test_the_wechaty_run_path_stops_when_the_database_file_is_deleted(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "checkin.yaml").write_text(CHECKIN, "utf-8")
    database = tmp_path / "q.db"
    config = Config(rooms=[RoomSection(id="r1", topic="会员福利1群")])  # bound by id: real WeChat trusts no topic
    connector = _Started()
    serving = asyncio.create_task(
        _serve(config, load_folder(tmp_path / "playbooks"), str(database), connector, tmp_path / "playbooks")
    )
    await asyncio.wait({serving, asyncio.ensure_future(connector.started.wait())}, return_when="FIRST_COMPLETED")
    assert connector.emit is not None
    room, now = RoomRef("r1", "会员福利1群"), datetime.now(UTC)
    await connector.emit(MessageEvent("wx-1", now, MemberRef("u1", "小王"), "签到", room))
    assert [m.text for m in connector.sent] == ["小王 签到成功"]
    database.unlink()
    with pytest.raises(DatabaseGone):
        await connector.emit(MessageEvent("wx-2", now, MemberRef("u2", "小李"), "签到", room))
    with pytest.raises(DatabaseGone):
        await asyncio.wait_for(serving, 30)
    assert not database.exists()


@pytest.mark.slow
async def test_qunguan_run_exits_4_with_one_line_when_the_database_file_is_deleted(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "checkin.yaml").write_text(CHECKIN, "utf-8")
    (tmp_path / "config.yaml").write_text("database: q.db\nplaybooks: playbooks\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write("签到\n/who\n".encode())  # /who answers once the check-in is all done
        await proc.stdin.drain()
        transcript = []
        while not transcript or not transcript[-1].startswith("你是"):
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, f"the simulator ended early: {transcript}"
            transcript.append(line)
        assert any("签到成功" in line for line in transcript), transcript
        (tmp_path / "q.db").unlink()
        proc.stdin.write("签到\n".encode())
        await proc.stdin.drain()
        code = await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    errors = (await proc.stderr.read()).decode().splitlines()
    assert code == 4
    assert len(errors) == 1, errors
    assert "the database file" in errors[0] and "was deleted while the bot was running" in errors[0]
    assert "Traceback" not in errors[0]
    assert not (tmp_path / "q.db").exists()


# -- commands that only read never create a database


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the shipped playbooks, no config.yaml and no database: the wrong directory."""
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", [["audit"], ["reload", "--wait", "0"], ["replay"]])
def test_commands_that_need_a_database_say_there_is_none_and_create_nothing(
    elsewhere: Path, command: list[str]
) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"database error: no database at {elsewhere / 'data' / 'qunguan.db'}"
    assert not (elsewhere / "data").exists()


@pytest.mark.parametrize("command", [["audit"], ["reload", "--wait", "0"], ["replay"]])
def test_a_database_under_an_impossible_folder_is_one_line_for_commands_that_read(
    elsewhere: Path, command: list[str]
) -> None:
    (elsewhere / "config.yaml").write_text("database: /proc/nope/x.db\n", "utf-8")
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "database error: no database at /proc/nope/x.db"


def test_run_with_a_database_under_an_impossible_folder_is_one_line(elsewhere: Path) -> None:
    (elsewhere / "config.yaml").write_text("database: /proc/nope/x.db\n", "utf-8")
    result = runner.invoke(app, ["run"], input="")
    assert result.exit_code == 2, result.output
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith("database error: cannot create the folder /proc/nope for the database:")
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("what", ["garbage", "folder"])
def test_audit_on_a_database_that_cannot_be_opened_is_one_line(elsewhere: Path, what: str) -> None:
    path = elsewhere / "data" / "qunguan.db"
    path.parent.mkdir()
    if what == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a database, just text that happens to be here\n" * 100)
    result = runner.invoke(app, ["audit"])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"database error: cannot open database {path}: ")


async def test_store_open_without_create_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"^no database at "):
        await Store.open(str(tmp_path / "nope.db"), create=False)
    assert not (tmp_path / "nope.db").exists()


# -- private files


async def test_a_new_database_its_wal_and_shm_and_the_folders_made_for_it_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "data" / "q.db"
    store = await Store.open(str(path))
    try:
        async with store.unit() as conn:  # a write, so the WAL and SHM files exist
            await conn.exec_driver_sql("UPDATE settings SET value = value")
        assert {p.name: mode(p) for p in path.parent.iterdir()} == {
            "q.db": 0o600,
            "q.db-wal": 0o600,
            "q.db-shm": 0o600,
        }
        assert mode(tmp_path / "new") == mode(tmp_path / "new" / "data") == 0o700
    finally:
        await store.close()


async def test_a_new_file_another_process_is_setting_up_is_waited_for_not_refused(tmp_path: Path) -> None:
    """Two processes starting at once on a new file (a bot and `qunguan console`, or a fleet on one machine): the
    second finds the first switching the file to WAL or creating the tables, and waits through its clock."""
    file = tmp_path / "q.db"
    other = sqlite3.connect(file, isolation_level=None)  # the other process, half way through setting it up
    other.execute("BEGIN EXCLUSIVE")
    waits: list[float] = []

    class Released(VirtualClock):
        async def sleep(self, seconds: float) -> None:
            waits.append(seconds)
            if other.in_transaction:
                other.execute("COMMIT")  # the other process is done
            await super().sleep(seconds)

    store = await Store.open(str(file), clock=Released(datetime(2026, 12, 2, tzinfo=UTC)))
    try:
        async with store.unit() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        await store.close()
        other.close()
    assert waits  # it waited instead of failing with 'database is locked'
