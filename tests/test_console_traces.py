"""GET /api/traces and the 运行记录 pages (issue 15, Pages point 3): filters by member, group, playbook and time,
422 in Chinese for bad input, staff may read, nobody else; a trace with its steps in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from textwrap import dedent

import httpx
import pytest

from bot.config import Config, StaffSection, WebSection
from bot.console.app import create_app
from bot.console.guard import Console
from bot.playbook.library import load_texts
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

PUBLIC = "https://shop.example.cn"
CONFIG = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]), web=WebSection(public_url=PUBLIC))
CHECKIN = """
    id: checkin
    when:
      - message: {text: 签到}
    if:
      - once: {per: day}
    do:
      - points: 5
      - reply: 签到成功
"""
QUESTION = """
    id: price
    when:
      - message: {keywords: [价格]}
    do:
      - reply: 请看群公告
"""


@pytest.fixture
async def bot() -> AsyncIterator[TestBot]:
    texts = {"playbooks/checkin.yaml": dedent(CHECKIN), "playbooks/price.yaml": dedent(QUESTION)}
    async with TestBot.running(load_texts(texts), config=CONFIG) as running:
        await running.add_room("r1", "VIP 一群")
        await running.add_room("r2", "二群")
        yield running


@asynccontextmanager
async def client(bot: TestBot, member_id: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """The console's API as `member_id` sees it once logged in with the bot's link (None: not logged in)."""
    console = Console(bot.bot.store, bot.bot.config, bot.clock)
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as web:
        if member_id is not None:
            (answer,) = await bot.say(member_id, "/后台")
            path = answer.text.splitlines()[-1].removeprefix(PUBLIC)
            assert (await web.post(path)).status_code == 303
        yield web


async def seeded(bot: TestBot) -> None:
    """Day 1: 小红 checks in twice in r1 (the second refused by once), 小明 asks the price in r2; day 3: 小红
    again."""
    bot.member("u1", "小红")
    bot.member("u2", "小明")
    await bot.say("u1", "签到", room="r1")
    await bot.say("u1", "签到", room="r1")
    await bot.say("u2", "价格多少", room="r2")
    await bot.advance(timedelta(days=2))
    await bot.say("u1", "签到", room="r1")


async def listed(web: httpx.AsyncClient, query: str = "") -> list[tuple[str, str, str]]:
    answer = await web.get("/api/traces" + query)
    assert answer.status_code == 200, answer.text
    return [(t["member_id"], t["name"], t["outcome"]) for t in answer.json()["traces"]]


async def test_staff_search_traces_by_member_group_playbook_and_time(bot: TestBot) -> None:
    await seeded(bot)
    async with client(bot, "clerk") as web:
        assert (await listed(web))[0] == ("clerk", "后台", "ran")  # newest first: the /后台 that logged in
        assert await listed(web, "?stage=command") == [("clerk", "后台", "ran")]
        assert await listed(web, "?member=小红&playbook=checkin") == [
            ("u1", "checkin", "ran"),
            ("u1", "checkin", "skipped"),
            ("u1", "checkin", "ran"),
        ]
        assert await listed(web, "?member=u2") == [("u2", "price", "ran")]
        assert await listed(web, "?room=二群") == [("u2", "price", "ran")]
        assert await listed(web, "?room=r1&outcome=skipped") == [("u1", "checkin", "skipped")]
        assert await listed(web, "?member=u1&since=2026-11-24") == [("u1", "checkin", "ran")]
        assert len(await listed(web, "?member=u1&until=2026-11-23")) == 2
        assert len(await listed(web, "?member=u1&since=2026-11-23T09:00&until=2026-11-23T10:00")) == 2
        page = (await web.get("/api/traces?member=u1&limit=2")).json()
        assert page["more"] is True and len(page["traces"]) == 2
        rest = (await web.get(f"/api/traces?member=u1&before={page['traces'][-1]['id']}")).json()
        assert [t["outcome"] for t in rest["traces"]] == ["ran"] and rest["more"] is False
        row = page["traces"][0]
        assert (row["member"], row["room"], row["text"]) == ("小红", "VIP 一群", "签到")


async def test_a_trace_shows_its_steps_in_order_with_the_reason(bot: TestBot) -> None:
    await seeded(bot)
    async with client(bot, "clerk") as web:
        [refused] = (await web.get("/api/traces?outcome=skipped")).json()["traces"]
        one = (await web.get(f"/api/traces/{refused['id']}")).json()
        assert one["summary"] == "没有执行：once：该成员今天已经执行过（每天一次）"
        assert [(s["kind"], s["what"], s["result"]) for s in one["steps"]] == [("condition", "once", False)]
        assert (await web.get("/api/traces/99999")).status_code == 404
        page = await web.get(f"/traces/{refused['id']}")
        assert page.status_code == 200 and 'data-id="' in page.text
        assert (await web.get("/traces")).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=501",
        "?limit=abc",
        "?since=yesterday",
        "?until=2026-13-01",
        "?until=9999-12-31",
        "?since=0001-01-01T00:00%2B14:00",
        "?since=2026-12-02&until=2026-12-01",
        "?outcome=maybe",
        "?stage=guard",
        "?member=" + "x" * 101,
        "?room=%1b%5B2J",
        "?before=0",
    ],
)
async def test_bad_input_gets_422_in_chinese(bot: TestBot, query: str) -> None:
    async with client(bot, "clerk") as web:
        answer = await web.get("/api/traces" + query)
        assert answer.status_code == 422
        assert "参数" in answer.json()["error"]


async def test_hostile_filters_are_only_text(bot: TestBot) -> None:
    await seeded(bot)
    async with client(bot, "clerk") as web:
        assert await listed(web, "?member=u1' OR '1'='1") == []
        assert await listed(web, "?playbook=%25") == []


async def test_only_staff_read_traces(bot: TestBot) -> None:
    await seeded(bot)
    async with client(bot, None) as anonymous:
        assert (await anonymous.get("/api/traces")).status_code == 401
        assert (await anonymous.get("/api/traces/1")).status_code == 401
    (refused,) = await bot.say("u1", "/后台")
    assert "后台登录链接" not in refused.text  # a member gets no link at all
    async with client(bot, "boss") as owner:
        assert len(await listed(owner)) >= 4


async def test_the_api_is_described(bot: TestBot) -> None:
    async with client(bot, None) as web:
        paths = (await web.get("/api/openapi.json")).json()["paths"]
        names = {p["name"] for p in paths["/api/traces"]["get"]["parameters"]}
        assert {"member", "room", "playbook", "since", "until", "limit"} <= names
        assert "422" in paths["/api/traces/{trace_id}"]["get"]["responses"]
