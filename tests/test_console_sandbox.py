"""The console's sandbox: the bot in the browser on a throwaway copy of the database, with a clock of its own,
running the playbooks folder as it is now. Nothing in a sandbox reaches the shop's database or clock; sandboxes
are bounded (how many, how long unused, what is typed, how far time moves); staff may use their own only."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from backends import Backend
from sqlalchemy import insert, select

from bot.config import Config, StaffSection, WebSection
from bot.console.app import create_app
from bot.console.guard import Console
from bot.console.sandbox import Sandboxes
from bot.console.sandbox_bot import SandboxBot
from bot.console.server import serving
from bot.console.tables import Trace
from bot.store.migrations import schema
from bot.store.tables import AuditEntry
from bot.testing import TestBot

pytestmark = [pytest.mark.usefixtures("backend"), pytest.mark.slow]

PUBLIC = "https://shop.example.cn"
STAFF = StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk", "clerk2"])
CONFIG = Config(staff=STAFF, web=WebSection(public_url=PUBLIC))
CHECKIN = """id: daily-checkin
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - choose:
      - if: [{expr: "checkin.already"}]
        do: [{reply: "{{ member.name }} 今天已经签到过啦"}]
      - else:
          - reply: "{{ member.name }} 签到成功！连续 {{ checkin.streak }} 天，共 {{ member.points }} 分"
"""


@dataclass
class Shop:
    bot: TestBot
    folder: Path
    app: Any
    web: httpx.AsyncClient

    @property
    def sandboxes(self) -> Sandboxes:
        found: Sandboxes = self.app.state.sandboxes
        return found


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "checkin.yaml").write_text(CHECKIN, encoding="utf-8")
    return playbooks


async def _shop(folder: Path | None, database: str | None = None) -> AsyncIterator[Shop]:
    async with TestBot.running(folder or {}, config=CONFIG, database=database) as bot:
        app = create_app(Console(bot.bot.store, bot.bot.config, bot.clock, folder))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as web:
            shop = Shop(bot, folder or Path(), app, web)
            try:
                yield shop
            finally:
                found: Sandboxes | None = getattr(app.state, "sandboxes", None)
                if found is not None:
                    await found.close()


@pytest.fixture
async def shop(folder: Path) -> AsyncIterator[Shop]:
    async for made in _shop(folder):
        yield made


async def log_in(shop: Shop, member_id: str = "clerk") -> dict[str, str]:
    """Log the client in as `member_id`; the headers a write sends (its CSRF token)."""
    (answer,) = await shop.bot.say(member_id, "/后台")
    path = answer.text.splitlines()[-1].removeprefix(PUBLIC)
    assert (await shop.web.post(path)).status_code == 303
    return {"X-CSRF-Token": (await shop.web.get("/api/me")).json()["csrf"]}


async def new_sandbox(shop: Shop, headers: dict[str, str]) -> str:
    made = await shop.web.post("/api/sandbox", headers=headers)
    assert made.status_code == 200, made.text
    sandbox_id: str = made.json()["id"]
    return sandbox_id


async def say(shop: Shop, headers: dict[str, str], sandbox: str, text: str, **who: Any) -> list[str]:
    body = {"member": "u1", "name": "小王", "room": "r1", "text": text, **who}
    answer = await shop.web.post(f"/api/sandbox/{sandbox}/say", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return [line["text"] for line in answer.json()["lines"] if line["side"] == "bot"]


async def test_the_sandbox_answers_with_the_folders_playbooks_and_a_new_one_picks_up_the_newest(shop: Shop) -> None:
    headers = await log_in(shop)
    sandbox = await new_sandbox(shop, headers)
    state = (await shop.web.get(f"/api/sandbox/{sandbox}")).json()
    assert state["playbooks"] == ["daily-checkin"] and state["problems"] == []
    assert await say(shop, headers, sandbox, "签到") == ["小王 签到成功！连续 1 天，共 5 分"]
    (shop.folder / "checkin.yaml").write_text(CHECKIN.replace("签到成功", "打卡成功"), encoding="utf-8")
    (shop.folder / "broken.yaml").write_text("id: broken\nwhen: [{mesage: {text: x}}]\ndo: []\n", encoding="utf-8")
    assert await say(shop, headers, sandbox, "签到", member="u2", name="小李") == ["小李 签到成功！连续 1 天，共 5 分"]
    assert (await shop.web.delete(f"/api/sandbox/{sandbox}", headers=headers)).status_code == 200
    again = await new_sandbox(shop, headers)
    state = (await shop.web.get(f"/api/sandbox/{again}")).json()
    assert state["playbooks"] == ["daily-checkin"]
    assert len(state["problems"]) == 1 and state["problems"][0].startswith("broken.yaml:2:")
    assert await say(shop, headers, again, "签到") == ["小王 打卡成功！连续 1 天，共 5 分"]
    audit = await shop.bot.rows(select(AuditEntry.command, AuditEntry.target_id).order_by(AuditEntry.id))
    assert [(r.command, r.target_id) for r in audit if r.command.startswith("console.sandbox")] == [
        ("console.sandbox.create", sandbox),
        ("console.sandbox.delete", sandbox),
        ("console.sandbox.create", again),
    ]


async def test_a_check_in_in_the_sandbox_leaves_the_live_database_and_clock_alone(shop: Shop) -> None:
    headers = await log_in(shop)
    sandbox = await new_sandbox(shop, headers)
    live_now = shop.bot.clock.now()
    assert await say(shop, headers, sandbox, "签到") == ["小王 签到成功！连续 1 天，共 5 分"]
    moved = await shop.web.post(f"/api/sandbox/{sandbox}/advance", json={"amount": 1, "unit": "days"}, headers=headers)
    assert moved.status_code == 200 and moved.json()["lines"][-1]["text"].startswith("时间快进了 1 天")
    assert await say(shop, headers, sandbox, "签到") == ["小王 签到成功！连续 2 天，共 10 分"]
    assert shop.bot.clock.now() == live_now
    checkins = schema().tables["checkins"]
    assert await shop.bot.rows(select(checkins.c.member_id)) == []
    assert await shop.bot.field("u1", "points") == 0
    assert await shop.bot.member_rooms("u1") == []
    assert shop.bot.sent[-1].text.startswith("后台登录链接")  # the shop's bot sent nothing of the sandbox's


async def test_the_sandbox_runs_on_a_copy_of_the_shops_sqlite_file(folder: Path, tmp_path: Path) -> None:
    async for shop in _shop(folder, str(tmp_path / "shop.db")):
        await shop.bot.say("u1", "签到", room="r1")  # the shop's own check-in, before the sandbox is made
        headers = await log_in(shop)
        sandbox = await new_sandbox(shop, headers)
        state = (await shop.web.get(f"/api/sandbox/{sandbox}")).json()
        assert state["database"] == "copy"
        assert {"id": "u1", "name": "u1"} in state["members"] and {"id": "r1", "topic": "r1"} in state["rooms"]
        assert await say(shop, headers, sandbox, "签到", name="u1") == ["u1 今天已经签到过啦"]
        await shop.web.post(f"/api/sandbox/{sandbox}/advance", json={"amount": 24, "unit": "hours"}, headers=headers)
        assert await say(shop, headers, sandbox, "签到", name="u1") == ["u1 签到成功！连续 2 天，共 10 分"]
        assert await shop.bot.field("u1", "points") == 5
        assert await shop.bot.field("u1", "streak") == 1


async def test_on_postgresql_the_sandbox_starts_from_an_empty_database_and_says_so(
    shop: Shop, backend: Backend
) -> None:
    await shop.bot.say("u1", "签到", room="r1")
    headers = await log_in(shop)
    sandbox = await new_sandbox(shop, headers)
    state = (await shop.web.get(f"/api/sandbox/{sandbox}")).json()
    if backend.postgresql:
        assert state["database"] == "empty"
        assert await say(shop, headers, sandbox, "签到") == ["小王 签到成功！连续 1 天，共 5 分"]
    else:
        assert state["database"] == "copy"
        assert await say(shop, headers, sandbox, "签到") == ["小王 今天已经签到过啦"]


async def test_join_leave_and_private_messages_show_in_the_transcript(shop: Shop) -> None:
    headers = await log_in(shop)
    sandbox = await new_sandbox(shop, headers)
    who = {"member": "u7", "name": "<script>alert(1)</script>", "room": "r2"}
    joined = await shop.web.post(f"/api/sandbox/{sandbox}/join", json=who, headers=headers)
    assert [line["text"] for line in joined.json()["lines"]] == ["<script>alert(1)</script> 加入了群「r2」"]
    await say(shop, headers, sandbox, "你好", member="u7", name="", room=None)
    left = await shop.web.post(f"/api/sandbox/{sandbox}/leave", json=who, headers=headers)
    assert left.json()["lines"][0]["text"] == "<script>alert(1)</script> 退出了群「r2」"
    lines = (await shop.web.get(f"/api/sandbox/{sandbox}/transcript", params={"after": 1})).json()["lines"]
    assert [(line["side"], line["room_id"], line["text"]) for line in lines] == [
        ("member", None, "你好"),
        ("note", "r2", "<script>alert(1)</script> 退出了群「r2」"),
    ]


async def test_the_traces_panel_reads_the_sandboxes_copy_only(shop: Shop) -> None:
    trace = {"event_key": "k", "kind": "message", "stage": "playbook", "name": "daily-checkin", "outcome": "ran"}
    async with shop.bot.bot.store.unit() as conn:  # the shop's own trace: not the sandbox's
        await conn.execute(insert(Trace.__table__).values(at=shop.bot.clock.now(), summary="店里的", **trace))
    headers = await log_in(shop)
    sandbox = await new_sandbox(shop, headers)
    assert (await shop.web.get(f"/api/sandbox/{sandbox}/traces")).json() == {"traces": []}

    async def traced(bot: SandboxBot) -> None:
        async with bot.bot.bot.store.unit() as conn:
            steps = '[{"kind": "condition", "what": "once", "value": true, "result": "ok"}]'
            await conn.execute(
                insert(Trace.__table__).values(at=bot.now(), summary="沙盒里的", steps=steps, member_id="u1", **trace)
            )

    await (await shop.sandboxes.get(sandbox, "clerk")).call(traced)
    (found,) = (await shop.web.get(f"/api/sandbox/{sandbox}/traces", params={"limit": 5})).json()["traces"]
    assert (found["summary"], found["outcome"], found["steps"][0]["what"]) == ("沙盒里的", "ran", "once")
    after = (await shop.web.get(f"/api/sandbox/{sandbox}/traces", params={"after": found["id"]})).json()
    assert after == {"traces": []}


async def test_a_console_keeps_at_most_four_sandboxes_two_each(shop: Shop) -> None:
    clerk = await log_in(shop, "clerk")
    first = await new_sandbox(shop, clerk)
    await new_sandbox(shop, clerk)
    third = await shop.web.post("/api/sandbox", headers=clerk)
    assert third.status_code == 429 and "每人最多 2 个" in third.json()["error"]
    shop.web.cookies.clear()
    mgr = await log_in(shop, "mgr")
    await new_sandbox(shop, mgr)
    await new_sandbox(shop, mgr)
    shop.web.cookies.clear()
    boss = await log_in(shop, "boss")
    full = await shop.web.post("/api/sandbox", headers=boss)
    assert full.status_code == 429 and "沙盒已满（最多 4 个）" in full.json()["error"]
    assert (await shop.web.get(f"/api/sandbox/{first}")).status_code == 404  # the clerk's, not the boss's
    assert (await shop.web.delete(f"/api/sandbox/{first}", headers=boss)).status_code == 404


async def test_a_sandbox_unused_for_30_minutes_is_closed(shop: Shop) -> None:
    headers = await log_in(shop)
    sandbox = await new_sandbox(shop, headers)
    await shop.bot.advance(timedelta(minutes=29))
    assert (await shop.web.get(f"/api/sandbox/{sandbox}")).status_code == 200  # used: 30 more minutes
    await shop.bot.advance(timedelta(minutes=30))
    gone = await shop.web.get(f"/api/sandbox/{sandbox}")
    assert gone.status_code == 404 and "已过期" in gone.json()["error"]
    assert (await shop.web.get("/api/sandbox")).json()["sandboxes"] == []


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("say", {"member": "u1", "room": "r1", "text": "长" * 501}, "消息太长（最多 500 个字）"),
        ("say", {"member": "u1", "room": "r1", "text": "   "}, "消息不能是空白"),
        ("say", {"member": "u1", "room": "r1"}, "请填写消息"),
        ("say", {"member": "u 1", "text": "签到"}, "成员 ID不能有空格"),
        ("say", {"member": "u1", "text": "a\x00b"}, "消息含有控制字符"),
        ("say", {"member": "u1", "text": "a\x85b"}, "消息含有控制字符"),
        ("say", {"member": 7, "text": "签到"}, "成员 ID应是文字"),
        ("join", {"member": "u1"}, "请填写群 ID"),
        ("advance", {"amount": 32, "unit": "days"}, "一次最多快进 31 天"),
        ("advance", {"amount": 1, "unit": "years"}, "快进的单位应是 minutes、hours 或 days"),
        ("advance", {"amount": 1, "unit": []}, "快进的单位应是 minutes、hours 或 days"),
        ("advance", {"amount": 745, "unit": "hours"}, "一次最多快进 31 天（744 小时）"),
        ("advance", {"amount": True, "unit": "days"}, "快进的数量应是正整数"),
    ],
)
async def test_bad_input_gets_a_chinese_422(shop: Shop, path: str, body: dict[str, Any], message: str) -> None:
    headers = await log_in(shop)
    sandbox = await new_sandbox(shop, headers)
    answer = await shop.web.post(f"/api/sandbox/{sandbox}/{path}", json=body, headers=headers)
    assert answer.status_code == 422 and answer.json()["error"].startswith(message)
    not_json = await shop.web.post(f"/api/sandbox/{sandbox}/say", content=b"{", headers=headers)
    assert not_json.status_code == 422
    bad = await shop.web.get(f"/api/sandbox/{sandbox}/traces", params={"limit": 1000})
    assert bad.status_code == 422


async def test_staff_may_use_a_sandbox_but_not_without_a_session_or_a_csrf_token(shop: Shop) -> None:
    assert (await shop.web.post("/api/sandbox")).status_code == 401
    assert (await shop.web.get("/sandbox")).status_code == 401
    headers = await log_in(shop, "clerk")
    assert (await shop.web.post("/api/sandbox")).status_code == 403  # no CSRF token
    sandbox = await new_sandbox(shop, headers)
    body = {"member": "u1", "text": "签到", "room": "r1"}
    assert (await shop.web.post(f"/api/sandbox/{sandbox}/say", json=body)).status_code == 403
    page = await shop.web.get("/sandbox")
    assert page.status_code == 200 and "临时副本" in page.text and "sandbox.js" in page.text
    paths = (await shop.web.get("/api/openapi.json")).json()["paths"]
    assert {"/api/sandbox", "/api/sandbox/{sandbox_id}/say", "/api/sandbox/{sandbox_id}/traces"} <= set(paths)


async def test_without_a_playbooks_folder_the_console_explains_why_there_is_no_sandbox() -> None:
    async for shop in _shop(None):
        headers = await log_in(shop)
        refused = await shop.web.post("/api/sandbox", headers=headers)
        assert refused.status_code == 409 and "没有剧本文件夹" in refused.json()["error"]


async def test_the_sandboxes_bot_runs_on_an_event_loop_of_its_own(shop: Shop) -> None:
    headers = await log_in(shop)
    made = await new_sandbox(shop, headers)
    sandbox = await shop.sandboxes.get(made, "clerk")

    async def loop_of(bot: SandboxBot) -> tuple[asyncio.AbstractEventLoop, int]:
        return asyncio.get_running_loop(), threading.get_ident()

    loop, thread = await sandbox.call(loop_of)
    assert loop is not asyncio.get_running_loop() and thread != threading.get_ident()


@pytest.mark.sqlite_only
async def test_stopping_the_console_closes_its_sandboxes_and_deletes_their_copies(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the sandbox's copy goes
    local = Config(staff=STAFF, web=WebSection(public_url="http://console.test"))  # a plain-http cookie
    async with TestBot.running(folder, config=local, database=str(tmp_path / "shop.db")) as bot:
        console = Console(bot.bot.store, bot.bot.config, bot.clock, folder)
        async with serving(console, "127.0.0.1:0") as address, httpx.AsyncClient(base_url=f"http://{address}") as web:
            (answer,) = await bot.say("clerk", "/后台")
            assert (await web.post(answer.text.splitlines()[-1].removeprefix("http://console.test"))).status_code == 303
            headers = {"X-CSRF-Token": (await web.get("/api/me")).json()["csrf"]}
            made = await web.post("/api/sandbox", headers=headers)
            assert made.status_code == 200, made.text
            running = [t for t in threading.enumerate() if t.name == f"sandbox-{made.json()['id'][:6]}"]
            copies = list(temporary.glob("qunguan-sandbox-*/sandbox.db"))
            assert running and copies
        assert not running[0].is_alive()
        assert not any(copy.exists() for copy in copies)
