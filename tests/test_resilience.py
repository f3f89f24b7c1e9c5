"""Nothing lost when the database is briefly unusable: another process holds SQLite's write lock, the disk is
full. Events are held in order and tried again through the clock; past `store.retry_for` they go to the
dead-letter file, and `qunguan replay` brings them in, once."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from store_faults import FullDisk, write_lock
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.events import Outgoing
from bot.testing import TestBot

CHECKIN = """
id: checkin
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - reply: "{{ member.name }} 签到成功，共 {{ member.points }} 分"
"""


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def checkins(path: Path) -> list[str]:
    """Who has checked in, read by another connection (WAL readers are not blocked by the write lock)."""
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT member_id FROM checkins ORDER BY id")]


def intake_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "qunguan.intake" and r.levelno == logging.WARNING]


async def test_checkins_during_another_process_write_lock_all_happen_in_order_once_it_is_released(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    database = tmp_path / "q.db"
    async with TestBot.running({"checkin": CHECKIN}, database=str(database)) as bot:
        assert texts(await bot.say("u0", "签到", room="r1")) == ["u0 签到成功，共 5 分"]
        with write_lock(database):
            assert await bot.say("u1", "签到", room="r1", event_id="wx-1") == []
            assert await bot.say("u2", "签到", room="r1") == []
            assert await bot.say("u1", "签到", room="r1", event_id="wx-1") == []  # the platform redelivers it
            assert await bot.say("u3", "签到", room="r1") == []
            assert checkins(database) == ["u0"]
        # The lock is gone, but a new event still waits for those before it.
        assert await bot.say("u4", "签到", room="r1") == []
        sent = await bot.advance(timedelta(minutes=1))
        assert texts(sent) == [f"u{i} 签到成功，共 5 分" for i in (1, 2, 3, 4)]
        assert checkins(database) == ["u0", "u1", "u2", "u3", "u4"]
        assert texts(await bot.say("u5", "签到", room="r1")) == ["u5 签到成功，共 5 分"]
    started, ended = intake_warnings(caplog)  # one when the trouble starts, one when it ends: not one per retry
    assert "database is locked" in started and "held" in started
    assert "again" in ended and "4 held event(s) handled" in ended
    assert not (tmp_path / "q.dead-letters.jsonl").exists()


async def test_checkins_when_the_disk_is_full_are_held_and_all_happen_once_space_is_freed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "q.db"
    async with TestBot.running({"checkin": CHECKIN}, database=str(database)) as bot:
        await bot.say("u0", "签到", room="r1")
        disk = FullDisk(bot.bot.store.engine, database)
        said: list[str] = []
        answered: list[str] = []
        for i in range(1, 500):  # members keep checking in until a write needs a page the disk does not have
            said.append(f"m{i}")
            answered += texts(await bot.say(f"m{i}", "签到", room="r1"))
            if intake_warnings(caplog):
                break
        else:
            pytest.fail("the disk never filled up")
        assert "database or disk is full" in intake_warnings(caplog)[0]
        for i in range(len(said) + 1, len(said) + 4):  # those after it wait for it
            said.append(f"m{i}")
            assert await bot.say(f"m{i}", "签到", room="r1") == []
        disk.free()
        answered += texts(await bot.advance(timedelta(minutes=1)))
    assert answered == [f"{m} 签到成功，共 5 分" for m in said]  # one answer each, in order
    assert checkins(database) == ["u0", *said]  # each once: nothing half-written by the failed tries
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM points_ledger").fetchone()[0] == len(said) + 1
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == len(said) + 1


NOTE = """
id: note
when:
  - message: {text: 记一笔}
do:
  - points: {add: 1, reason: "%s"}
  - reply: "记好了，共 {{ member.points }} 分"
""" % ("长" * 3000)  # a reason longer than a page: its ledger row needs new pages


TALLY = """
id: tally
when:
  - message: {text: 记一笔}
do:
  - points: {add: 10, reason: 记账}
"""


async def test_a_full_disk_inside_a_playbook_does_not_commit_the_event_without_the_playbook_writes(
    tmp_path: Path,
) -> None:
    """A playbook's savepoint must not turn 'the disk is full' into 'this playbook failed' and commit the rest of
    the event: its id marked seen, and the writes of the playbooks after it (SQLite has rolled the transaction
    back by then, so they would commit one by one and count again when the event is tried again)."""
    database = tmp_path / "q.db"
    async with TestBot.running({"a-note": NOTE, "b-tally": TALLY}, database=str(database)) as bot:
        assert texts(await bot.say("u1", "记一笔", room="r1")) == ["记好了，共 1 分"]
        assert await bot.field("u1", "points") == 11
        disk = FullDisk(bot.bot.store.engine, database)
        assert await bot.say("u1", "记一笔", room="r1", event_id="wx-2") == []
        with sqlite3.connect(database) as db:
            assert db.execute("SELECT count(*) FROM seen_events WHERE id = 'wx-2'").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM points_ledger").fetchone() == (2,)
        disk.free()
        assert texts(await bot.advance(timedelta(minutes=1))) == ["记好了，共 12 分"]
        assert await bot.field("u1", "points") == 22


def shop(tmp_path: Path, retry_for: str = "2m", room: str = "{id: r1}") -> Path:
    """A folder with a check-in playbook and a config.yaml naming the database, the group and the retry time."""
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "checkin.yaml").write_text(CHECKIN, "utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: q.db\nplaybooks: playbooks\nrooms:\n  - {room}\nstore:\n  retry_for: {retry_for}\n", "utf-8"
    )
    return config


def replay(*args: str) -> Any:
    return CliRunner().invoke(app, ["replay", *args])


async def test_events_still_not_stored_after_retry_for_go_to_the_dead_letter_file_and_replay_brings_them_in_once(
    tmp_path: Path,
) -> None:
    config_file = shop(tmp_path, retry_for="2m")
    config, _ = load_config(str(config_file))
    database, letters = tmp_path / "q.db", tmp_path / "q.dead-letters.jsonl"
    bot = await TestBot.create(tmp_path / "playbooks", config=config, database=str(database), governor=True)
    try:
        await bot.say("u0", "签到", room="r1")
        await bot.advance(timedelta(minutes=1))
        with write_lock(database):
            assert await bot.say("u1", "签到", room="r1", event_id="wx-1") == []
            assert await bot.say("u2", "签到", room="r1", event_id="wx-2") == []
            await bot.advance(timedelta(minutes=1))
            assert not letters.exists()  # still within the configured two minutes
            await bot.advance(timedelta(minutes=2))
        lines = [json.loads(line) for line in letters.read_text("utf-8").splitlines()]
        assert [entry["event"]["id"] for entry in lines] == ["wx-1", "wx-2"]
        assert all("database is locked" in entry["reason"] and entry["at"] for entry in lines)
        assert lines[0]["event"]["sender"] == {"id": "u1", "name": "u1", "friend": True}  # as the connector said
        assert lines[0]["event"]["text"] == "签到"
        assert stat.S_IMODE(letters.stat().st_mode) == 0o600
        assert checkins(database) == ["u0"]

        copy = tmp_path / "copy.jsonl"
        copy.write_bytes(letters.read_bytes())
        first = await asyncio.to_thread(replay, "--config", str(config_file))
        assert first.exit_code == 0, first.output
        assert first.output.splitlines()[-1] == "2 replayed, 0 duplicate(s), 0 failed again"
        assert "replayed: message wx-1 from u1 in r1" in first.output
        assert not letters.exists()  # nothing left to replay
        again = await asyncio.to_thread(replay, str(copy), "--config", str(config_file))
        assert again.exit_code == 0, again.output
        assert again.output.splitlines()[-1] == "0 replayed, 2 duplicate(s), 0 failed again"
        nothing = await asyncio.to_thread(replay, "--config", str(config_file))
        assert nothing.exit_code == 0 and "nothing to replay" in nothing.output

        assert checkins(database) == ["u0", "u1", "u2"]
        with sqlite3.connect(database) as db:
            replies = db.execute("SELECT text FROM outbox WHERE event_id IN ('wx-1', 'wx-2') ORDER BY id").fetchall()
        assert replies == [("u1 签到成功，共 5 分",), ("u2 签到成功，共 5 分",)]
        # The running bot sends what the replay queued.
        assert texts(await bot.advance(timedelta(minutes=1))) == ["u1 签到成功，共 5 分", "u2 签到成功，共 5 分"]
    finally:
        await bot.close()


async def test_replay_says_what_it_cannot_read_keeps_it_and_exits_1(tmp_path: Path) -> None:
    config_file = shop(tmp_path)
    config, _ = load_config(str(config_file))
    await (await TestBot.create(tmp_path / "playbooks", config=config, database=str(tmp_path / "q.db"))).close()
    letters = tmp_path / "q.dead-letters.jsonl"
    good = {
        "at": "2026-11-23T01:00:00+00:00",
        "reason": "database is locked",
        "event": {
            "kind": "message",
            "id": "wx-9",
            "at": "2026-11-23T01:00:00+00:00",
            "sender": {"id": "u9", "name": "小九"},
            "text": "签到",
            "room": {"id": "r1", "topic": "会员福利1群"},
            "mentions": [],
            "mentions_bot": False,
        },
    }
    letters.write_text("not json\n" + json.dumps(good, ensure_ascii=False) + "\n", "utf-8")
    result = await asyncio.to_thread(replay, "--config", str(config_file))
    assert result.exit_code == 1
    assert "line 1: not a dead letter" in result.output
    assert (
        result.output.splitlines()[-1]
        == f"1 replayed, 0 duplicate(s), 1 failed again (kept in {letters} for the next replay)"
    )
    assert letters.read_text("utf-8") == "not json\n"  # what failed stays for the next replay
    assert checkins(tmp_path / "q.db") == ["u9"]


async def test_replay_of_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    config_file = shop(tmp_path)
    result = await asyncio.to_thread(replay, str(tmp_path / "nope.jsonl"), "--config", str(config_file))
    assert result.exit_code == 2
    assert result.output.strip() == f"no dead-letter file at {tmp_path / 'nope.jsonl'}"


async def test_a_replay_manages_groups_as_the_bot_that_could_not_store_the_event(tmp_path: Path) -> None:
    """The simulator and tests count config.yaml's group names as bound; real WeChat needs a binding by id. A
    replay of the simulator's dead letters runs their check-ins, as the simulator would have."""
    config_file = shop(tmp_path, room="{topic: 会员福利1群}")
    config, _ = load_config(str(config_file))
    database = tmp_path / "q.db"
    bot = await TestBot.create(tmp_path / "playbooks", config=config, database=str(database))
    bot.room("r1", "会员福利1群")
    await bot.say("u0", "签到", room="r1")
    with write_lock(database):
        assert await bot.say("u1", "签到", room="r1") == []
        await bot.close()
    result = await asyncio.to_thread(replay, "--config", str(config_file))
    assert result.exit_code == 0, result.output
    assert checkins(database) == ["u0", "u1"]


async def test_events_held_when_the_bot_stops_go_to_the_dead_letter_file(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    bot = await TestBot.create({"checkin": CHECKIN}, database=str(database))
    await bot.say("u0", "签到", room="r1")
    with write_lock(database):
        assert await bot.say("u1", "签到", room="r1", event_id="wx-1") == []
        await bot.close()
    (entry,) = [json.loads(line) for line in (tmp_path / "q.dead-letters.jsonl").read_text("utf-8").splitlines()]
    assert entry["event"]["id"] == "wx-1"
    assert "stopped" in entry["reason"] and "database is locked" in entry["reason"]


async def test_an_event_that_cannot_even_be_written_to_the_dead_letter_file_is_logged_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "q.db"
    (tmp_path / "q.dead-letters.jsonl").mkdir()  # something in the way: the file cannot be written
    bot = await TestBot.create({"checkin": CHECKIN}, database=str(database))
    await bot.say("u0", "签到", room="r1")
    with write_lock(database):
        await bot.say("u1", "一段要留下的话", room="r1", event_id="wx-1")
        await bot.close()
    (line,) = [r for r in caplog.records if r.levelno == logging.ERROR and "wx-1" in r.getMessage()]
    assert "一段要留下的话" in line.getMessage() and '"sender": {"id": "u1"' in line.getMessage()
