"""The only place that reads the wall clock.

Everything else takes a `Clock`, so tests, scenarios and the simulator can move
time forward without sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def until(self, when: datetime) -> None:
        """Block until `when` has come; unlike `sleep`, never moves a virtual clock itself."""
        ...


@runtime_checkable
class SettableClock(Clock, Protocol):
    """A clock that can be moved forward on purpose: the scheduler steps it through due times (scenario runs, tests
    and the simulator's `/time`), so each schedule and window close happens with the clock at its moment."""

    def forward_to(self, when: datetime) -> None:
        """Move the clock to `when`; a moment already past leaves it where it is (time never goes back)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def until(self, when: datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds()))


class VirtualClock:
    """Time that moves only when told to.

    `sleep` jumps the clock forward instead of blocking: a short in-conversation
    `wait` then costs nothing in tests, and schedules that came due meanwhile are
    caught up by the next `advance` of the scheduler. `until` is the opposite: a
    background task (the outbox's delivery worker) waits there until someone else
    moves time, so it can never run the clock ahead of the test.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._waiters: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError("virtual time cannot go backwards")
        self._now = when
        due = [w for w in self._waiters if w[0] <= when]
        self._waiters = [w for w in self._waiters if w[0] > when]
        for _at, future in due:
            if not future.done():
                future.set_result(None)

    def forward_to(self, when: datetime) -> None:
        if when > self._now:
            self.set(when)

    async def sleep(self, seconds: float) -> None:
        self.set(self._now + timedelta(seconds=max(0.0, seconds)))
        await asyncio.sleep(0)

    async def until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (when, future)
        self._waiters.append(entry)
        try:
            await future
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)


class OffsetClock:
    """Wall time shifted by an offset that the simulator's `/time +1d` grows (and keeps in its database).

    Between jumps it runs with the wall clock, so waiting in real time still works."""

    def __init__(self, offset: timedelta = timedelta()) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def forward_to(self, when: datetime) -> None:
        ahead = when - self.now()
        if ahead > timedelta():
            self.offset += ahead

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def until(self, when: datetime) -> None:
        """Wall-clock waiting; a `/time +1d` meanwhile is noticed when the wait ends."""
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds()))
