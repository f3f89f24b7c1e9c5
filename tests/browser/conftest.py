"""Browser tests: the console served for real (uvicorn on the session's event loop, a SQLite file, the virtual
clock) and driven by Debian's Chromium, headless, through Playwright (executable_path: nothing downloaded).

Outside CI a machine without Chromium skips these tests with the reason; under CI=true nothing skips
(.ci/run installs chromium and fonts-wqy-microhei first). Each test may `shoot(page, name)`: screenshots at
desktop and phone width go to screenshots/ (not committed), one of them shown in the README.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from backends import missing
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bot.config import Config, StaffSection, WebSection
from bot.console.guard import Console
from bot.console.server import serving
from bot.testing import TestBot

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots"
PUBLIC = "http://console.test"  # what links say; the tests open them on the live address instead
STAFF = StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"])
CONFIG = Config(staff=STAFF, web=WebSection(public_url=PUBLIC))
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
# As the machine's notes say: without these, Chromium tries Google's hosts at every start on a closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("QUNGUAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests here run on the session's event loop, the one the shared Chromium is driven from."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)  # before the default one


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the session (starting it took a few seconds per test); each test's pages live in
    browser contexts of their own, closed after it (`live`), so no cookie or storage reaches the next test."""
    path = chromium_path()
    if path is None:
        missing("no Chromium: install Debian's chromium (and fonts-wqy-microhei) to run the console's browser tests")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, headless=True, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Live:
    """A bot with its console served on 127.0.0.1: `open(member)` logs a browser page in as that staff member."""

    bot: TestBot
    base: str
    browser: Browser
    errors: list[str] = field(default_factory=list)  # JavaScript errors on any page: tests assert there were none
    contexts: list[BrowserContext] = field(default_factory=list)  # the test's own, closed after it

    async def link(self, member_id: str) -> str:
        """A one-time link the bot answers /后台 with, pointing at the live address."""
        (answer,) = await self.bot.say(member_id, "/后台")
        url = answer.text.splitlines()[-1]
        assert url.startswith(PUBLIC + "/login/"), answer.text
        return self.base + url.removeprefix(PUBLIC)

    async def page(self, *, phone: bool = False) -> Page:
        context = await self.browser.new_context(viewport=PHONE if phone else DESKTOP, locale="zh-CN")
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page

    async def open(self, member_id: str, path: str = "/", *, phone: bool = False) -> Page:
        page = await self.page(phone=phone)
        await page.goto(await self.link(member_id))
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_url(self.base + "/")
        if path != "/":
            await page.goto(self.base + path)
        return page


@pytest_asyncio.fixture(loop_scope="session")
async def live(browser: Browser, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    """The console of a bot on a SQLite file. A test module may set PLAYBOOKS (dict or folder) and CONFIG."""
    playbooks = getattr(request.module, "PLAYBOOKS", {})
    config = getattr(request.module, "CONFIG", CONFIG)
    async with TestBot.running(playbooks, config=config, database=str(tmp_path / "shop.db")) as bot:
        folder = playbooks if isinstance(playbooks, Path) else None
        console = Console(bot.bot.store, bot.bot.config, bot.clock, folder)
        async with serving(console, "127.0.0.1:0") as address:
            live = Live(bot, f"http://{address}", browser)
            try:
                yield live
            finally:
                for context in live.contexts:
                    await context.close()


async def shoot(page: Page, name: str) -> None:
    """Screenshots of the page as it is, at desktop and at phone width (screenshots/NAME-desktop.png, -phone)."""
    SHOTS.mkdir(exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
