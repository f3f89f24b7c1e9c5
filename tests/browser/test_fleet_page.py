"""The 账号 page in a real browser: two accounts of a fleet on the bot's own database, one online and one logged
out by WeChat with words that are HTML (shown as text, no dialog fires); the page reads again by itself and shows
an account whose heartbeat stopped as offline; desktop and phone shots."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import Live, shoot
from test_console_ops_pages import no_dialogs

from bot.config import Config
from bot.fleet import presence
from bot.fleet.accounts import run_as
from bot.testing import TestBot

SHOP = {
    "staff": {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]},
    "web": {"public_url": "http://console.test"},  # as tests/browser/conftest.py's CONFIG
    "accounts": {"shop-a": {}, "shop-b": {}},
    "fleet": {"lease": "30s"},
}
CONFIG = run_as(Config.model_validate(SHOP), "shop-a")  # the live bot runs shop-a
IMG = "<img src=x onerror=alert(1)>"


async def test_the_fleet_page_shows_each_account_and_wechat_s_words_as_text(live: Live, tmp_path: Path) -> None:
    a = live.bot
    b = await TestBot.create(
        {}, config=run_as(Config.model_validate(SHOP), "shop-b"), database=str(tmp_path / "shop.db"), clock=a.clock
    )
    for bot in (a, b):
        assert bot.bot.fleet is not None
        await bot.bot.fleet.beat()
    async with b.bot.store.unit() as conn:
        await presence.mark(conn, "shop-b", "logged_out", b.clock.now(), reason=f"已被封号 {IMG}")
    await b.bot.crash()
    page = await live.open("clerk", "/fleet")
    dialogs = no_dialogs(page)
    up, down = page.locator('[data-account="shop-a"]'), page.locator('[data-account="shop-b"]')
    await down.wait_for()
    assert await up.get_attribute("class") == "account up"
    assert "在线" in await up.inner_text() and "0 秒前" in await up.inner_text()
    assert await down.get_attribute("class") == "account down"
    assert f"原因：已被封号 {IMG}" in await down.inner_text() and "已掉线" in await down.inner_text()
    assert await page.locator("main img").count() == 0
    await shoot(page, "fleet")
    a.clock.set(a.clock.now() + timedelta(seconds=45))  # shop-a's process stops beating too
    await page.locator('[data-account="shop-a"].down').wait_for(timeout=15_000)  # the page's next read
    assert "没有心跳" in await up.inner_text() and "45 秒前" in await up.inner_text()
    assert dialogs == [] and live.errors == []
