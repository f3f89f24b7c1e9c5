"""Intake: the one way in for every inbound event (connectors, the simulator, TestBot, the scheduler's ticks),
around Engine.dispatch.

When the store fails for a reason that passes (`dialect.transient`: another process holds SQLite's write lock,
the disk is full, the PostgreSQL connection dropped), the event is held and tried again with backoff, waiting
through the Clock, for `store.retry_for` (config.yaml). Events that arrive meanwhile are held behind it untried,
so every group's events keep their order. An event still not stored after that goes to the dead-letter file
(`qunguan replay` brings it in). The log gets one WARNING when the trouble starts and one when it ends, not one
per try. When nothing fails, an event costs a counter and two checks here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.deadletters import DeadLetters
from bot.events import Event, summary
from bot.store import DatabaseGone, dialect

log = logging.getLogger("qunguan.intake")

FIRST_RETRY = timedelta(seconds=1)  # after a failed try; doubles up to LONGEST_RETRY
LONGEST_RETRY = timedelta(seconds=30)

Dispatch = Callable[[Event], Awaitable[bool]]


@dataclass
class _Held:
    seq: int  # arrival order
    event: Event
    until: datetime  # given up after this
    failed: bool = False  # tried and failed (an untried one goes without a pause)


@dataclass
class _Trouble:
    since: datetime
    handled: int = 0
    given_up: int = 0


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Intake:
    def __init__(self, dispatch: Dispatch, clock: Clock, retry_for: timedelta, dead_letters: DeadLetters) -> None:
        self._dispatch = dispatch
        self._clock = clock
        self.retry_for = retry_for
        self.dead_letters = dead_letters
        self._arrivals = itertools.count()
        self._held: list[_Held] = []  # in arrival order
        self._held_ids: set[str] = set()
        self._direct = 0  # events being dispatched at once, not held
        self._trouble: _Trouble | None = None
        self._error: BaseException | None = None  # the latest passing failure
        self._worker: asyncio.Task[None] | None = None
        self._sleeping_until: datetime | None = None
        self._changed = asyncio.Event()
        self._closed = False

    async def offer(self, event: Event) -> asyncio.Future[bool | None]:
        """Hand an event over without waiting for its commit (a connector's next message need not wait): returns
        once the intake has room for it, with the future of what `receive` would return."""
        return asyncio.ensure_future(self.receive(event))

    async def receive(self, event: Event) -> bool | None:
        """True: handled; False: a duplicate, or not for this bot; None: held while the store is unusable.

        Any other failure is raised, after the event is written to the dead-letter file."""
        seq = next(self._arrivals)
        if self._trouble is not None and not self._closed:
            self._hold(_Held(seq, event, self._clock.now() + self.retry_for))
            return None
        self._direct += 1
        try:
            return await self._dispatch(event)
        except Exception as exc:
            passing = dialect.transient(exc)
            if passing and not self._closed:
                self._begin(exc)
                self._hold(_Held(seq, event, self._clock.now() + self.retry_for, failed=True))
                return None
            self._give_up([event], dialect.describe(exc), quiet=isinstance(exc, DatabaseGone))
            if passing:
                return None
            raise
        finally:
            self._direct -= 1
            if self._trouble is not None:
                self._notify()

    # -- while the store is in trouble

    def _begin(self, exc: BaseException) -> None:
        self._error = exc
        if self._trouble is not None:
            return
        self._trouble = _Trouble(self._clock.now())
        where = self.dead_letters.path or "the log"
        log.warning(
            "database unavailable (%s): events are held and tried again in order for up to %s, then written to %s",
            dialect.describe(exc),
            _span(self.retry_for),
            where,
        )

    def _hold(self, held: _Held) -> None:
        if held.event.id in self._held_ids:
            return  # a redelivery of one already held: it acts once, when that one does
        self._held_ids.add(held.event.id)
        self._held.append(held)
        if len(self._held) > 1 and self._held[-2].seq > held.seq:  # failed after later ones were held
            self._held.sort(key=lambda h: h.seq)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="qunguan-intake")

    async def _work(self) -> None:
        """Try the held events in order: the first again and again, with backoff, until it is stored or its
        time is up; the next ones right after it while the store works."""
        delay = FIRST_RETRY
        while self._held and not self._closed:
            if self._held[0].failed:
                await self._sleep_until(min(self._clock.now() + delay, self._held[0].until))
            while self._direct:  # those dispatched at once finish (or are held) first
                await self._changed.wait()
            if not self._held or self._closed:
                break
            head = self._held[0]
            try:
                await self._dispatch(head.event)
            except Exception as exc:
                if dialect.transient(exc):
                    head.failed, self._error = True, exc
                    self._expire()
                    delay = min(delay * 2, LONGEST_RETRY)
                    continue
                gone = isinstance(exc, DatabaseGone)
                if not gone:
                    log.error("held event %s failed", summary(head.event), exc_info=exc)
                self._give_up(self._take(self._held if gone else [head]), dialect.describe(exc), quiet=gone)
                continue
            self._take([head])
            if self._trouble is not None:
                self._trouble.handled += 1
            delay = FIRST_RETRY
            if not self._held:
                self._end()
        self._notify()

    def _end(self) -> None:
        trouble, self._trouble = self._trouble, None
        if trouble is None:
            return
        lost = f"; {trouble.given_up} written to {self.dead_letters.path or 'the log'}" if trouble.given_up else ""
        log.warning(
            "database available again after %s: %d held event(s) handled in order%s",
            _span(self._clock.now() - trouble.since),
            trouble.handled,
            lost,
        )

    def _expire(self) -> None:
        now = self._clock.now()
        due = self._take([h for h in self._held if h.until <= now])
        if due:
            self._give_up(due, f"{dialect.describe(self._error or Exception())} (tried for {_span(self.retry_for)})")

    def _take(self, which: Sequence[_Held]) -> list[Event]:
        taken = {id(h) for h in which}
        events = [h.event for h in self._held if id(h) in taken]
        self._held = [h for h in self._held if id(h) not in taken]
        self._held_ids.difference_update(e.id for e in events)
        return events

    def _give_up(self, events: Sequence[Event], reason: str, *, quiet: bool = False) -> None:
        """To the dead-letter file (or whole into the log), with the reason and the time."""
        if not events:
            return
        if self._trouble is not None:
            self._trouble.given_up += len(events)
        if not self.dead_letters.add(events, reason, self._clock.now()):
            return
        level = logging.INFO if quiet else logging.ERROR  # quiet: the stop line (DatabaseGone) says it all
        for event in events:
            log.log(
                level,
                "event %s not stored (%s): written to %s; `qunguan replay` brings it in",
                summary(event),
                reason,
                self.dead_letters.path,
            )

    async def _sleep_until(self, when: datetime) -> None:
        self._sleeping_until = when
        self._notify()
        try:
            await self._clock.until(when)
        finally:
            self._sleeping_until = None

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- lifecycle

    async def settled(self) -> None:
        """Return once the held events have been tried as far as the clock's present allows (tests)."""
        while self._worker is not None and not self._worker.done():
            if self._sleeping_until is not None and self._sleeping_until > self._clock.now():
                return
            await self._changed.wait()

    async def close(self) -> None:
        """Stop trying: what is still held goes to the dead-letter file. A try under way finishes first (it
        may be sending the event's replies); a worker waiting for its next try stops at once."""
        self._closed = True
        worker = self._worker
        if worker is not None and not worker.done():
            if self._sleeping_until is not None:
                worker.cancel()
            await asyncio.wait({worker})
        if self._held:
            cause = dialect.describe(self._error or Exception("unknown"))
            self._give_up(self._take(self._held), f"the bot stopped while the database was unavailable ({cause})")

    async def abandon(self) -> None:
        """Drop what is held, as a kill -9 would (tests)."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.wait({self._worker})
        self._take(self._held)
