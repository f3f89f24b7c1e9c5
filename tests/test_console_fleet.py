"""The console's 账号 page API (/api/fleet): the same figures as `qunguan fleet`, for staff; where each process runs
(host, pid) only for admins; nothing without a session."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from backends import Backend
from test_console_ops import PUBLIC, login

from bot.clock import VirtualClock
from bot.config import Config
from bot.console.app import create_app
from bot.console.guard import Console
from bot.fleet import presence
from bot.fleet.accounts import run_as
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

START = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SHOP = {
    "staff": {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]},
    "web": {"public_url": PUBLIC},
    "accounts": {"shop-a": {"daily_limit": 150}, "shop-b": {}, "shop-c": {}},
    "fleet": {"lease": "30s"},
}
REASON = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def shop(backend: Backend) -> AsyncIterator[tuple[TestBot, TestBot]]:
    """shop-a online, shop-b silent for a minute, shop-c logged out by WeChat."""
    clock = VirtualClock(START)
    bots = [
        await TestBot.create(
            {}, config=run_as(Config.model_validate(SHOP), name), database=backend.database, clock=clock
        )
        for name in ("shop-a", "shop-b")
    ]
    for bot in bots:
        assert bot.bot.fleet is not None
        await bot.bot.fleet.beat()
    async with bots[0].bot.store.unit() as conn:
        await presence.mark(conn, "shop-c", "logged_out", clock.now(), reason=REASON)
    clock.set(START + timedelta(minutes=1))
    assert bots[0].bot.fleet is not None
    await bots[0].bot.fleet.beat()
    yield bots[0], bots[1]
    for bot in bots:
        await bot.close()


def client(bot: TestBot) -> httpx.AsyncClient:
    """The console as `qunguan console` serves it: the shop's config.yaml, not one account's view of it."""
    console = Console(bot.bot.store, Config.model_validate(SHOP), bot.clock, None)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(console)), base_url="https://testserver")


async def test_staff_see_each_account_online_or_not_with_its_figures_but_not_where_it_runs(
    shop: tuple[TestBot, TestBot],
) -> None:
    a, _b = shop
    async with client(a) as web:
        await login(a, web, "clerk")
        answer = await web.get("/api/fleet")
    assert answer.status_code == 200
    accounts = {row["account"]: row for row in answer.json()["accounts"]}
    assert {name: (r["online"], r["status"], r["heartbeat_ago"]) for name, r in accounts.items()} == {
        "shop-a": (True, "online", 0),
        "shop-b": (False, "silent", 60),
        "shop-c": (False, "logged_out", 60),
    }
    assert accounts["shop-c"]["reason"] == REASON and accounts["shop-c"]["status_text"] == "已掉线"
    assert (accounts["shop-a"]["daily_limit"], accounts["shop-b"]["daily_limit"]) == (150, 500)
    assert all(r["host"] == "" and r["pid"] is None for r in accounts.values())


async def test_admins_also_see_the_host_and_pid(shop: tuple[TestBot, TestBot]) -> None:
    a, _b = shop
    async with client(a) as web:
        await login(a, web, "mgr")
        accounts = {row["account"]: row for row in (await web.get("/api/fleet")).json()["accounts"]}
    assert accounts["shop-a"]["host"] == socket.gethostname() and accounts["shop-a"]["pid"] > 0


async def test_without_a_session_the_fleet_api_says_401_and_the_page_asks_to_log_in(
    shop: tuple[TestBot, TestBot],
) -> None:
    a, _b = shop
    async with client(a) as web:
        assert (await web.get("/api/fleet")).status_code == 401
        assert "fleet.js" not in (await web.get("/fleet")).text
        await login(a, web, "clerk")
        page = await web.get("/fleet")
        assert page.status_code == 200 and "/static/fleet.js" in page.text and '<a href="/fleet"' in page.text


async def test_the_fleet_api_is_in_the_openapi_document(shop: tuple[TestBot, TestBot]) -> None:
    a, _b = shop
    async with client(a) as web:
        operation = (await web.get("/api/openapi.json")).json()["paths"]["/api/fleet"]["get"]
    assert {"200", "401", "403"} <= set(operation["responses"])
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "queue" in schema["properties"]["accounts"]["items"]["properties"]
