"""Who gets into the web console: a one-time link by /后台 in a private chat (or `qunguan console --login`), used
only by the POST of its page, once, within 10 minutes, for staff only; then a session the API checks on every
call and a CSRF token on every write; every write audited. Time is the bot's virtual clock."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from backends import Backend
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.clock import SystemClock
from bot.config import Config, StaffSection, WebSection
from bot.console.app import create_app
from bot.console.guard import COOKIE, Console
from bot.console.tables import ConsoleLink, ConsoleSession
from bot.store.housekeeping import prune
from bot.store.tables import AuditEntry
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://shop.example.cn/console"
CONFIG = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]), web=WebSection(public_url=PUBLIC))
ECHO = {"playbooks/echo.yaml": "id: echo\nwhen:\n  - message: {regex: '.*'}\ndo:\n  - reply: 剧本看到了\n"}


@pytest.fixture
async def bot() -> AsyncIterator[TestBot]:
    async with TestBot.running(ECHO, config=CONFIG) as running:
        yield running


@pytest.fixture
async def web(bot: TestBot) -> AsyncIterator[httpx.AsyncClient]:
    console = Console(bot.bot.store, bot.bot.config, bot.clock)
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def link_for(bot: TestBot, member_id: str = "clerk") -> str:
    (answer,) = await bot.say(member_id, "/后台")
    assert answer.member is not None and answer.member.id == member_id  # answered privately
    assert answer.text.startswith("后台登录链接（10 分钟内有效，只能用一次")
    url = answer.text.splitlines()[-1]
    assert url.startswith(PUBLIC + "/login/")
    return url.removeprefix(PUBLIC)


async def test_console_in_a_private_chat_gives_a_one_time_link_and_its_post_logs_in(
    bot: TestBot, web: httpx.AsyncClient
) -> None:
    path = await link_for(bot)
    page = await web.get(path)
    assert page.status_code == 200 and "登录" in page.text and 'method="post"' in page.text
    assert COOKIE not in page.cookies
    links = await bot.rows(select(ConsoleLink.used))
    assert [r.used for r in links] == [None]  # WeChat's preview fetch (a GET) used nothing
    assert (await web.get(path)).status_code == 200  # nor does a second look
    done = await web.post(path)
    assert done.status_code == 303
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    me = await web.get("/api/me")
    assert me.status_code == 200
    assert {k: me.json()[k] for k in ("id", "role")} == {"id": "clerk", "role": "staff"}
    home = await web.get("/")
    assert home.status_code == 200 and "已登录：clerk" in home.text
    audited = await bot.rows(select(AuditEntry.member_id, AuditEntry.command, AuditEntry.result))
    assert ("clerk", "后台", "ok") in [tuple(r) for r in audited]
    assert ("clerk", "console.login", "ok") in [tuple(r) for r in audited]


async def test_console_in_a_group_is_refused_and_gives_no_link(bot: TestBot) -> None:
    (answer,) = await bot.say("clerk", "/console", room="r1")
    assert answer.text == "请私聊我发送 /后台"
    assert "/login/" not in answer.text
    assert list(await bot.rows(select(ConsoleLink.token_hash))) == []


async def test_a_used_link_is_refused_with_a_chinese_page(bot: TestBot, web: httpx.AsyncClient) -> None:
    path = await link_for(bot)
    assert (await web.post(path)).status_code == 303
    web.cookies.clear()
    again = await web.post(path)
    assert again.status_code == 403 and "已经用过了" in again.text
    assert COOKIE not in again.cookies


async def test_a_link_older_than_ten_minutes_is_refused(bot: TestBot, web: httpx.AsyncClient) -> None:
    path = await link_for(bot)
    await bot.advance(timedelta(minutes=10))
    late = await web.post(path)
    assert late.status_code == 403 and "已过期" in late.text
    assert (await web.get("/api/me")).status_code == 401


async def test_a_link_just_inside_ten_minutes_still_works(bot: TestBot, web: httpx.AsyncClient) -> None:
    path = await link_for(bot)
    await bot.advance(timedelta(minutes=9, seconds=59))
    assert (await web.post(path)).status_code == 303


async def test_a_non_staff_member_gets_no_link_and_an_unknown_token_is_refused(
    bot: TestBot, web: httpx.AsyncClient
) -> None:
    (answer,) = await bot.say("u1", "/后台")
    assert "/login/" not in answer.text and "权限" in answer.text
    assert list(await bot.rows(select(ConsoleLink.token_hash))) == []
    forged = await web.post("/login/forged-token")
    assert forged.status_code == 403 and "无效" in forged.text


async def test_a_link_for_someone_taken_off_the_staff_list_is_refused(bot: TestBot) -> None:
    path = await link_for(bot)
    changed = Config(staff=StaffSection(owner=["boss"]), web=WebSection(public_url=PUBLIC))  # clerk left the shop
    transport = httpx.ASGITransport(app=create_app(Console(bot.bot.store, changed, bot.clock)))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as web:
        refused = await web.post(path)
    assert refused.status_code == 403 and "工作人员名单" in refused.text


async def test_without_a_session_the_api_says_401_and_pages_say_how_to_log_in(web: httpx.AsyncClient) -> None:
    api = await web.get("/api/me")
    assert api.status_code == 401 and api.json() == {"error": "未登录"}
    home = await web.get("/")
    assert home.status_code == 401 and "/后台" in home.text
    web.cookies.set(COOKIE, "made-up")
    assert (await web.get("/api/me")).status_code == 401


async def test_a_write_without_the_csrf_token_is_refused(bot: TestBot, web: httpx.AsyncClient) -> None:
    await web.post(await link_for(bot))
    csrf = (await web.get("/api/me")).json()["csrf"]
    assert (await web.post("/api/logout")).status_code == 403
    assert (await web.post("/api/logout", headers={"X-CSRF-Token": "wrong"})).status_code == 403
    assert (await web.get("/api/me")).status_code == 200  # still signed in: nothing was done
    out = await web.post("/api/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200
    assert (await web.get("/api/me")).status_code == 401
    audited = await bot.rows(select(AuditEntry.member_id, AuditEntry.command))
    assert ("clerk", "console.logout") in [tuple(r) for r in audited]


async def test_housekeeping_deletes_links_and_sessions_past_their_time_and_keeps_live_ones(
    bot: TestBot, web: httpx.AsyncClient
) -> None:
    await web.post(await link_for(bot))  # a used link and a live session
    await link_for(bot)  # a link nobody opened
    await bot.advance(timedelta(hours=11))
    await prune(bot.bot.store, bot.clock.now())
    assert len(list(await bot.rows(select(ConsoleSession.member_id)))) == 1
    assert (await web.get("/api/me")).status_code == 200
    await bot.advance(timedelta(days=2))
    await prune(bot.bot.store, bot.clock.now())
    assert list(await bot.rows(select(ConsoleSession.member_id))) == []
    assert list(await bot.rows(select(ConsoleLink.token_hash))) == []


async def test_the_openapi_document_lists_the_api(web: httpx.AsyncClient) -> None:
    doc = (await web.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.") and "/api/me" in doc["paths"]


def _config_file(tmp_path: Path, web: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"staff: {{owner: [boss], staff: [clerk]}}\n{web}", encoding="utf-8")
    return path


async def test_console_login_prints_a_link_for_staff_and_refuses_others(backend: Backend, tmp_path: Path) -> None:
    config = _config_file(tmp_path, f"web: {{public_url: '{PUBLIC}'}}\n")
    runner = CliRunner()
    args = ["console", "-c", str(config), "--database", backend.database, "--login"]
    printed = await asyncio.to_thread(runner.invoke, cli, [*args, "clerk"])
    assert printed.exit_code == 0, printed.output
    url = printed.output.strip()
    assert url.startswith(PUBLIC + "/login/")
    stranger = await asyncio.to_thread(runner.invoke, cli, [*args, "u1"])
    assert stranger.exit_code == 1 and "not in config.yaml's staff" in stranger.output
    # The CLI stamps its link with the system clock: a bot on the same database at that time lets clerk in.
    async with TestBot.running(ECHO, config=CONFIG, database=backend.database, start=SystemClock().now()) as bot:
        console = Console(bot.bot.store, bot.bot.config, bot.clock)
        transport = httpx.ASGITransport(app=create_app(console))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            assert (await client.post(url.removeprefix(PUBLIC))).status_code == 303
            assert (await client.get("/api/me")).json()["id"] == "clerk"
    config.write_text(config.read_text(encoding="utf-8") + f"database: '{backend.database}'\n", encoding="utf-8")
    audited = await asyncio.to_thread(runner.invoke, cli, ["audit", "-c", str(config)])
    assert audited.exit_code == 0, audited.output
    assert "clerk（clerk，staff）  console.login   [网页后台]  ok" in audited.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.sqlite_only
def test_qunguan_run_with_web_listen_serves_the_console_beside_the_bot_and_stops_with_it(tmp_path: Path) -> None:
    port = _free_port()
    web = f"web: {{listen: '127.0.0.1:{port}'}}\ndatabase: q.db\nplaybooks: {ROOT}/playbooks\n"
    config = _config_file(tmp_path, web)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "-c", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        doc = None
        while doc is None and time.monotonic() < deadline and bot.poll() is None:
            try:
                doc = httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=2).json()
            except httpx.TransportError:
                time.sleep(0.2)  # allowed-sleep: polling a real subprocess, with a deadline
        assert doc is not None, bot.stderr.read().decode() if bot.poll() is not None else "no answer in 30 s"
        assert "/api/me" in doc["paths"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/me", timeout=2).status_code == 401
        _, err = bot.communicate(b"/quit\n", timeout=30)  # the simulator ends; the console stops with it
        assert bot.returncode == 0, err.decode()
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=2)
