"""What one process of a fleet does besides handling events, on each heartbeat (`fleet.heartbeat`): say it is
alive, and the duties the fleet's other parts add (renew its leases and take over silent speakers' groups,
swap in playbook versions another process stored, alert about silent accounts)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.fleet import presence
from bot.fleet.health import Health
from bot.fleet.shared import SharedState
from bot.fleet.speaking import Speaking

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.events import Event

log = logging.getLogger("qunguan.fleet")
Duty = Callable[[], Awaitable[None]]
Receive = Callable[["Event"], Awaitable[bool | None]]


class FleetProcess:
    """Runs the duties in order on every beat; one that fails (the database away for a while) is logged and tried
    again on the next beat, and never stops the others or the bot."""

    def __init__(self, engine: Engine, receive: Receive) -> None:
        self.engine = engine
        self.receive = receive  # where events a takeover acts on go in, like the connector's
        self.account = engine.config.account
        self.started_at = engine.clock.now()
        self.speaking = Speaking(engine, receive)
        self.duties: list[tuple[str, Duty]] = [
            ("presence", self._alive),
            ("speaker", self.speaking.beat),  # leases renewed first, then silent speakers' groups taken over
            ("shared", SharedState(engine).follow),
            ("outbox", engine.outbox.released),  # rows other accounts queued for this one
            ("health", Health(engine).watch),
        ]
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
        for name, duty in self.duties:
            try:
                await duty()
            except Exception as exc:  # the next beat tries again; the bot goes on
                log.warning("fleet duty %s failed for account %s: %s", name, self.account, exc)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._beating(), name=f"fleet-{self.account}")

    async def _beating(self) -> None:
        seconds = self.engine.config.fleet.heartbeat.total_seconds()
        while True:
            await self.beat()
            await self.engine.clock.sleep(seconds)

    async def stop(self, *, status: str | None = "offline") -> None:
        """Stop beating; with a status (a clean stop), say so, so that the fleet need not wait for the lease."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if status is not None:
            await self.speaking.release()
            async with self.engine.store.unit() as conn:
                await presence.mark(conn, self.account, status, self.engine.clock.now())

    async def _alive(self) -> None:
        async with self.engine.store.unit() as conn:
            await presence.beat(conn, self.account, self.engine.clock.now(), started_at=self.started_at)
