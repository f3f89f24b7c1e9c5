"""The 发送, 审计, 群管理 and 增长 pages in a real browser: each shows its data (from the bot's own database), a
member named like a script and message texts with HTML and javascript: links show as text (no dialog ever
fires), staff see no 解封 button while an admin lifts a blacklisting from the page; desktop and phone shots."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import Live, shoot
from playwright.async_api import Dialog, Page, expect
from sqlalchemy import insert

from bot.events import MemberRef, Outgoing, RoomRef
from bot.governor import Status
from bot.outbox import status
from bot.outbox.rows import TABLE, entry

PLAYBOOKS = Path(__file__).parents[1] / "console_ops_playbooks"  # shared with tests/test_console_ops.py
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "javascript:alert(1)"


def no_dialogs(page: Page) -> list[str]:
    """Every dialog a page opens (a script that ran would open one); dismissed so nothing hangs."""
    opened: list[str] = []

    async def seen(dialog: Dialog) -> None:
        opened.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", seen)
    return opened


async def hostile(live: Live) -> None:
    """A member named like a script posts HTML and a javascript: link in a group: warned by the links playbook;
    an admin blacklists them with a reason that is HTML too."""
    bot = live.bot
    await bot.add_room("r1", "会员1群")
    bot.member("x1", SCRIPT)
    await bot.say("x1", f"{IMG} 点这里 {LINK}", room="r1")
    await bot.say("mgr", f"/拉黑 x1 {IMG}")


async def queue(live: Live) -> None:
    """Messages to the hostile member: one waiting, one failed with a reason that is HTML (WeChat's error texts
    are not ours either); and the governor paused by a refusal."""
    bot = live.bot
    now = bot.clock.now()
    member, room = MemberRef("x1", SCRIPT), RoomRef("r1", "会员1群")
    waiting = Outgoing(f"回复 {IMG} {LINK}", room=room, mentions=(member,))
    failed = Outgoing(f"私信 {SCRIPT}", member=member)
    rows = [
        entry(
            m,
            key=f"test/{i}",
            kind="reply",
            event_id="test",
            playbook_id="links",
            reply_to=None,
            now=now,
            not_before=now,
        )
        for i, m in enumerate((waiting, failed))
    ]
    rows[1] |= {"state": "failed", "last_error": f"RuntimeError: {IMG}", "attempts": 4}
    async with bot.bot.store.unit() as conn:
        for row in rows:
            await conn.execute(insert(TABLE).values(**row))
        why = "微信拒绝发送（操作过于频繁）"
        await status.publish(conn, Status("open", now + timedelta(minutes=10), why, 1), None)


async def test_the_sending_page_shows_the_pause_the_limit_the_queue_and_failures_as_text(live: Live) -> None:
    await hostile(live)
    page = await live.open("clerk", "/sending")
    dialogs = no_dialogs(page)
    await queue(live)  # after the login: the bot sends what is queued whenever it answers (unpaced)
    await page.reload()
    await page.locator("#failed table").wait_for()
    governor = await page.locator("#governor").inner_text()
    assert "已暂停发送" in governor and "微信拒绝发送（操作过于频繁）" in governor
    assert "今日已发" in await page.locator("#today").inner_text()
    pending = await page.locator("#pending").inner_text()
    assert f"回复 {IMG} {LINK}" in pending and SCRIPT in pending
    failed = await page.locator("#failed").inner_text()
    assert f"私信 {SCRIPT}" in failed and f"RuntimeError: {IMG}" in failed
    assert await page.locator("main img").count() == 0 and await page.locator("main script").count() == 0
    await shoot(page, "sending")
    assert dialogs == [] and live.errors == []


async def test_the_audit_page_lists_chat_commands_and_console_logins_and_filters_them(live: Live) -> None:
    await hostile(live)
    page = await live.open("clerk", "/audit")
    dialogs = no_dialogs(page)
    rows = page.locator("#rows tbody tr")
    await rows.first.wait_for()
    text = await page.locator("#rows").inner_text()
    assert "console.login" in text and "网页后台" in text and "/拉黑" in text and IMG in text
    await page.locator("select[name=source]").select_option("console")
    await page.get_by_role("button", name="筛选").click()
    await expect(page.locator("#rows")).not_to_contain_text("/拉黑")  # (wait_for_function's polling would eval)
    assert "console.login" in await page.locator("#rows").inner_text()
    await shoot(page, "audit")
    assert dialogs == [] and live.errors == []


async def test_the_moderation_page_shows_the_log_as_text_and_staff_cannot_lift(live: Live) -> None:
    await hostile(live)
    page = await live.open("clerk", "/moderation")
    dialogs = no_dialogs(page)
    await page.locator("#log table").wait_for()
    await page.locator("#blacklist table").wait_for()
    log = await page.locator("#log").inner_text()
    assert SCRIPT in log and f"{IMG} 点这里 {LINK}" in log and "发可疑链接" in log and "拉黑" in log
    listed = await page.locator("#blacklist").inner_text()
    assert SCRIPT in listed and IMG in listed and "解封需要 /解封 的身份" in listed
    assert await page.locator("button.lift").count() == 0
    assert await page.locator("main img").count() == 0 and await page.locator("main a").count() == 0
    await shoot(page, "moderation")
    assert dialogs == [] and live.errors == []


async def test_an_admin_lifts_a_blacklisting_from_the_page(live: Live) -> None:
    await hostile(live)
    page = await live.open("mgr", "/moderation", phone=True)
    dialogs = no_dialogs(page)
    lift = page.locator("button.lift")
    await lift.click()
    assert await lift.inner_text() == "确认解封"  # a second tap confirms
    await lift.click()
    await page.get_by_text(f"已解封 {SCRIPT}").wait_for()
    await page.get_by_text("共 0 人").wait_for()
    await page.locator("#log").get_by_text("解封", exact=True).wait_for()
    assert dialogs == [] and live.errors == []


async def test_the_growth_page_shows_the_catalogue_group_buys_rfm_and_fields(live: Live) -> None:
    bot = live.bot
    await bot.add_room("r1", "会员1群")
    await bot.seed("u1", rooms=["r1"])
    await bot.say("clerk", "/加分 u1 80")
    await bot.say("u1", "/兑换 定制杯子")
    await bot.say("u1", "城市 杭州", room="r1")
    await bot.say("clerk", "/记单 u1 88")
    await bot.say("clerk", "/开团", room="r1")
    await bot.say("u1", "参团", room="r1")
    await bot.say("u2", "参团", room="r1")
    page = await live.open("clerk", "/growth")
    await page.locator("#fields table").wait_for()
    rewards = await page.locator("#rewards").inner_text()
    assert "定制杯子（cup）" in rewards and "剩 2 份" in rewards
    assert "u1" in await page.locator("#exchanges").inner_text()
    tuan = await page.locator("#group-buys").inner_text()
    assert "会员1群" in tuan and "成团领券 2" in tuan
    rfm = await page.locator("#rfm").inner_text()
    assert "重要发展用户" in rfm and "¥88.00" in rfm
    assert "城市（city）" in await page.locator("#fields").inner_text()
    await shoot(page, "growth")
    assert live.errors == []
