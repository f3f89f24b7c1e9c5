"""In a fleet the database's playbook versions are the source of truth: /重载 on any process stores a set of
versions and every other process swaps the same set in on its next heartbeat, from the database and not from its
own folder; switches (/启用 /停用) and bindings (/绑定 /解绑) reach every process within a heartbeat too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from backends import Backend
from sqlalchemy import select
from test_console_playbooks import Web
from typer.testing import CliRunner

from bot.cli import app
from bot.clock import VirtualClock
from bot.config import Config, load_config
from bot.console.app import create_app
from bot.console.guard import Console
from bot.events import Outgoing, RoomRef
from bot.fleet.accounts import run_as
from bot.playbook.fallback import digest
from bot.reload import request_reload, share_folder
from bot.store import Store
from bot.store.tables import ReloadRequest
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
FLEET = """
staff: {owner: [boss], admin: [mgr]}
web: {public_url: "https://shop.example.cn"}
accounts:
  shop-a: {}
  shop-b: {}
"""


def hello(answer: str) -> str:
    return f'id: hello\nwhen:\n  - message: {{text: 你好}}\ndo:\n  - reply: "{answer}"\n'


def folder(root: Path, name: str, answer: str) -> Path:
    path = root / name
    path.mkdir(exist_ok=True)
    (path / "hello.yaml").write_text(hello(answer), "utf-8")
    return path


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


@pytest.fixture
async def bots() -> AsyncIterator[list[TestBot]]:
    made: list[TestBot] = []
    yield made
    for bot in made:
        await bot.close()


def fleet_config(tmp_path: Path) -> Config:
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")
    return load_config(str(tmp_path / "config.yaml"))[0]


async def start(
    tmp_path: Path, backend: Backend, made: list[TestBot], account: str, playbooks: Path, **options: object
) -> TestBot:
    clock = made[0].clock if made else VirtualClock(START)
    config = run_as(fleet_config(tmp_path), account)
    bot = await TestBot.create(playbooks, config=config, database=backend.database, clock=clock, **options)
    made.append(bot)
    return bot


async def beat(bot: TestBot) -> None:
    assert bot.bot.fleet is not None
    await bot.bot.fleet.beat()


async def test_a_reload_on_one_process_reaches_the_other_from_the_database_not_its_folder(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    a = await start(tmp_path, backend, bots, "shop-a", folder(tmp_path, "a", "一号"))
    # shop-b's machine has an older copy of the folder: the fleet's versions win over it at start-up
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "旧的"))
    assert texts(await b.say("u1", "你好", room="r2")) == ["一号"]
    folder(tmp_path, "a", "二号")
    assert texts(await a.say("mgr", "/重载")) == ["已重载：1 个剧本在运行"]
    assert texts(await a.say("u1", "你好", room="r1")) == ["二号"]
    assert texts(await b.say("u2", "你好", room="r2")) == ["一号"]  # until its next heartbeat
    await beat(b)
    assert texts(await b.say("u3", "你好", room="r2")) == ["二号"]
    await beat(b)  # nothing new: nothing swapped again
    assert texts(await b.say("u4", "你好", room="r2")) == ["二号"]


async def test_a_console_save_on_one_process_reaches_the_other(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    a = await start(tmp_path, backend, bots, "shop-a", folder(tmp_path, "a", "一号"))
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "一号"))
    console = Console(a.bot.store, a.bot.config, a.clock, tmp_path / "a")
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        web = await Web(a, client).as_("mgr")
        edit = {"text": hello("五号"), "base": digest(hello("一号"))}
        saved = await web.write("PUT", "/api/playbooks/hello.yaml", edit)
        assert saved.status_code == 200, saved.text
    await beat(b)
    assert texts(await b.say("u1", "你好", room="r2")) == ["五号"]


async def test_a_file_removed_by_a_reload_stops_on_every_process(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    path = folder(tmp_path, "a", "一号")
    (path / "bye.yaml").write_text('id: bye\nwhen:\n  - message: {text: 再见}\ndo:\n  - reply: "再见～"\n', "utf-8")
    a = await start(tmp_path, backend, bots, "shop-a", path)
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "一号"))
    assert texts(await b.say("u1", "再见", room="r2")) == ["再见～"]
    (path / "bye.yaml").unlink()
    assert texts(await a.say("mgr", "/重载")) == ["已重载：1 个剧本在运行\n去掉：bye"]
    await beat(b)
    assert texts(await b.say("u2", "再见", room="r2")) == []


async def test_the_first_process_of_a_fleet_loads_its_folder(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "乙"))
    a = await start(tmp_path, backend, bots, "shop-a", folder(tmp_path, "a", "甲"))
    assert texts(await a.say("u1", "你好", room="r1")) == ["乙"]
    assert texts(await b.say("u1", "你好", room="r2")) == ["乙"]


async def test_a_switch_on_one_process_reaches_the_other_within_a_heartbeat(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    a = await start(tmp_path, backend, bots, "shop-a", folder(tmp_path, "a", "一号"))
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "一号"))
    assert texts(await a.say("mgr", "/停用 hello")) == ["已停用剧本「hello」（hello），重启后也保持"]
    await beat(b)
    assert texts(await b.say("u1", "你好", room="r2")) == []
    await a.say("mgr", "/启用 hello")
    await beat(b)
    assert texts(await b.say("u2", "你好", room="r2")) == ["一号"]


async def test_a_binding_on_one_process_reaches_the_other_within_a_heartbeat(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    a = await start(tmp_path, backend, bots, "shop-a", folder(tmp_path, "a", "一号"), trust_rooms=False)
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "一号"), trust_rooms=False)
    group = RoomRef("r1", "会员福利1群")  # shop-a's group; shop-b would take it over if shop-a fell silent
    assert "绑定" in "".join(texts(await a.say("boss", "/绑定", room="r1")))
    assert texts(await a.say("u1", "你好", room="r1")) == ["一号"]
    assert not b.engine.rooms.manages(group)
    await beat(b)
    assert b.engine.rooms.manages(group)
    await a.say("boss", "/解绑", room="r1")
    await beat(b)
    assert not b.engine.rooms.manages(group)


async def test_qunguan_reload_is_answered_by_each_account_s_process_with_the_versions_it_stored(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    a = await start(tmp_path, backend, bots, "shop-a", folder(tmp_path, "a", "一号"))
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "一号"))
    edited = folder(tmp_path, "cli", "三号")  # the folder of the machine `qunguan reload` runs on
    stored = await share_folder(a.bot.store, a.bot.config, edited, a.clock.now())
    assert stored.clean
    async with a.bot.store.unit() as conn:
        ids = await request_reload(conn, a.clock.now(), ["shop-a", "shop-b"])
    for bot in (a, b):
        assert bot.engine.reloader is not None
        await bot.engine.reloader.poll()
    table = ReloadRequest.__table__
    rows = await a.rows(select(table.c.account, table.c.result).where(table.c.id.in_(ids)).order_by(table.c.id))
    assert [(row.account, row.result) for row in rows] == [
        ("shop-a", "reloaded: 1 playbook(s) running"),
        ("shop-b", "reloaded: 1 playbook(s) running"),
    ]
    assert texts(await a.say("u1", "你好", room="r1")) == ["三号"]
    assert texts(await b.say("u1", "你好", room="r2")) == ["三号"]


def test_qunguan_reload_in_a_fleet_stores_the_versions_and_names_each_account(tmp_path: Path, backend: Backend) -> None:
    edited = folder(tmp_path, "playbooks", "四号")
    config = tmp_path / "config.yaml"
    config.write_text(f"{FLEET}\ndatabase: '{backend.database}'\nplaybooks: {edited}\n", "utf-8")
    asyncio.run(_create(backend.database))
    result = CliRunner().invoke(app, ["reload", "--config", str(config), "--wait", "0"])
    assert result.exit_code == 0, result.output
    assert "账号 shop-a：0 秒内没有回应（没在运行？它启动时会加载这些版本）" in result.output
    assert "账号 shop-b：" in result.output


async def _create(database: str) -> None:
    store = await Store.open(database)
    await store.close()


async def test_a_request_of_no_account_is_taken_by_one_process_and_followed_by_the_others(
    tmp_path: Path, backend: Backend, bots: list[TestBot]
) -> None:
    """A console run on its own leaves a request of no account: one process re-reads its folder, never each."""
    a = await start(tmp_path, backend, bots, "shop-a", folder(tmp_path, "a", "一号"))
    b = await start(tmp_path, backend, bots, "shop-b", folder(tmp_path, "b", "一号"))
    folder(tmp_path, "a", "六号")  # saved by a console beside shop-a
    folder(tmp_path, "b", "别的")  # shop-b's folder is not an input here
    async with a.bot.store.unit() as conn:
        (request,) = await request_reload(conn, a.clock.now())
    for bot in (a, b):
        assert bot.engine.reloader is not None
        await bot.engine.reloader.poll()
    table = ReloadRequest.__table__
    (row,) = await a.rows(select(table.c.result).where(table.c.id == request))
    assert row.result == "reloaded: 1 playbook(s) running"
    assert texts(await a.say("u1", "你好", room="r1")) == ["六号"]
    assert texts(await b.say("u1", "你好", room="r2")) == ["六号"]
