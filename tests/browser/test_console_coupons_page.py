"""The 优惠券 page in a real browser, on the shipped playbooks: the batches with their stock, and the till: a
code a customer shows is redeemed once (核销成功), the second time refused, an unknown code refused. A customer
named like a script stays a name in the answer."""

from __future__ import annotations

from pathlib import Path

from conftest import PUBLIC, STAFF, Live, shoot
from playwright.async_api import Dialog, expect
from sqlalchemy import select

from bot.config import Config, RoomSection, WebSection
from handlers.coupons import Coupon

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
CONFIG = Config(
    staff=STAFF,
    web=WebSection(public_url=PUBLIC),
    rooms=[RoomSection(id="r1", topic="会员福利1群", tags=["会员群"])],
)
IMG = "<img src=x onerror=alert(1)>"


async def test_redeem_a_coupon_at_the_till_once(live: Live) -> None:
    bot = live.bot
    bot.member("u1", IMG)
    await bot.say("clerk", "/发券 weekend-10off", room="r1")
    await bot.say("u1", "抢券", room="r1")
    (row,) = await bot.rows(select(Coupon.code).where(Coupon.member_id == "u1"))
    page = await live.open("clerk", "/coupons")
    dialogs: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    batches = page.locator("#batches")
    weekend = batches.locator("tr", has_text="weekend-10off")
    await weekend.wait_for()
    assert (await weekend.locator("td").all_inner_texts())[1:] == ["周末满100减10券", "50", "49", "1", "1", "0", "0"]
    await page.get_by_label("券码").fill(row.code.lower())
    await page.get_by_role("button", name="核销").click()
    answer = page.locator("#answer")
    await answer.get_by_text(f"核销成功：周末满100减10券（{row.code}），顾客 {IMG}").wait_for()
    await expect(weekend.locator("td").nth(6)).to_have_text("1")  # the table counts it at once
    await shoot(page, "coupons-till")
    await page.get_by_label("券码").fill(row.code)
    await page.get_by_role("button", name="核销").click()
    await answer.get_by_text("这张券已经核销过了").wait_for()
    await page.get_by_label("券码").fill("WK23456789")
    await page.get_by_role("button", name="核销").click()
    await answer.get_by_text("没有找到券码 WK23456789，请核对后再试").wait_for()
    assert await page.locator("main img").count() == 0
    assert dialogs == [] and live.errors == []


async def test_a_till_without_the_role_cannot_redeem(live: Live) -> None:
    live.bot.bot.config.commands["核销"] = "admin"  # config.yaml `commands: {核销: admin}`
    page = await live.open("clerk", "/coupons")
    assert await page.get_by_role("button", name="核销").is_disabled()
    status = await page.evaluate(
        """async () => (await fetch('/api/coupons/redeem', {method: 'POST', headers: {'Content-Type':
        'application/json', 'X-CSRF-Token': document.querySelector('meta[name=qg-csrf]').content},
        body: JSON.stringify({code: 'WK23456789'})})).status"""
    )
    assert status == 403
    await shoot(page, "coupons-staff")
