"""The console's 发送, 审计, 群管理 and 增长 pages' API, on a TestBot's database: the outbox and the send governor
after the bot sent, was refused and paused; chat commands and console actions in one audit list, filtered;
解封 from the blacklist by the /解封 command's code and role, audited; the growth data of issue 14."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from bot.config import Config
from bot.connectors.base import SendRefused
from bot.connectors.memory import MemoryConnector
from bot.console import auth
from bot.console.app import create_app
from bot.console.guard import Console
from bot.events import Outgoing
from bot.governor import Governor, Status
from bot.sending_settings import SendingSection
from bot.store.tables import AuditEntry
from bot.testing import TestBot
from handlers.moderation.blacklist import Blacklisted
from handlers.moderation.log import ModerationEntry

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
PUBLIC = "https://shop.example.cn"
STAFF = {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]}
ECHO = {
    "playbooks/echo.yaml": dedent("""
        id: echo
        when:
          - message: {regex: '^你好'}
        do:
          - reply: 你好呀
    """)
}


def config(**more: Any) -> Config:
    return Config.model_validate(
        {"staff": STAFF, "web": {"public_url": PUBLIC}, "sending": {"jitter": None, "daily_limit": 20}, **more}
    )


class Refusing(MemoryConnector):
    """Refuses the next `refuse` sends as WeChat does (操作过于频繁); fails every send to `broken` rooms."""

    def __init__(self, refuse: int = 0, broken: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.refuse, self.broken = refuse, set(broken)

    async def send(self, message: Outgoing) -> str | None:
        if message.target_id in self.broken:
            raise RuntimeError("no such room")
        if self.refuse:
            self.refuse -= 1
            raise SendRefused("操作过于频繁")
        return await super().send(message)


@pytest.fixture
async def bot() -> AsyncIterator[TestBot]:
    async with TestBot.running(ECHO, config=config(), start=START) as running:
        yield running


def client(bot: TestBot, folder: Path | None = None) -> httpx.AsyncClient:
    console = Console(bot.bot.store, bot.bot.config, bot.clock, folder)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(console)), base_url="https://testserver")


async def login(bot: TestBot, web: httpx.AsyncClient, member_id: str) -> str:
    """Log `member_id` in by a one-time link (as `qunguan console --login` prints); returns the CSRF token."""
    async with bot.bot.store.unit() as conn:
        url = await auth.issue_link(conn, bot.bot.config, member_id, bot.clock.now())
    assert url is not None
    assert (await web.post(url.removeprefix(PUBLIC))).status_code == 303
    me = await web.get("/api/me")
    assert me.json()["id"] == member_id
    return str(me.json()["csrf"])


# -- 发送


async def test_the_outbox_shows_the_pause_its_reason_and_end_then_todays_sends_against_the_limit() -> None:
    connector = Refusing(refuse=1)
    bot = await TestBot.create(ECHO, config=config(), start=START, governor=True, connector=connector)
    try:
        await bot.add_room("r1", "会员1群")
        await bot.say("u1", "你好", room="r1")
        await bot.say("u2", "你好", room="r1")
        async with client(bot) as web:
            await login(bot, web, "clerk")
            out = (await web.get("/api/outbox")).json()
            assert out["governor"]["paused"] is True
            assert out["governor"]["why"] == "微信拒绝发送（操作过于频繁）"
            assert datetime.fromisoformat(out["governor"]["until"]) == START + timedelta(minutes=10)
            assert out["today"] == {"sent": 0, "limit": 20, "left": 20, "failed": 0}
            (room,) = out["rooms"]
            assert (room["room_id"], room["topic"], room["pending"]) == ("r1", "会员1群", 2)
            assert room["kinds"] == {"reply": 2}
            pending = (await web.get("/api/outbox/messages", params={"state": "pending"})).json()
            assert pending["total"] == 2
            assert [m["text"] for m in pending["rows"]] == ["你好呀", "你好呀"]
            assert pending["rows"][0]["reason"] == "微信拒绝：操作过于频繁"

            await bot.advance(timedelta(minutes=11))
            out = (await web.get("/api/outbox")).json()
            assert out["governor"]["paused"] is False and out["governor"]["slow"] is True
            assert out["today"]["sent"] == 2 and out["today"]["left"] == 18
            assert out["rooms"] == []
    finally:
        await bot.close()


async def test_failed_messages_are_listed_with_the_reason_newest_first() -> None:
    connector = Refusing(broken=("r9",))
    bot = await TestBot.create(ECHO, config=config(sending={"retries": 0}), start=START, connector=connector)
    try:
        await bot.add_room("r9", "坏群")
        await bot.say("u1", "你好", room="r9")
        async with client(bot) as web:
            await login(bot, web, "clerk")
            failed = (await web.get("/api/outbox/messages", params={"state": "failed", "room": "r9"})).json()
            assert failed["total"] == 1
            (row,) = failed["rows"]
            assert (row["room"], row["state_text"], row["reason"]) == ("坏群", "失败", "RuntimeError: no such room")
            assert (await web.get("/api/outbox")).json()["today"]["failed"] == 1
            assert (await web.get("/api/outbox/messages", params={"room": "r1"})).json()["total"] == 0
    finally:
        await bot.close()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"state": "gone"}, "参数 state 应是 pending、failed 之一"),
        ({"limit": "0"}, "参数 limit 应在 1 到 200 之间"),
        ({"offset": "x"}, "参数 offset 应是整数"),
        ({"room": "r" * 101}, "参数 room 太长（最多 100 个字）"),
    ],
)
async def test_bad_outbox_parameters_get_a_chinese_422(bot: TestBot, params: dict[str, str], error: str) -> None:
    async with client(bot) as web:
        await login(bot, web, "clerk")
        answer = await web.get("/api/outbox/messages", params=params)
        assert (answer.status_code, answer.json()) == (422, {"error": error})


async def test_without_a_session_the_ops_api_says_401(bot: TestBot) -> None:
    async with client(bot) as web:
        for path in ("/api/outbox", "/api/outbox/messages", "/api/audit", "/api/moderation", "/api/blacklist"):
            assert (await web.get(path)).status_code == 401, path
        assert (await web.get("/api/growth")).status_code == 401
        assert (await web.post("/api/blacklist/u9/lift")).status_code == 401


# -- 审计


async def test_the_audit_shows_chat_commands_and_console_actions_together_and_filters_them(bot: TestBot) -> None:
    await bot.say("u1", "/加分 u2 5")  # a customer: refused, audited
    await bot.advance(timedelta(days=1))
    (link,) = await bot.say("clerk", "/后台")  # a chat command, then the console login
    assert link.text.startswith("后台登录链接")
    async with client(bot) as web:
        await login(bot, web, "clerk")
        everything = (await web.get("/api/audit")).json()
        shown = [(r["command"], r["member_id"], r["where"], r["result"]) for r in everything["rows"]]
        assert shown == [
            ("console.login", "clerk", "网页后台", "ok"),
            ("/后台", "clerk", "私聊", "ok"),
            ("/加分", "u1", "私聊", "refused"),
        ]
        assert everything["total"] == 3
        assert {"后台", "加分", "console.login"} <= set(everything["commands"])
        login_row = everything["rows"][0]
        assert login_row["line"].startswith("2026-12-02 10:00  clerk（clerk，staff）  console.login")
        assert login_row["line"].endswith("[网页后台]  ok")

        async def commands(**params: str) -> list[str]:
            answer = await web.get("/api/audit", params=params)
            assert answer.status_code == 200, answer.text
            return [r["command"] for r in answer.json()["rows"]]

        assert await commands(source="console") == ["console.login"]
        assert await commands(source="chat") == ["/后台", "/加分"]
        assert await commands(command="/加分") == ["/加分"]
        assert await commands(command="console.login") == ["console.login"]
        assert await commands(result="refused") == ["/加分"]
        assert await commands(member="u1") == ["/加分"]
        assert await commands(since="2026-12-02") == ["console.login", "/后台"]
        assert await commands(until="2026-12-01") == ["/加分"]
        assert await commands(limit="1", offset="1") == ["/后台"]
        bad = await web.get("/api/audit", params={"since": "昨天"})
        assert (bad.status_code, bad.json()) == (422, {"error": "参数 since 应是日期，如 2026-11-30"})


# -- 群管理


async def test_unblacklisting_in_the_console_is_the_command_with_its_role_and_is_audited(bot: TestBot) -> None:
    await bot.say("mgr", "/拉黑 scam1 发广告")
    (listed,) = await bot.rows(select(Blacklisted))
    assert listed.member_id == "scam1"
    async with client(bot) as staff:
        csrf = await login(bot, staff, "clerk")
        seen = (await staff.get("/api/blacklist")).json()
        assert seen["can_lift"] is False and [r["member_id"] for r in seen["rows"]] == ["scam1"]
        refused = await staff.post("/api/blacklist/scam1/lift", headers={"X-CSRF-Token": csrf})
        assert (refused.status_code, refused.json()) == (403, {"error": "没有权限"})
    async with client(bot) as admin:
        csrf = await login(bot, admin, "mgr")
        assert (await admin.get("/api/blacklist")).json()["can_lift"] is True
        assert (await admin.post("/api/blacklist/scam1/lift")).status_code == 403  # no CSRF token
        done = await admin.post("/api/blacklist/scam1/lift", headers={"X-CSRF-Token": csrf})
        assert done.json() == {"result": "ok", "answer": "已解封 scam1"}
        assert await bot.rows(select(Blacklisted)) == []
        again = await admin.post("/api/blacklist/scam1/lift", headers={"X-CSRF-Token": csrf})
        assert again.json() == {"result": "absent", "answer": "scam1 不在黑名单上"}
        log = (await admin.get("/api/moderation")).json()
        assert [(r["action_text"], r["member_id"], r["by"]) for r in log["rows"]] == [
            ("解封", "scam1", "店员 mgr"),
            ("拉黑", "scam1", "店员 mgr"),
        ]
        assert [r["action"] for r in (await admin.get("/api/moderation?action=blacklist")).json()["rows"]] == [
            "blacklist"
        ]
    audited = await bot.rows(
        select(AuditEntry).where(AuditEntry.command == "console.unblacklist").order_by(AuditEntry.id)
    )
    assert [(a.member_id, a.role, a.target_id, a.result) for a in audited] == [
        ("mgr", "admin", "scam1", "ok"),
        ("mgr", "admin", "scam1", "absent"),
    ]
    unlisted = await bot.rows(select(ModerationEntry).where(ModerationEntry.action == "unblacklist"))
    assert [(m.member_id, m.staff_id) for m in unlisted] == [("scam1", "mgr")]


async def test_a_commands_override_lets_staff_unblacklist_in_the_console_too() -> None:
    async with TestBot.running(ECHO, config=config(commands={"解封": "staff"}), start=START) as bot:
        await bot.say("mgr", "/拉黑 scam1")
        async with client(bot) as web:
            csrf = await login(bot, web, "clerk")
            assert (await web.get("/api/blacklist")).json()["can_lift"] is True
            done = await web.post("/api/blacklist/scam1/lift", headers={"X-CSRF-Token": csrf})
            assert done.json()["result"] == "ok"


# -- 增长

FOLDER = Path(__file__).parent / "console_ops_playbooks"  # the browser tests read it too


async def test_growth_shows_the_catalogue_with_stock_and_exchanges_group_buys_rfm_and_fields() -> None:
    async with TestBot.running(FOLDER, config=config(), start=START) as bot:
        await bot.add_room("r1", "会员1群")
        await bot.seed("u1", rooms=["r1"])
        (added,) = await bot.say("clerk", "/加分 u1 80")
        assert added.text.endswith("现在共 80 分")
        (code,) = [m.text for m in await bot.say("u1", "/兑换 定制杯子")]
        await bot.say("clerk", f"/核销 {code}")
        await bot.say("u1", "城市 杭州", room="r1")
        await bot.say("clerk", "/记单 u1 88")
        await bot.say("clerk", "/开团", room="r1")
        await bot.say("u1", "参团", room="r1")
        await bot.say("u2", "参团", room="r1")
        await bot.say("u3", "参团", room="r1")
        async with client(bot, FOLDER) as web:
            await login(bot, web, "clerk")
            growth = (await web.get("/api/growth")).json()
    (cup,) = growth["rewards"]
    assert {k: cup[k] for k in ("id", "title", "cost", "stock", "left", "status")} == {
        "id": "cup",
        "title": "定制杯子",
        "cost": 50,
        "stock": 3,
        "left": 2,
        "status": "剩 2 份",
    }
    assert (cup["exchanges"], cup["points"], cup["redeemed"]) == (1, 50, 1)
    (exchange,) = growth["exchanges"]
    assert (exchange["member_id"], exchange["code"], exchange["redeemed"]) == ("u1", code, True)
    (tuan,) = growth["group_buys"]
    assert (tuan["room"], tuan["batch"], tuan["size"], tuan["joined"], tuan["teams"]) == ("会员1群", "tuan", 2, 3, 1)
    assert tuan["outcomes"] == {"won": 2, "waiting": 1} and tuan["state"] == "进行中"
    classes = {c["name"]: c["count"] for c in growth["rfm"]["classes"]}
    assert classes["重要发展用户"] == 1  # u1: one recent order of ¥88, below 3 orders and ¥500
    assert growth["rfm"]["lines"][1] == "RFM 标准：近 30 天内有消费；≥3 单或累计 ≥¥500.00"
    (top,) = growth["rfm"]["members"]
    assert (top["member_id"], top["spent"], top["rfm"]) == ("u1", "¥88.00", "重要发展用户")
    assert [(f["id"], f["type"], f["limits"], f["filled"]) for f in growth["fields"]] == [
        ("city", "文字", "最多 20 字", 1),
        ("kids", "数字", "0 到 10", 0),
    ]


async def test_every_ops_endpoint_is_in_the_openapi_document_with_its_parameters(bot: TestBot) -> None:
    async with client(bot) as web:
        paths = (await web.get("/api/openapi.json")).json()["paths"]
    declared = {
        ("get", "/api/outbox"): set(),
        ("get", "/api/outbox/messages"): {"state", "room", "limit", "offset"},
        ("get", "/api/audit"): {"member", "command", "result", "room", "source", "since", "until", "limit", "offset"},
        ("get", "/api/moderation"): {"member", "action", "limit", "offset"},
        ("get", "/api/blacklist"): {"limit", "offset"},
        ("post", "/api/blacklist/{member_id}/lift"): {"member_id"},
        ("get", "/api/growth"): {"limit"},
    }
    for (method, path), names in declared.items():
        operation = paths[path][method]
        assert {p["name"] for p in operation.get("parameters", [])} == names, path
        assert {"200", "401", "403", "422"} <= set(operation["responses"]), path


def test_the_governors_status_says_why_it_paused_until_when_and_when_it_is_back_to_normal() -> None:
    settings = SendingSection.model_validate({"failures_to_pause": 2, "slow_start": 1, "jitter": None})
    governor = Governor(settings, TZ)
    now = START.astimezone(UTC)
    assert governor.status() == Status("closed")
    governor.failed(now)
    assert governor.status() == Status("closed")
    governor.failed(now)
    assert governor.status() == Status("open", now + timedelta(minutes=10), "连续 2 次发送失败", trips=1)
    governor.plan([], now + timedelta(minutes=10))  # the pause is over: slowly again
    assert governor.status() == Status("slow", now + timedelta(minutes=10), "连续 2 次发送失败", 1, slow_left=1)
    governor.sent("r1", now + timedelta(minutes=11))
    assert governor.status() == Status("closed")
