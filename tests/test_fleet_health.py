"""Health outside WeChat: an account that logs out, cannot log in or stops heartbeating is told to the group robots
of `alerts.webhooks` (a real HTTP server on 127.0.0.1 here), once across the fleet and again only after
`alerts.repeat_after`; a robot that is down never stops the bot, and its address (with its key) is never logged."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import select

from bot.app import Bot
from bot.clock import VirtualClock
from bot.config import Config, load_config
from bot.connectors.wechaty import ConnectorError, WechatyConnector
from bot.fleet.accounts import run_as
from bot.fleet.health import Health
from bot.fleet.tables import AccountPresence
from bot.playbook.library import PlaybookSet
from bot.store import Store
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

START = datetime(2026, 12, 2, 10, 31, tzinfo=ZoneInfo("Asia/Shanghai"))
FORMATS = ("wecom", "dingtalk", "feishu", "json")
KEY = "robot-key-0123456789"  # what a real robot's address carries: never in a log line
FLEET = """
timezone: Asia/Shanghai
accounts: {shop-a: {}, shop-b: {}, shop-c: {}}
fleet: {lease: 30s, heartbeat: 5s}
alerts:
  repeat_after: 5m
  webhooks:
""" + "".join(f"    - {{format: {f}, url_env: QG_ROBOT_{f.upper()}}}\n" for f in FORMATS)


class Robot:
    """Group robots on 127.0.0.1: every POST's path and JSON body, answered with `status` and `answer`."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.status = 200
        self.answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = next(int(line.split(":")[1]) for line in head if line.lower().startswith("content-length:"))
        body = await reader.readexactly(length)
        self.posts.append((head[0].split(" ")[1].split("?")[0], json.loads(body)))
        answer = json.dumps(self.answer).encode()
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\nContent-Length: {len(answer)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + answer
        )
        await writer.drain()
        writer.close()

    def paths(self) -> list[str]:
        return [path for path, _body in self.posts]

    def body(self, path: str) -> Any:
        bodies = [body for at, body in self.posts if at == path]
        assert len(bodies) == 1, bodies
        return bodies[0]


@pytest.fixture
async def robot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Robot]:
    robot = Robot()
    server = await asyncio.start_server(robot.serve, "127.0.0.1", 0)
    robot.port = server.sockets[0].getsockname()[1]
    for f in FORMATS:
        monkeypatch.setenv(f"QG_ROBOT_{f.upper()}", f"http://127.0.0.1:{robot.port}/{f}?key={KEY}")
    yield robot
    server.close()
    await server.wait_closed()


def _config(tmp_path: Path, account: str, text: str = FLEET) -> Config:
    (tmp_path / "config.yaml").write_text(text, "utf-8")
    return run_as(load_config(str(tmp_path / "config.yaml"))[0], account)


def health(bot: TestBot | Bot) -> Health:
    fleet = (bot.bot if isinstance(bot, TestBot) else bot).fleet
    assert fleet is not None
    return dict(fleet.duties)["health"].__self__  # type: ignore[attr-defined]


class Fleet:
    """Accounts on one database and one virtual clock, beating together as their processes would."""

    def __init__(self, bots: dict[str, TestBot], clock: VirtualClock) -> None:
        self.bots = bots
        self.clock = clock

    @classmethod
    async def start(cls, tmp_path: Path, backend: Backend, names: tuple[str, ...]) -> Fleet:
        clock = VirtualClock(START)
        bots = {}
        for name in names:
            config = _config(tmp_path, name)
            bots[name] = await TestBot.create({}, config=config, database=backend.database, clock=clock)
        return cls(bots, clock)

    async def beat(self, *names: str) -> None:
        """These processes beat at once (the others are silent); then their alerts are out."""
        await asyncio.gather(*(self._fleet(name).beat() for name in names))
        await asyncio.gather(*(health(self.bots[name]).settle() for name in names))

    async def run(self, seconds: int, *names: str, step: int = 5) -> None:
        for _ in range(seconds // step):
            self.clock.set(self.clock.now() + timedelta(seconds=step))
            await self.beat(*names)

    def _fleet(self, name: str) -> Any:
        return self.bots[name].bot.fleet

    async def close(self) -> None:
        for bot in self.bots.values():
            await bot.close()


@pytest.fixture
async def fleet(tmp_path: Path, backend: Backend) -> AsyncIterator[Fleet]:
    fleet = await Fleet.start(tmp_path, backend, ("shop-a", "shop-b", "shop-c"))
    yield fleet
    await fleet.close()


async def test_each_robot_gets_the_alert_in_its_own_format(robot: Robot, fleet: Fleet) -> None:
    await fleet.beat("shop-a", "shop-b", "shop-c")
    await fleet.run(30, "shop-a", "shop-b")
    text = (
        f"【群管】微信号 shop-c 的进程已 30 秒没有心跳（最后一次 12-02 10:31，主机 {socket.gethostname()}），"
        "它的群将由其他微信号接管，请检查进程和网络"
    )
    assert sorted(robot.paths()) == sorted(f"/{f}" for f in FORMATS)
    assert robot.body("/wecom") == {"msgtype": "text", "text": {"content": text}}
    assert robot.body("/dingtalk") == {"msgtype": "text", "text": {"content": text}}
    assert robot.body("/feishu") == {"msg_type": "text", "content": {"text": text}}
    assert robot.body("/json") == {
        "account": "shop-c",
        "status": "silent",
        "reason": "",
        "at": START.astimezone(ZoneInfo("UTC")).isoformat(),
        "text": text,
    }


async def test_a_silent_account_is_told_once_by_two_watchers_again_after_repeat_after_and_when_back(
    robot: Robot, fleet: Fleet
) -> None:
    await fleet.beat("shop-a", "shop-b", "shop-c")
    await fleet.run(25, "shop-a", "shop-b")
    assert robot.posts == []  # 25 s without a heartbeat is within the lease
    await fleet.run(5, "shop-a", "shop-b")
    assert robot.paths().count("/json") == 1
    await fleet.run(295, "shop-a", "shop-b")  # 5 minutes after the alert, less one beat
    assert robot.paths().count("/json") == 1
    await fleet.run(5, "shop-a", "shop-b")
    told = [body for path, body in robot.posts if path == "/json"]
    assert [(b["account"], b["status"]) for b in told] == [("shop-c", "silent"), ("shop-c", "silent")]
    assert "330 秒没有心跳" in told[1]["text"]
    await fleet.run(5, "shop-a", "shop-b", "shop-c")
    await fleet.run(60, "shop-a", "shop-b", "shop-c")
    told = [body for path, body in robot.posts if path == "/json"]
    assert [b["status"] for b in told] == ["silent", "silent", "recovered"]
    assert told[2]["text"] == "【群管】微信号 shop-c 已恢复在线（12-02 10:36）"


async def test_an_account_that_stopped_cleanly_is_not_an_alarm_and_is_online_when_it_starts_again(
    robot: Robot, tmp_path: Path, backend: Backend
) -> None:
    clock = VirtualClock(START)
    a = await TestBot.create({}, config=_config(tmp_path, "shop-a"), database=backend.database, clock=clock)
    b = await TestBot.create({}, config=_config(tmp_path, "shop-b"), database=backend.database, clock=clock)
    await health_beat(a, b)
    await b.close()  # a clean stop: offline at once, nobody need be told
    fleet = Fleet({"shop-a": a}, clock)
    await fleet.run(120, "shop-a")
    assert robot.posts == []
    b = await TestBot.create({}, config=_config(tmp_path, "shop-b"), database=backend.database, clock=clock)
    await health_beat(b)
    assert await _presence(backend.database) == {"shop-a": ("online", ""), "shop-b": ("online", "")}
    await a.close()
    await b.close()


async def health_beat(*bots: TestBot) -> None:
    for bot in bots:
        assert bot.bot.fleet is not None
        await bot.bot.fleet.beat()
        await health(bot).settle()


async def _presence(database: str) -> dict[str, tuple[str, str]]:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            rows = (await conn.execute(select(AccountPresence.__table__))).all()
    finally:
        await store.close()
    return {row.account: (row.status, row.reason) for row in rows}


async def _wechaty_bot(tmp_path: Path, backend: Backend, clock: VirtualClock, endpoint: str) -> Bot:
    connector = WechatyConnector(endpoint=endpoint, token="t0ken", cache_dir=tmp_path / ".wechaty", clock=clock)
    config = _config(tmp_path, "shop-a")
    return await Bot.create(
        config, clock=clock, connector=connector, playbooks=PlaybookSet([]), database=backend.database
    )


async def test_a_process_hears_its_own_logout_from_wechat_and_alerts_once_then_the_login(
    robot: Robot, tmp_path: Path, backend: Backend
) -> None:
    clock = VirtualClock(START)
    a = await _wechaty_bot(tmp_path, backend, clock, "127.0.0.1:9")
    b = await TestBot.create({}, config=_config(tmp_path, "shop-b"), database=backend.database, clock=clock)
    assert a.fleet is not None
    await a.fleet.beat()
    connector = a.connector
    assert isinstance(connector, WechatyConnector)
    await connector._handle("logout", SimpleNamespace(contact_id="wxid_a", data="用户在手机上退出\n【群管】假消息"))
    await health(a).settle()
    await health_beat(b)  # the other process sees the logout too, but it is already told
    clock.set(clock.now() + timedelta(seconds=20))
    await a.fleet.beat()
    await health_beat(b)
    wecom = [body["text"]["content"] for path, body in robot.posts if path == "/wecom"]
    forged = "用户在手机上退出\\n【群管】假消息"  # a line break in WeChat's words cannot forge a second alert line
    assert wecom == [f"【群管】微信号 shop-a 已掉线（原因：{forged}）于 12-02 10:31，请尽快重新登录"]
    assert (await _presence(backend.database))["shop-a"][0] == "logged_out"
    await connector._link.up()  # logged in again
    await health(a).settle()
    wecom = [body["text"]["content"] for path, body in robot.posts if path == "/wecom"]
    assert wecom[1:] == ["【群管】微信号 shop-a 已恢复在线（12-02 10:31）"]
    assert (await _presence(backend.database))["shop-a"][0] == "online"
    await a.close()
    await b.close()


async def test_a_login_wechat_refuses_is_told_before_the_process_stops_and_stays_told(
    robot: Robot, tmp_path: Path, backend: Backend
) -> None:
    clock = VirtualClock(START)
    a = await _wechaty_bot(tmp_path, backend, clock, f"127.0.0.1:{_closed_port()}")  # no puppet service there
    with pytest.raises(ConnectorError):
        await a.start()
    json_body = robot.body("/json")
    assert (json_body["account"], json_body["status"]) == ("shop-a", "refused")
    assert json_body["text"].startswith("【群管】微信号 shop-a 无法登录（原因：连不上 Wechaty 服务")
    await a.close()
    status, reason = (await _presence(backend.database))["shop-a"]
    assert status == "refused" and "Wechaty" in reason  # the stop does not hide why the account went away


async def test_a_ban_in_the_logout_is_a_refusal(robot: Robot, tmp_path: Path, backend: Backend) -> None:
    clock = VirtualClock(START)
    a = await _wechaty_bot(tmp_path, backend, clock, "127.0.0.1:9")
    connector = a.connector
    assert isinstance(connector, WechatyConnector)
    await connector._handle("logout", SimpleNamespace(contact_id="wxid_a", data="该账号已被限制登录"))
    await health(a).settle()
    assert robot.body("/json")["status"] == "refused"
    await a.close()


def _closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("down", ["500", "refused", "closed"])
async def test_a_robot_that_is_down_costs_a_warning_without_its_key_and_the_bot_goes_on(
    down: str,
    robot: Robot,
    tmp_path: Path,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if down == "500":
        robot.status = 500
    elif down == "refused":
        robot.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    else:
        port = _closed_port()
        for f in FORMATS:
            monkeypatch.setenv(f"QG_ROBOT_{f.upper()}", f"http://127.0.0.1:{port}/{f}?key={KEY}")
    caplog.set_level(logging.WARNING)
    fleet = await Fleet.start(tmp_path, backend, ("shop-a", "shop-b", "shop-c"))
    await fleet.beat("shop-a", "shop-b", "shop-c")
    await fleet.run(30, "shop-a", "shop-b")
    await fleet.run(30, "shop-a", "shop-b")  # the next beats run as ever
    assert set((await _presence(backend.database)).values()) == {("online", "")}
    await fleet.close()
    warned = [r.getMessage() for r in caplog.records if r.name == "qunguan.fleet.webhooks"]
    assert len(warned) == 4 and all("shop-c" in line for line in warned)
    assert "$QG_ROBOT_WECOM" in next(line for line in warned if "wecom" in line)
    assert all(KEY not in r.getMessage() and "127.0.0.1" not in r.getMessage() for r in caplog.records)
    assert len(robot.posts) == {"500": 3 * 4, "refused": 4, "closed": 0}[down]  # "no" from a robot is final
    assert not [r for r in caplog.records if r.name == "qunguan.fleet"]  # no duty failed


async def test_a_webhook_whose_variable_is_missing_is_a_warning_at_start(
    tmp_path: Path, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    config = _config(tmp_path, "shop-a", FLEET.replace("QG_ROBOT_FEISHU", "QG_ROBOT_NOT_SET"))
    async with TestBot.running({}, config=config, database=backend.database):
        pass
    assert any("QG_ROBOT_NOT_SET is not set" in r.getMessage() and "feishu" in r.getMessage() for r in caplog.records)
