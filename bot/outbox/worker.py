"""The delivery worker task (bot/outbox): wakes when rows are released or when the clock reaches the next send,
passes over the queue, and settles the tests waiting for it. What one pass sends is Delivery's (delivery.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock

log = logging.getLogger("qunguan.outbox")

PASS_RETRY = timedelta(seconds=10)  # after a pass failed on the database


class Worker(ABC):
    """The worker task when paced; unpaced there is none and `flush` sends what is due."""

    def __init__(self, clock: Clock, *, paced: bool) -> None:
        self.clock = clock
        self.paced = paced
        self.wake_at: datetime | None = None  # when the worker looks again by itself (None: when told)
        self._lock = asyncio.Lock()  # one sender at a time: the account sends one message at a time
        self._wake = asyncio.Event()
        self._kicks = 0
        self._settle_waiters: list[tuple[float, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @abstractmethod
    async def _pass(self) -> datetime | None:
        """Send what is due now; returns when to look again."""

    @abstractmethod
    def forget(self) -> None:
        """Something unexpected happened: read the queue again next time."""

    async def flush(self) -> datetime | None:
        """Send everything the governor allows right now; returns when more may go."""
        async with self._lock:
            self.wake_at = await self._pass()
        return self.wake_at

    def wake(self) -> None:
        """New rows were committed (paced): start the worker if need be and have it look now."""
        self.start()
        self._wake.set()

    def start(self) -> None:
        """Start the delivery worker (paced only); the engine also starts it on the first event."""
        if not self.paced or self._task is not None or self._closing:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="qunguan-outbox")
        self._task.add_done_callback(self._worker_done)

    async def settled(self) -> None:
        """Return once the bot has sent everything the governor allows at the clock's present (tests)."""
        if not self.paced:
            await self.flush()
            return
        self.start()
        if self._task is None or self._task.done():
            return
        self._kicks += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._settle_waiters.append((self._kicks, future))
        self._wake.set()
        await future

    async def abandon(self) -> None:
        """Stop the worker where it stands, recording nothing (tests: what a kill -9 leaves behind)."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._closing:
            generation = self._kicks
            self._wake.clear()
            try:
                async with self._lock:
                    wake = await self._pass()
            except Exception:
                log.exception("delivery pass failed; trying again in %s", PASS_RETRY)
                self.forget()
                wake = self.clock.now() + PASS_RETRY
            self.wake_at = wake
            self._settled(generation)
            if self._closing:
                break
            await self._sleep(wake)

    async def _sleep(self, wake: datetime | None) -> None:
        """Until new rows are released, or the clock reaches `wake`."""
        if self._wake.is_set():
            return
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
        if wake is not None:
            waits.add(asyncio.ensure_future(self.clock.until(wake)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _settled(self, generation: float) -> None:
        keep = []
        for wanted, future in self._settle_waiters:
            if wanted <= generation:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((wanted, future))
        self._settle_waiters = keep

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self._settled(math.inf)
        if not task.cancelled() and task.exception() is not None:
            log.error("the outbox worker stopped", exc_info=task.exception())
