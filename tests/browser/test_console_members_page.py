"""The 会员 page in a real browser: find a member, open their card, give points as /加分 does and see the
ledger; hostile names render as text (no dialog, no script); only admins see 遗忘, and it asks for the id."""

from __future__ import annotations

from conftest import Live, shoot
from playwright.async_api import Dialog, Page
from sqlalchemy import select

from bot.store.tables import AuditEntry

PLAYBOOKS = {"checkin.yaml": "id: checkin\nwhen:\n  - message: {text: 签到}\ndo:\n  - checkin: {points: 5}\n"}
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('x')</script>"


async def seed(live: Live) -> None:
    bot = live.bot
    bot.member("u1", "小红")
    bot.member("u2", IMG)
    bot.member("u3", SCRIPT)
    await bot.join("u1", "r1")
    await bot.join("u2", "r1", by="u1")
    await bot.join("u3", "r1")
    for member in ("u1", "u2", "u3"):
        await bot.say(member, "签到", room="r1")


def watch_dialogs(page: Page) -> list[str]:
    """Every alert/confirm the page opens (a script from a name would): tests assert there were none."""
    opened: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        opened.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


async def test_find_a_member_open_the_card_and_add_points_as_the_chat_command_does(live: Live) -> None:
    await seed(live)
    page = await live.open("clerk", "/members")
    dialogs = watch_dialogs(page)
    await page.get_by_label("名字或微信 ID").fill("红")
    await page.get_by_role("button", name="搜索").click()
    await page.get_by_role("link", name="小红").click()
    await page.wait_for_url(live.base + "/members?id=u1")
    card = page.locator("#card")
    await card.get_by_text("引入期").wait_for()
    assert await page.locator("#member-name").inner_text() == "小红"
    await page.get_by_label("分数").fill("10")
    await page.get_by_label("原因").fill("帮忙拉新")
    await page.get_by_role("button", name="加分").click()
    await page.get_by_text("已给 小红 加 10 分（帮忙拉新），现在共 15 分").wait_for()
    ledger = page.locator("#details table").nth(2)
    await ledger.get_by_text("帮忙拉新（clerk）").wait_for()
    assert "+10" in await ledger.inner_text()
    await page.get_by_label("标签名").fill("常客")
    await page.get_by_role("button", name="打标签").click()
    await page.locator("#tags").get_by_text("常客").wait_for()
    assert await page.locator("#forget").is_hidden()  # 遗忘 is for admins
    await shoot(page, "members-card")
    rows = await live.bot.rows(select(AuditEntry.command, AuditEntry.result).where(AuditEntry.member_id == "clerk"))
    assert {("console.add_points", "ok"), ("console.tag", "ok")} <= {tuple(r) for r in rows}
    assert dialogs == [] and live.errors == []


async def test_hostile_names_are_text_in_the_search_and_on_the_card(live: Live) -> None:
    await seed(live)
    page = await live.open("clerk", "/members")
    dialogs = watch_dialogs(page)
    results = page.locator("#found")
    await results.get_by_role("link", name=IMG).wait_for()
    await results.get_by_role("link", name=SCRIPT).wait_for()
    assert await page.locator("#found img").count() == 0 and await page.locator("#found script").count() == 0
    await shoot(page, "members-search")
    await results.get_by_role("link", name=IMG).click()
    await page.wait_for_url(live.base + "/members?id=u2")
    name = page.locator("#member-name")
    await name.get_by_text(IMG).wait_for()
    assert await name.inner_text() == IMG
    assert await page.locator("#card").get_by_role("link", name="小红").count() == 1  # the inviter
    await page.get_by_role("button", name="加分").click()  # the form checks the amount first: nothing sent
    await page.get_by_label("分数").fill("3")
    await page.get_by_role("button", name="加分").click()
    await page.get_by_text(f"已给 {IMG} 加 3 分（店员加分），现在共 8 分").wait_for()
    assert await page.locator("main img").count() == 0
    assert dialogs == [] and live.errors == []


async def test_an_admin_forgets_a_member_after_typing_the_id(live: Live) -> None:
    await seed(live)
    page = await live.open("mgr", "/members?id=u3")
    dialogs = watch_dialogs(page)
    await page.locator("#member-name").get_by_text(SCRIPT).wait_for()
    await page.get_by_role("button", name="遗忘…").click()
    await page.get_by_label("输入微信 ID 确认").fill("u1")
    await page.get_by_role("button", name="确认遗忘").click()
    await page.get_by_text("请输入这位成员的微信 ID 确认遗忘").wait_for()
    await shoot(page, "members-forget")
    await page.get_by_label("输入微信 ID 确认").fill("u3")
    await page.get_by_role("button", name="确认遗忘").click()
    await page.locator("#forget-answer").get_by_text("已遗忘成员").wait_for()
    await page.goto(live.base + "/members?q=u3")
    await page.locator("#found").get_by_text("没有数据").wait_for()
    assert dialogs == [] and live.errors == []
