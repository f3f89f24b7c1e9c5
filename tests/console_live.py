"""A console served for real to synchronous clients (schemathesis, httpx.Client): a TestBot on a SQLite file
and `serving(console, "127.0.0.1:0")`, both on an event loop of their own in a background thread, so a
test's blocking HTTP calls reach a server that keeps running while they wait.

`LiveConsole.start(folder)` as a context manager; `live.login("mgr")` logs a staff member in through the
one-time link the bot answers /后台 with (the same way a browser does) and returns the session cookie and
CSRF token; `live.run(coro)` runs a coroutine on the bot's loop (seeding data, reading rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bot.config import Config, StaffSection, WebSection
from bot.console.guard import COOKIE, Console
from bot.console.server import serving
from bot.testing import TestBot

T = TypeVar("T")
PUBLIC = "http://console.test"  # what links say; they are opened on the live address instead
CONFIG = Config(staff=StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"]), web=WebSection(public_url=PUBLIC))
PLAYBOOKS = {"checkin.yaml": "id: checkin\nwhen:\n  - message: {text: 签到}\ndo:\n  - reply: 签到成功\n"}
START_WAIT = 30.0  # seconds the bot and its console get to start


@dataclass(frozen=True)
class Login:
    """What a logged-in client sends: the session cookie on every call, the CSRF header on writes."""

    member_id: str
    session: str
    csrf: str

    @property
    def cookies(self) -> dict[str, str]:
        return {COOKIE: self.session}

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


class LiveConsole:
    def __init__(self, loop: asyncio.AbstractEventLoop, bot: TestBot, console: Console, base: str) -> None:
        self.loop = loop
        self.bot = bot
        self.console = console
        self.base = base

    @classmethod
    @contextlib.contextmanager
    def start(cls, folder: Path, playbooks: dict[str, str] | None = None) -> Iterator[LiveConsole]:
        """The bot's playbooks are files in `folder`/playbooks (the console may edit them); its database is
        `folder`/shop.db."""
        books = folder / "playbooks"
        books.mkdir(parents=True, exist_ok=True)
        for name, text in (PLAYBOOKS if playbooks is None else playbooks).items():
            (books / name).write_text(text, encoding="utf-8")
        ready: Future[LiveConsole] = Future()
        stop = threading.Event()

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(stopping.set)), daemon=True).start()
            async with TestBot.running(books, config=CONFIG, database=str(folder / "shop.db")) as bot:
                console = Console(bot.bot.store, bot.bot.config, bot.clock, books)
                async with serving(console, "127.0.0.1:0") as address:
                    ready.set_result(cls(loop, bot, console, f"http://{address}"))
                    await stopping.wait()

        def thread() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:  # the test reads it from `ready` instead of a silent dead thread
                if not ready.done():
                    ready.set_exception(exc)
                raise

        runner = threading.Thread(target=thread, name="live-console", daemon=True)
        runner.start()
        try:
            yield ready.result(START_WAIT)
        finally:
            stop.set()
            runner.join(START_WAIT)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the bot's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_WAIT)

    def link(self, member_id: str) -> str:
        """The path of a one-time login link the bot answers `member_id`'s /后台 with."""
        (answer,) = self.run(self.bot.say(member_id, "/后台"))
        url = answer.text.splitlines()[-1]
        assert url.startswith(PUBLIC + "/login/"), answer.text
        return url.removeprefix(PUBLIC)

    def login(self, member_id: str) -> Login:
        with httpx.Client(base_url=self.base) as client:
            done = client.post(self.link(member_id))
            assert done.status_code == 303, done.text
            me = client.get("/api/me")
            assert me.status_code == 200, me.text
            return Login(member_id, client.cookies[COOKIE], me.json()["csrf"])

    def client(self, login: Login | None = None) -> httpx.Client:
        """A client of the live console, logged in as `login` (cookie and CSRF header) or not at all."""
        if login is None:
            return httpx.Client(base_url=self.base)
        return httpx.Client(base_url=self.base, cookies=login.cookies, headers=login.headers)
