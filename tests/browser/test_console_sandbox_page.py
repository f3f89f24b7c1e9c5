"""The sandbox page in a real browser: chat with the bot as a member, move the sandbox's clock, and a hostile
message shows as text."""

from __future__ import annotations

from conftest import ROOT, Live, shoot
from playwright.async_api import Dialog, Page, expect

PLAYBOOKS = ROOT / "playbooks"  # the shipped ones: what a shop starts with


async def send(page: Page, text: str) -> None:
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")


async def test_type_a_check_in_see_the_answer_move_a_day_and_check_in_again(live: Live) -> None:
    page = await live.open("clerk", "/sandbox")  # staff may use the sandbox
    chat = page.locator("#chat")
    await expect(page.locator("#status")).to_contain_text("临时副本")
    await send(page, "签到")
    await expect(chat.locator(".msg.bot .bubble").last).to_have_text("小王 签到成功！连续 1 天，+5 分，共 5 分")
    await expect(chat.locator(".msg.member .bubble").last).to_have_text("签到")
    await page.locator("#amount").fill("1")
    await page.locator("#unit").select_option("days")
    await page.get_by_role("button", name="快进").click()
    await expect(chat.locator(".msg.note .bubble").last).to_contain_text("时间快进了 1 天")
    await send(page, "签到")
    await expect(chat.locator(".msg.bot .bubble").last).to_have_text("小王 签到成功！连续 2 天，+5 分，共 10 分")
    assert await live.bot.field("u1", "points") == 0  # the shop's own database: untouched
    await shoot(page, "sandbox")
    assert live.errors == []


async def test_a_script_typed_in_the_sandbox_shows_as_text_and_runs_nothing(live: Live) -> None:
    page = await live.open("mgr", "/sandbox", phone=True)
    dialogs: list[str] = []

    async def dismissed(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismissed)
    await expect(page.locator("#status")).to_contain_text("临时副本")
    await page.locator("#member").fill("u9")
    await page.locator("#name").fill("<img src=x onerror=alert(2)>")
    await page.get_by_role("button", name="加入群").click()
    await expect(page.locator("#chat .msg.note .bubble").last).to_have_text(
        "<img src=x onerror=alert(2)> 加入了群「会员福利1群」"
    )
    await send(page, "<script>alert(1)</script>")
    await expect(page.locator("#chat .msg.member .bubble").last).to_have_text("<script>alert(1)</script>")
    assert await page.locator("#chat script, #chat img").count() == 0
    await shoot(page, "sandbox-hostile")
    assert dialogs == [] and live.errors == []
