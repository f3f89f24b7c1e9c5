"""Logging in to the console in a real browser: the link the bot sends, the 登录 button, and the refusals."""

from __future__ import annotations

from datetime import timedelta

from conftest import Live, shoot


async def test_a_staff_member_logs_in_with_the_link_from_the_bot_and_sees_the_console(live: Live) -> None:
    page = await live.page()
    await page.goto(await live.link("clerk"))
    await shoot(page, "login")
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(live.base + "/")
    assert "已登录：clerk（staff）" in await page.locator("main").inner_text()
    await shoot(page, "home")
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url(live.base + "/")
    assert "请先登录" in await page.locator("h1").inner_text()
    assert live.errors == []


async def test_a_used_link_is_refused_in_the_browser(live: Live) -> None:
    link = await live.link("clerk")
    first = await live.page()
    await first.goto(link)
    await first.get_by_role("button", name="登录").click()
    await first.wait_for_url(live.base + "/")
    again = await live.page()  # another browser (a forwarded link): no session of its own
    await again.goto(link)
    await again.get_by_role("button", name="登录").click()
    assert "已经用过了" in await again.locator("main").inner_text()
    assert "已登录" not in await again.locator("main").inner_text()


async def test_an_expired_link_is_refused_in_the_browser(live: Live) -> None:
    link = await live.link("clerk")
    await live.bot.advance(timedelta(minutes=10))
    page = await live.page()
    await page.goto(link)
    await page.get_by_role("button", name="登录").click()
    assert "已过期" in await page.locator("main").inner_text()
    await page.goto(live.base + "/")
    assert "请先登录" in await page.locator("h1").inner_text()
