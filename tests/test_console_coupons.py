"""The console's 优惠券 section through its API: each batch's stock and what became of its codes, and the till,
which redeems as /核销 does (the same code, role with `commands:` overrides, refusals and Chinese answers;
audited as console.redeem). Customers copy codes: a second redemption, a code from elsewhere, an expired code
are each refused and change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.config import Config, StaffSection, WebSection
from bot.console.app import create_app
from bot.console.guard import Console
from bot.store.tables import AuditEntry
from bot.testing import TestBot
from handlers.coupons import Coupon, new_code
from handlers.orders import Order

pytestmark = pytest.mark.usefixtures("backend")

PUBLIC = "https://shop.example.cn"
CONFIG = Config(staff=StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"]), web=WebSection(public_url=PUBLIC))
PLAYBOOKS = {
    "gift.yaml": (
        "id: gift\ncoupons:\n  - {id: gift, title: 到店礼, stock: 10, valid_for: 1d, code_prefix: GF}\n"
        "when:\n  - message: {text: 领券}\ndo:\n  - coupon: gift\n"
    ),
    "drop.yaml": (
        "id: drop\ncoupons:\n  - {id: drop, title: 抢券礼, stock: 5, code_prefix: WK}\n"
        "when:\n  - schedule: {cron: '0 12 1 1 *'}\ndo:\n  - claim: {batch: drop}\n"
    ),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The playbooks as files too: the console reads the batches' titles and stock from the folder."""
    for name, text in PLAYBOOKS.items():
        (tmp_path / name).write_text(text, "utf-8")
    return tmp_path


@pytest.fixture
async def bot() -> AsyncIterator[TestBot]:
    async with TestBot.running(PLAYBOOKS, config=CONFIG) as running:
        running.member("u1", "小红")
        running.member("u2", "<script>alert(1)</script>")
        for member in ("u1", "u2"):
            await running.say(member, "领券", room="r1")
        yield running


@asynccontextmanager
async def till(
    bot: TestBot, member_id: str = "clerk", config: Config = CONFIG, folder: Path | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A console session of `member_id` (a /后台 link, its POST), CSRF header set."""
    console = Console(bot.bot.store, config, bot.clock, folder)
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        (answer,) = await bot.say(member_id, "/后台")
        assert (await client.post(answer.text.splitlines()[-1].removeprefix(PUBLIC))).status_code == 303
        client.headers["X-CSRF-Token"] = (await client.get("/api/me")).json()["csrf"]
        yield client


async def code_of(bot: TestBot, member_id: str) -> str:
    (row,) = await bot.rows(select(Coupon.code).where(Coupon.member_id == member_id, Coupon.batch_id == "gift"))
    return str(row.code)


async def redeemed(bot: TestBot) -> list[tuple[str, str, str | None]]:
    rows = await bot.rows(
        select(AuditEntry.member_id, AuditEntry.result, AuditEntry.target_id)
        .where(AuditEntry.command == "console.redeem")
        .order_by(AuditEntry.id)
    )
    return [tuple(r) for r in rows]


async def test_a_code_redeems_once_at_the_till_and_the_second_time_says_when_and_by_whom(bot: TestBot) -> None:
    code = await code_of(bot, "u1")
    async with till(bot) as clerk:
        first = await clerk.post("/api/coupons/redeem", json={"code": code.lower()[:4] + " " + code.lower()[4:]})
        assert first.json() == {"result": "ok", "text": f"核销成功：到店礼（{code}），顾客 小红"}
        second = await clerk.post("/api/coupons/redeem", json={"code": code})
        assert second.json() == {
            "result": "already",
            "text": "这张券已经核销过了：2026-11-23 09:00 由 clerk 核销，不能重复使用",
        }
    (chat,) = await bot.say("mgr", f"/核销 {code}", room="r1")
    assert chat.text == second.json()["text"]  # the chat says exactly what the till said
    assert await redeemed(bot) == [("clerk", "ok", "u1"), ("clerk", "already", "u1")]


async def test_a_code_from_another_shop_or_a_typo_is_unknown_and_an_expired_one_refused(bot: TestBot) -> None:
    copied = new_code("GF")  # looks like ours, was never issued here
    async with till(bot) as clerk:
        unknown = await clerk.post("/api/coupons/redeem", json={"code": copied})
        assert unknown.json() == {"result": "unknown", "text": f"没有找到券码 {copied}，请核对后再试"}
        blank = await clerk.post("/api/coupons/redeem", json={"code": " - "})
        assert blank.status_code == 422 and blank.json()["error"] == "请写出券码"
    await bot.advance(timedelta(days=1))
    async with till(bot) as clerk:
        late = await clerk.post("/api/coupons/redeem", json={"code": await code_of(bot, "u2")})
        assert late.json() == {"result": "expired", "text": "这张券已过期（2026-11-24 09:00 到期），不能核销"}
    assert [r[1] for r in await redeemed(bot)] == ["unknown", "usage", "expired"]
    assert await bot.rows(select(Coupon.code).where(Coupon.redeemed_at.is_not(None))) == []


async def test_an_amount_is_recorded_as_the_order_and_a_bad_one_redeems_nothing(bot: TestBot) -> None:
    code = await code_of(bot, "u1")
    async with till(bot) as clerk:
        bad = await clerk.post("/api/coupons/redeem", json={"code": code, "amount": "八十"})
        assert bad.json()["result"] == "refused" and "这次没有核销" in bad.json()["text"]
        assert await bot.rows(select(Coupon.code).where(Coupon.redeemed_at.is_not(None))) == []
        done = await clerk.post("/api/coupons/redeem", json={"code": code, "amount": "88.50"})
        assert done.json()["result"] == "ok" and done.json()["text"].endswith("已记入订单")
    orders = await bot.rows(select(Order.member_id, Order.amount_cents, Order.coupon_code))
    assert [tuple(r) for r in orders] == [("u1", 8850, code)]


async def test_redeeming_needs_the_role_of_the_chat_command_with_its_override(bot: TestBot) -> None:
    code = await code_of(bot, "u1")
    raised = CONFIG.model_copy(update={"commands": {"核销": "admin"}})
    async with till(bot, "clerk", raised) as clerk:
        assert (await clerk.post("/api/coupons/redeem", json={"code": code})).status_code == 403
        assert (await clerk.get("/api/coupons")).json()["can_redeem"] is False
        page = await clerk.get("/coupons")
        assert 'id="redeem-button" disabled' in page.text
    async with till(bot, "mgr", raised) as mgr:
        assert (await mgr.post("/api/coupons/redeem", json={"code": code})).json()["result"] == "ok"
    assert await redeemed(bot) == [("mgr", "ok", "u1")]


async def test_batches_show_stock_left_issued_claimed_redeemed_and_expired(bot: TestBot, folder: Path) -> None:
    await bot.say("clerk", "/发券 drop", room="r1")
    for member in ("u1", "u3"):
        await bot.say(member, "抢券", room="r1")
    async with till(bot, folder=folder) as clerk:
        await clerk.post("/api/coupons/redeem", json={"code": await code_of(bot, "u1")})
    await bot.advance(timedelta(days=1))
    async with till(bot, folder=folder) as clerk:
        batches = (await clerk.get("/api/coupons")).json()["batches"]
    counts = {
        b["id"]: (b["title"], b["stock"], b["left"], b["issued"], b["claimed"], b["redeemed"], b["expired"])
        for b in batches
    }
    assert counts == {"gift": ("到店礼", 10, 8, 2, 0, 1, 1), "drop": ("抢券礼", 5, 3, 2, 2, 0, 0)}


async def test_without_the_playbooks_folder_batches_still_show_from_their_codes(bot: TestBot) -> None:
    async with till(bot) as clerk:
        (gift,) = (await clerk.get("/api/coupons")).json()["batches"]
    seen = (gift["id"], gift["title"], gift["declared"], gift["stock"], gift["issued"])
    assert seen == ("gift", "到店礼", False, None, 2)


async def test_a_redeem_body_that_is_not_text_is_refused(bot: TestBot) -> None:
    async with till(bot) as clerk:
        for body in ({"code": 12345}, {}, {"code": "A" * 41}, {"code": "GF", "amount": 8}):
            refused = await clerk.post("/api/coupons/redeem", json=body)
            assert refused.status_code == 422, body
