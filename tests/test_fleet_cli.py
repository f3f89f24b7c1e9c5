"""`qunguan fleet`: each account's health and load, read from the shared database while the bots run, without
ever writing to it (nor creating it)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from backends import Backend
from sqlalchemy import delete, insert
from test_ability_tables import tables_in
from typer.testing import CliRunner

from bot.cli import app
from bot.clock import SystemClock, VirtualClock
from bot.config import DATABASE_ENV, load_config
from bot.fleet import presence
from bot.fleet.accounts import run_as
from bot.fleet.tables import SpeakerLease
from bot.outbox import status
from bot.outbox.rows import TABLE
from bot.store.tables import Room, Setting
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

FLEET = """
timezone: Asia/Shanghai
sending: {daily_limit: 400}
accounts:
  shop-a: {daily_limit: 150}
  shop-b: {}
fleet: {lease: 30s}
"""
HOSTILE = "[bold red]封号[/bold red] <img src=x onerror=alert(1)>"


async def _shop(tmp_path: Path, database: str) -> None:
    """shop-a online and speaking for two groups, with a queue and sends today; shop-b logged out two minutes ago;
    the governor paused."""
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")
    now = SystemClock().now()
    clock = VirtualClock(now - timedelta(minutes=2))
    bots = {}
    for name in ("shop-a", "shop-b"):
        config = run_as(load_config(str(tmp_path / "config.yaml"))[0], name)
        bots[name] = await TestBot.create({}, config=config, database=database, clock=clock)
    b = bots["shop-b"]
    assert b.bot.fleet is not None
    await b.bot.fleet.beat()
    async with b.engine.store.unit() as conn:
        await presence.mark(conn, "shop-b", "logged_out", clock.now(), reason=HOSTILE)
    clock.set(now)
    a = bots["shop-a"]
    assert a.bot.fleet is not None
    await a.bot.fleet.beat()
    async with a.engine.store.unit() as conn:
        for room, topic in (("r1", "一号群"), ("r2", "二号群")):
            await conn.execute(insert(Room.__table__).values(id=room, topic=topic, first_seen=now))
            lease = {"room_id": room, "account": "shop-a", "since": now, "expires_at": now + timedelta(seconds=30)}
            await conn.execute(insert(SpeakerLease.__table__).values(**lease))
        expired = {"room_id": "r3", "account": "shop-b", "since": now, "expires_at": now - timedelta(seconds=1)}
        await conn.execute(insert(SpeakerLease.__table__).values(**expired))
        rows = [("shop-a", "pending")] * 3 + [("shop-a", "sent")] * 5 + [("shop-b", "pending")] * 2
        rows += [("shop-b", "sent")]
        for i, (account, state) in enumerate(rows):
            sent_at = now - timedelta(minutes=1) if state == "sent" else None
            await conn.execute(
                insert(TABLE).values(
                    dedup_key=f"k{i}",
                    kind="reply",
                    priority=0,
                    event_id=f"e{i}",
                    created_at=now,
                    not_before=now,
                    state=state,
                    sent_at=sent_at,
                    account=account,
                )
            )
        until = (now + timedelta(minutes=10)).isoformat()
        breaker = {"breaker": "open", "until": until, "why": "微信提示操作过于频繁", "trips": 1}
        paused = status.key("shop-a")  # shop-a's own breaker: shop-b's sending goes on
        await conn.execute(delete(Setting.__table__).where(Setting.__table__.c.key == paused))
        await conn.execute(insert(Setting.__table__).values(key=paused, value=json.dumps(breaker)))
    for bot in bots.values():
        await bot.bot.crash()  # still running, as far as the database knows


def _fleet(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["fleet", "--config", str(tmp_path / "config.yaml"), *args])


def test_the_json_gives_each_account_s_health_and_load(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_ENV, backend.database)
    asyncio.run(_shop(tmp_path, backend.database))
    result = _fleet(tmp_path, "--json")
    assert result.exit_code == 0, result.output
    accounts = {a["account"]: a for a in json.loads(result.output)["accounts"]}
    a, b = accounts["shop-a"], accounts["shop-b"]
    assert (a["online"], a["status"], a["groups"], a["queue"], a["sent_today"], a["daily_limit"]) == (
        True,
        "online",
        2,
        3,
        5,
        150,
    )
    assert [r["topic"] for r in a["rooms"]] == ["一号群", "二号群"]
    assert a["heartbeat_ago"] < 60 and a["governor"]["paused"] is True
    assert (b["online"], b["status"], b["reason"], b["groups"], b["queue"], b["sent_today"], b["daily_limit"]) == (
        False,
        "logged_out",
        HOSTILE,
        0,
        2,
        1,
        400,
    )
    assert b["heartbeat_ago"] >= 120 and b["governor"]["paused"] is False


def test_the_table_shows_online_offline_heartbeat_groups_queue_sends_and_pause(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_ENV, backend.database)
    monkeypatch.setenv("COLUMNS", "240")
    asyncio.run(_shop(tmp_path, backend.database))
    result = _fleet(tmp_path)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "shop-" in line}
    cells_a = [cell.strip() for cell in lines["shop-a"].split("│")[1:-1]]
    cells_b = [cell.strip() for cell in lines["shop-b"].split("│")[1:-1]]
    assert cells_a[1] == "在线" and cells_a[3:6] == ["2", "3", "5/150"]
    assert cells_a[2].endswith("秒前）") and cells_a[6] == "暂停（微信提示操作过于频繁）"
    assert cells_b[1] == f"已掉线：{HOSTILE}"  # WeChat's words as they are, never read as markup
    assert cells_b[3:6] == ["0", "2", "1/400"]


def test_a_silent_account_is_offline(tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_ENV, backend.database)
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")

    async def silent() -> None:
        config = run_as(load_config(str(tmp_path / "config.yaml"))[0], "shop-a")
        clock = VirtualClock(SystemClock().now() - timedelta(seconds=31))
        bot = await TestBot.create({}, config=config, database=backend.database, clock=clock)
        assert bot.bot.fleet is not None
        await bot.bot.fleet.beat()
        await bot.bot.crash()

    asyncio.run(silent())
    accounts = json.loads(_fleet(tmp_path, "--json").output)["accounts"]
    assert [(a["account"], a["online"], a["status"]) for a in accounts] == [
        ("shop-a", False, "silent"),
        ("shop-b", False, "never"),
    ]


@pytest.mark.empty_database
def test_it_never_creates_a_database_nor_a_table(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_ENV, backend.database)
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")
    result = _fleet(tmp_path)
    assert result.exit_code == 2
    if backend.postgresql:
        assert "no fleet tables" in result.output
        assert asyncio.run(tables_in(backend.database)) == set()
    else:
        assert "no database" in result.output
        assert not Path(backend.database).exists()
