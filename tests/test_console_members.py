"""The console's 会员 section through its API: search by name or WeChat id, a member's whole card, points and
tags given through the chat commands' own code (same ledger rows, same role, `commands:` overrides included,
audited as console.<action>), and erasing a member as `qunguan forget` does (admins, after a confirmation).
Every read goes through the console's reader; time is the bot's virtual clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import insert, select

from bot.config import Config, StaffSection, WebSection
from bot.console.app import create_app
from bot.console.guard import Console
from bot.console.tables import Trace
from bot.forget import pseudonym
from bot.store.tables import AuditEntry, Member, OptOut
from bot.testing import TestBot
from handlers.coupons import Coupon
from handlers.points import PointsEntry
from handlers.tags import MemberTag

pytestmark = pytest.mark.usefixtures("backend")

PUBLIC = "https://shop.example.cn"
STAFF = StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"])
CONFIG = Config(staff=STAFF, web=WebSection(public_url=PUBLIC))
PLAYBOOKS = {
    "playbooks/checkin.yaml": "id: checkin\nwhen:\n  - message: {text: 签到}\ndo:\n  - checkin: {points: 5}\n",
    "playbooks/coupons.yaml": (
        "id: gift\ncoupons:\n  - {id: gift, title: 到店礼, stock: 10}\nwhen:\n  - message: {text: 领券}\n"
        "do:\n  - coupon: gift\n"
    ),
}
XSS = "<img src=x onerror=alert(1)>"


@asynccontextmanager
async def logged_in(bot: TestBot, member_id: str, config: Config = CONFIG) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a console session of `member_id` (a /后台 link, its POST) and its CSRF header set."""
    console = Console(bot.bot.store, config, bot.clock)
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        (answer,) = await bot.say(member_id, "/后台")
        assert (await client.post(answer.text.splitlines()[-1].removeprefix(PUBLIC))).status_code == 303
        client.headers["X-CSRF-Token"] = (await client.get("/api/me")).json()["csrf"]
        yield client


@pytest.fixture
async def bot() -> AsyncIterator[TestBot]:
    async with TestBot.running(PLAYBOOKS, config=CONFIG) as running:
        running.member("u1", "小红")
        running.member("u2", XSS)
        running.member("u3", "阿明")
        await running.join("u1", "r1")
        await running.join("u3", "r1", by="u1")
        await running.say("u1", "签到", room="r1")
        await running.say("u1", "领券", room="r1")
        await running.say("u2", "你好", room="r1")
        yield running


@pytest.fixture
async def clerk(bot: TestBot) -> AsyncIterator[httpx.AsyncClient]:
    async with logged_in(bot, "clerk") as client:
        yield client


async def audit_rows(bot: TestBot, command: str) -> list[tuple[str, str, str | None, str]]:
    rows = await bot.rows(
        select(AuditEntry.member_id, AuditEntry.result, AuditEntry.target_id, AuditEntry.args).where(
            AuditEntry.command == command
        )
    )
    return [tuple(r) for r in rows]


async def test_search_finds_members_by_part_of_the_name_or_the_wechat_id(
    bot: TestBot, clerk: httpx.AsyncClient
) -> None:
    by_name = (await clerk.get("/api/members", params={"q": "红"})).json()["members"]
    assert [(m["id"], m["name"], m["points"], m["groups"]) for m in by_name] == [("u1", "小红", 5, 1)]
    by_id = (await clerk.get("/api/members", params={"q": "u3"})).json()["members"]
    assert [m["name"] for m in by_id] == ["阿明"]
    hostile = (await clerk.get("/api/members", params={"q": "<img"})).json()["members"]
    assert [m["name"] for m in hostile] == [XSS]  # data, returned as it is: the page writes it as text
    assert (await clerk.get("/api/members", params={"q": "%"})).json()["members"] == []  # a literal %, no wildcard
    latest = (await clerk.get("/api/members")).json()["members"]
    assert {"u1", "u2", "u3"} <= {m["id"] for m in latest}


async def test_a_search_too_long_or_with_control_characters_is_refused_in_chinese(clerk: httpx.AsyncClient) -> None:
    long = await clerk.get("/api/members", params={"q": "长" * 51})
    assert long.status_code == 422 and "太长" in long.json()["error"]
    control = await clerk.get("/api/members", params={"q": "a\x00b"})
    assert control.status_code == 422 and "控制字符" in control.json()["error"]


async def test_the_member_card_shows_groups_stage_tags_points_checkins_coupons_inviter_and_traces(
    bot: TestBot, clerk: httpx.AsyncClient
) -> None:
    await bot.say("clerk", "/标签 u1 常客", room="r1")
    async with bot.bot.store.unit() as conn:
        await conn.execute(insert(OptOut.__table__).values(member_id="u1", at=bot.clock.now()))
        await conn.execute(
            insert(Trace.__table__).values(
                at=bot.clock.now(), event_key="e1", kind="message", room_id="r1", member_id="u1", stage="playbook",
                name="checkin", outcome="skipped", summary="今天已经签到过（once）",
            )
        )  # fmt: skip
    card = (await clerk.get("/api/members/u1")).json()
    assert (card["id"], card["name"], card["points"], card["stage"]) == ("u1", "小红", 5, "引入期")
    assert [(g["room_id"], g["active"]) for g in card["groups"]] == [("r1", True)]
    assert [(i["id"], i["name"]) for i in card["invitees"]] == [("u3", "阿明")]
    assert card["tags"] == ["常客"]
    assert [(e["delta"], e["balance"], e["reason"]) for e in card["ledger"]] == [(5, 5, "签到")]
    assert [(c["streak"], c["points"]) for c in card["checkins"]] == [(1, 5)]
    assert [(c["title"], c["state"]) for c in card["coupons"]] == [("到店礼", "usable")]
    assert card["opted_out"] is not None
    latest = card["traces"][0]  # the newest first (the bot's own traces of u1's messages follow, once written)
    assert (latest["name"], latest["outcome"], latest["summary"]) == ("checkin", "skipped", "今天已经签到过（once）")
    assert card["can"] == {"add_points": True, "subtract_points": True, "tag": True, "untag": True, "forget": False}
    invited = (await clerk.get("/api/members/u3")).json()
    assert [g["inviter"] for g in invited["groups"]] == [{"id": "u1", "name": "小红"}]


async def test_the_card_counts_live_warnings_and_lists_the_moderation_log(
    bot: TestBot, clerk: httpx.AsyncClient
) -> None:
    await bot.say("clerk", "/警告 u2 发广告", room="r1")
    card = (await clerk.get("/api/members/u2")).json()
    assert card["moderation"]["live_warnings"] == 1
    assert [(e["action"], e["reason"]) for e in card["moderation"]["entries"]] == [("warn", "发广告")]
    await bot.say("mgr", "/撤销 u2", room="r1")
    cleared = (await clerk.get("/api/members/u2")).json()["moderation"]
    assert cleared["live_warnings"] == 0
    assert [e["cleared_at"] is not None for e in cleared["entries"] if e["action"] == "warn"] == [True]


async def test_an_unknown_member_is_404_in_chinese(clerk: httpx.AsyncClient) -> None:
    missing = await clerk.get("/api/members/nobody")
    assert missing.status_code == 404 and missing.json()["error"] == "没有这个成员"
    points = await clerk.post("/api/members/nobody/add-points", json={"amount": 5})
    assert points.status_code == 404


async def test_points_from_the_console_are_the_chat_commands_ledger_rows_and_are_audited(
    bot: TestBot, clerk: httpx.AsyncClient
) -> None:
    given = await clerk.post("/api/members/u1/add-points", json={"amount": 20, "reason": "帮忙拉新"})
    assert given.json() == {"result": "ok", "text": "已给 小红 加 20 分（帮忙拉新），现在共 25 分"}
    (chat,) = await bot.say("clerk", "/加分 u1 20 帮忙拉新", room="r1")
    assert chat.text == "已给 小红 加 20 分（帮忙拉新），现在共 45 分"  # the very same answer from the chat
    ledger = await bot.rows(
        select(PointsEntry.delta, PointsEntry.reason, PointsEntry.playbook_id).where(PointsEntry.member_id == "u1")
    )
    assert [tuple(r) for r in ledger][-2:] == [(20, "帮忙拉新（clerk）", "staff")] * 2
    too_many = await clerk.post("/api/members/u1/subtract-points", json={"amount": 999})
    assert too_many.json() == {"result": "insufficient", "text": "小红 只有 45 分，不够扣 999 分"}
    assert await audit_rows(bot, "console.add_points") == [("clerk", "ok", "u1", "u1 +20 帮忙拉新")]
    assert await audit_rows(bot, "console.subtract_points") == [("clerk", "insufficient", "u1", "u1 -999")]
    assert [r[1] for r in await audit_rows(bot, "加分")] == ["ok"]  # the chat command's own row, beside


async def test_points_out_of_range_get_the_chat_commands_usage_text_and_change_nothing(
    bot: TestBot, clerk: httpx.AsyncClient
) -> None:
    for amount in (0, 100_001):
        refused = await clerk.post("/api/members/u1/add-points", json={"amount": amount})
        assert refused.status_code == 422 and refused.json()["error"] == "分数要在 1 到 100000 之间"
    for amount in ("10", 1.5, True):
        not_a_number = await clerk.post("/api/members/u1/add-points", json={"amount": amount})
        assert not_a_number.status_code == 422 and not_a_number.json()["error"] == "分数应是整数"
    long = await clerk.post("/api/members/u1/add-points", json={"amount": 1, "reason": "很" * 51})
    assert long.status_code == 422
    assert (await clerk.get("/api/members/u1")).json()["points"] == 5
    assert [r[1] for r in await audit_rows(bot, "console.add_points")] == ["usage", "usage"]
    whole = await clerk.post("/api/members/u1/add-points", json={"amount": 2.0})  # JSON's integer 2
    assert whole.json()["text"] == "已给 小红 加 2 分（店员加分），现在共 7 分"


async def test_tags_from_the_console_are_the_chat_commands(bot: TestBot, clerk: httpx.AsyncClient) -> None:
    given = await clerk.post("/api/members/u2/tag", json={"name": "VIP"})
    assert given.json() == {"result": "ok", "text": f"已给 {XSS} 打上标签「VIP」"}
    assert [tuple(r) for r in await bot.rows(select(MemberTag.member_id, MemberTag.tag))] == [("u2", "VIP")]
    gone = await clerk.post("/api/members/u2/untag", json={"name": "VIP"})
    assert gone.json()["result"] == "ok"
    again = await clerk.post("/api/members/u2/untag", json={"name": "VIP"})
    assert again.json() == {"result": "absent", "text": f"{XSS} 没有标签「VIP」"}
    blank = await clerk.post("/api/members/u2/tag", json={"name": "  "})
    assert blank.status_code == 422 and blank.json()["error"] == "请写出标签名"
    assert [r[1] for r in await audit_rows(bot, "console.tag")] == ["ok", "usage"]


async def test_a_staff_action_needs_the_chat_commands_role_with_commands_overrides(bot: TestBot) -> None:
    raised = CONFIG.model_copy(update={"commands": {"加分": "admin"}})
    async with logged_in(bot, "clerk", raised) as clerk:
        refused = await clerk.post("/api/members/u1/add-points", json={"amount": 5})
        assert refused.status_code == 403
        assert (await clerk.get("/api/members/u1")).json()["can"]["add_points"] is False
        assert (await clerk.post("/api/members/u1/tag", json={"name": "ok"})).status_code == 200  # 标签 unchanged
    async with logged_in(bot, "mgr", raised) as mgr:
        assert (await mgr.post("/api/members/u1/add-points", json={"amount": 5})).json()["result"] == "ok"
    lowered = CONFIG.model_copy(update={"commands": {"扣分": "owner"}})
    async with logged_in(bot, "mgr", lowered) as mgr:
        assert (await mgr.post("/api/members/u1/subtract-points", json={"amount": 1})).status_code == 403
    assert [r[0] for r in await audit_rows(bot, "console.add_points")] == ["mgr"]


async def test_a_write_without_the_csrf_token_is_refused(bot: TestBot, clerk: httpx.AsyncClient) -> None:
    del clerk.headers["X-CSRF-Token"]
    assert (await clerk.post("/api/members/u1/add-points", json={"amount": 5})).status_code == 403
    assert (await clerk.get("/api/members/u1")).json()["points"] == 5


async def test_forget_is_for_admins_after_typing_the_id_and_is_audited(bot: TestBot, clerk: httpx.AsyncClient) -> None:
    assert (await clerk.post("/api/members/u1/forget", json={"confirm": "u1"})).status_code == 403
    async with logged_in(bot, "mgr") as mgr:
        slip = await mgr.post("/api/members/u1/forget", json={"confirm": "u3"})
        assert slip.status_code == 409 and slip.json()["error"] == "请输入这位成员的微信 ID 确认遗忘"
        assert (await mgr.get("/api/members/u1")).json()["name"] == "小红"
        done = await mgr.post("/api/members/u1/forget", json={"confirm": "u1"})
        assert done.status_code == 200 and done.json()["pseudonym"] == pseudonym("u1")
        assert (await mgr.get("/api/members/u1")).status_code == 404
        twice = await mgr.post("/api/members/u1/forget", json={"confirm": "u1"})
        assert twice.status_code == 404 and "已经遗忘过" in twice.json()["error"]
    assert await bot.rows(select(Member.id).where(Member.id == "u1")) == []
    assert [tuple(r) for r in await bot.rows(select(Coupon.member_id))] == [(pseudonym("u1"),)]
    audited = await bot.rows(
        select(AuditEntry.member_id, AuditEntry.role, AuditEntry.target_id).where(
            AuditEntry.command == "console.forget"
        )
    )
    assert [tuple(r) for r in audited] == [("mgr", "admin", pseudonym("u1"))]
    assert "u1" not in json.dumps([tuple(r) for r in audited])


async def test_a_lone_surrogate_or_control_character_in_a_body_is_refused(
    bot: TestBot, clerk: httpx.AsyncClient
) -> None:
    for body in ('{"name": "\\ud800"}', '{"name": "a\\u0000b"}'):  # as JSON escapes: what a client can send
        refused = await clerk.post("/api/members/u1/tag", content=body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 422 and refused.json()["error"] == "标签名 含有控制字符"
    assert await bot.rows(select(MemberTag.tag)) == []
