"""The console's sandboxes: the simulator in the browser, each on a throwaway copy of the shop's database.

Each sandbox is a separate bot (bot/console/sandbox_bot.py) running in a thread of its own with its own event
loop; the console's loop (which is the bot's, under `qunguan run`) only waits on thread-safe futures, so a
check-in or a day of schedules in a sandbox never runs on it. The database is copied through the console's
reader (bot/console/reads.py), off the loop too (bot/console/sandbox_copy.py).

Staff may use sandboxes: nothing in one reaches the shop (its own database copy, its own clock, a memory
connector instead of WeChat). So that nobody can exhaust the machine, a console keeps at most MAX_SANDBOXES
(MAX_PER_MEMBER each), closes one unused for IDLE by the console's clock (looked at on every sandbox call),
and the API bounds what is typed and how far time moves.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any, TypeVar

from bot.console.guard import Console
from bot.console.sandbox_copy import COPY, EMPTY, backup

if TYPE_CHECKING:
    from bot.console.sandbox_bot import SandboxBot

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_SANDBOXES = 4  # per console: each is a bot, a thread and a copy of the database
MAX_PER_MEMBER = 2  # so one staff member cannot take them all
IDLE = timedelta(minutes=30)  # a sandbox unused this long (console clock) is closed and its copy deleted
STOP_WAIT = 10.0  # seconds a closing sandbox's thread gets to end (it deletes the copy)


class SandboxRefused(Exception):
    """A sandbox cannot be made or used: `status` and a Chinese message for the page."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Sandbox:
    """One sandbox: its thread, its loop, its temporary folder (the database copy), and the bot in there."""

    def __init__(self, owner: str, now: datetime) -> None:
        self.id = secrets.token_urlsafe(12)
        self.owner = owner
        self.created = now
        self.used = now
        self.database = EMPTY
        self._folder = TemporaryDirectory(prefix="qunguan-sandbox-")  # 0700; also removed at exit if left
        self.file = Path(self._folder.name) / "sandbox.db"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.id[:6]}", daemon=True)
        self._thread.start()
        self._bot: SandboxBot | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()
            self._folder.cleanup()

    async def _there(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the sandbox's loop; the caller's loop only waits."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def start(self, console: Console, folder: Path) -> None:
        # Imported here: the CLI imports the console's routes, and `qunguan check` must not load the bot's runtime.
        from bot.console.sandbox_bot import SandboxBot

        copied = await console.reader.run(partial(backup, target=self.file))
        self.database = COPY if copied else EMPTY
        start = console.clock.now()
        self._bot = await self._there(SandboxBot.open(console.config, folder, self.file, start))

    async def call(self, work: Callable[[SandboxBot], Awaitable[T]]) -> T:
        """`await sandbox.call(lambda bot: bot.say(...))`: done by the sandbox's bot, in its thread."""
        bot = self._bot
        if bot is None:
            raise SandboxRefused("沙盒还没准备好", 409)

        async def run() -> T:
            return await work(bot)

        return await self._there(run())

    def about(self) -> dict[str, Any]:
        bot = self._bot
        return {
            "id": self.id,
            "database": self.database,
            "created": self.created.isoformat(),
            "used": self.used.isoformat(),
            "now": bot.local_now() if bot else None,
            "playbooks": bot.playbooks if bot else [],
            "problems": bot.problems if bot else [],
        }

    async def close(self) -> None:
        """Stop the bot, then the loop, and wait (off the loop) for the thread to end: it deletes the copy."""
        try:
            if self._bot is not None:
                await self._there(self._bot.close())
        except Exception:
            log.exception("sandbox %s did not close cleanly", self.id)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, STOP_WAIT)


class Sandboxes:
    """The sandboxes of one console, each used only by the staff member who made it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._all: dict[str, Sandbox] = {}

    def now(self) -> datetime:
        return self.console.clock.now()

    async def expire(self) -> None:
        """Close every sandbox unused for IDLE."""
        now = self.now()
        for sandbox in [s for s in self._all.values() if now - s.used >= IDLE]:
            self._all.pop(sandbox.id, None)
            await sandbox.close()

    def of(self, owner: str) -> list[Sandbox]:
        return [s for s in self._all.values() if s.owner == owner]

    async def create(self, owner: str) -> Sandbox:
        await self.expire()
        folder = self.console.playbooks
        if folder is None:
            raise SandboxRefused("这个后台没有剧本文件夹（例如在终端模拟器里运行），沙盒没有剧本可用", 409)
        if len(self._all) >= MAX_SANDBOXES:
            raise SandboxRefused(
                f"沙盒已满（最多 {MAX_SANDBOXES} 个）：请先删掉不用的，或等 {_minutes(IDLE)} 分钟没人用的自动关闭", 429
            )
        if len(self.of(owner)) >= MAX_PER_MEMBER:
            raise SandboxRefused(f"每人最多 {MAX_PER_MEMBER} 个沙盒：请先删掉一个", 429)
        sandbox = Sandbox(owner, self.now())
        self._all[sandbox.id] = sandbox  # the place is taken before the copy starts: two clicks make two at most
        try:
            await sandbox.start(self.console, folder)
        except Exception as exc:
            self._all.pop(sandbox.id, None)
            await sandbox.close()
            log.exception("sandbox could not start")
            raise SandboxRefused("沙盒无法启动：原因写在机器人的日志里", 503) from exc
        return sandbox

    async def get(self, sandbox_id: str, owner: str) -> Sandbox:
        """The owner's sandbox, now marked used; another's, or one expired, is not found."""
        await self.expire()
        sandbox = self._all.get(sandbox_id)
        if sandbox is None or sandbox.owner != owner:
            raise SandboxRefused(f"沙盒不存在或已过期（{_minutes(IDLE)} 分钟没人用会自动关闭）：请新建一个", 404)
        sandbox.used = self.now()
        return sandbox

    async def delete(self, sandbox_id: str, owner: str) -> None:
        sandbox = await self.get(sandbox_id, owner)
        self._all.pop(sandbox.id, None)
        await sandbox.close()

    async def close(self) -> None:
        for sandbox in list(self._all.values()):
            await sandbox.close()
        self._all.clear()


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)
