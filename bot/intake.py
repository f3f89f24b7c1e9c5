"""Intake: the one way in for every inbound event (connectors, the simulator, TestBot, the scheduler's ticks),
in front of the engine.

Events wait in arrival order and one worker hands them to the engine in batches (group commit): everything
waiting, up to BATCH events, runs in one transaction, each event in its own savepoint (Engine.dispatch_batch).
A burst (a coupon drop, a quiz in a 500-member group) then costs one commit per batch instead of one per event,
and first come is first served: the order of arrival is the order of handling. No event waits for more to come:
one event alone is handled at once. A connector hands events over with `offer` and reads on while they wait;
when ROOM events wait, `offer` waits for room (back-pressure). Replies leave only after their batch commits.

When the store fails for a reason that passes (`dialect.transient`: another process holds SQLite's write lock,
the disk is full, the PostgreSQL connection dropped), the batch stands for nothing and its events are held: the
first is tried again alone with backoff, waiting through the Clock, for `store.retry_for` (config.yaml). Events
that arrive meanwhile are held behind it untried, so every group's events keep their order; once it is stored, the
rest go in batches again. An event still not
stored after that goes to the dead-letter file (`qunguan replay` brings it in). The log gets one WARNING when the
trouble starts and one when it ends, not one per try.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter, deque
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
BATCH = 100  # events in one transaction at most
ROOM = 1_000  # events waiting before `offer` waits for room

Outcome = bool | Exception  # handled (True), a duplicate or not for this bot (False), or what failed it alone
Dispatch = Callable[[Sequence[Event]], Awaitable[list[Outcome]]]
Answer = asyncio.Future[bool | None]


@dataclass(eq=False)
class _Waiting:
    seq: int  # arrival order
    event: Event
    until: datetime  # given up after this, while the store is in trouble
    answer: Answer
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


def _retrieved(answer: Answer) -> None:
    """A connector that hands events over never reads their answers: a failure is logged and dead-lettered here,
    not reported again by asyncio as never retrieved."""
    if not answer.cancelled():
        answer.exception()


def _answer(answer: Answer, outcome: bool | Exception | None) -> None:
    if answer.done():
        return
    if isinstance(outcome, Exception):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)


class Intake:
    def __init__(self, dispatch: Dispatch, clock: Clock, retry_for: timedelta, dead_letters: DeadLetters) -> None:
        self._dispatch = dispatch
        self._clock = clock
        self.retry_for = retry_for
        self.dead_letters = dead_letters
        self._arrivals = itertools.count()
        self._waiting: deque[_Waiting] = deque()  # in arrival order
        self._ids: Counter[str] = Counter()  # ids of the events waiting
        self._alone = 0  # the next this many go one at a time: their batch failed for one of them
        self._trouble: _Trouble | None = None
        self._error: BaseException | None = None  # the latest passing failure
        self._worker: asyncio.Task[None] | None = None
        self._sleeping_until: datetime | None = None
        self._changed = asyncio.Event()
        self._closed = False
        self.room = ROOM  # events waiting before `offer` waits

    async def offer(self, event: Event) -> Answer:
        """Hand an event over without waiting for its commit (a connector's next message need not wait): returns
        once the intake has room for it, with the future of what `receive` would return."""
        while len(self._waiting) >= self.room and not self._closed:
            await self._changed.wait()
        answer: Answer = asyncio.get_running_loop().create_future()
        answer.add_done_callback(_retrieved)
        if self._closed:  # stopping: what still comes is handled alone, held no more
            _answer(answer, await self._alone_now(event))
            return answer
        seq = next(self._arrivals)
        if self._trouble is not None:
            answer.set_result(None)  # held
            if self._ids[event.id]:
                return answer  # a redelivery of one already held: it acts once, when that one does
        self._ids[event.id] += 1
        self._waiting.append(_Waiting(seq, event, self._clock.now() + self.retry_for, answer))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="qunguan-intake")
        return answer

    async def receive(self, event: Event) -> bool | None:
        """True: handled; False: a duplicate, or not for this bot; None: held while the store is unusable.

        Any other failure is raised, after the event is written to the dead-letter file."""
        return await (await self.offer(event))

    async def _alone_now(self, event: Event) -> bool | Exception | None:
        try:
            (outcome,) = await self._dispatch([event])
        except Exception as exc:
            self._give_up([event], dialect.describe(exc), quiet=isinstance(exc, DatabaseGone))
            return None if dialect.transient(exc) else exc
        if isinstance(outcome, Exception):
            self._failed(event, outcome)
        return outcome

    # -- the worker

    async def _work(self) -> None:
        """Hand the waiting events over in batches, in order; while the store is in trouble the first alone, again
        and again with backoff, until it is stored or its time is up, and the next ones right after it."""
        delay = FIRST_RETRY
        while self._waiting:
            head = self._waiting[0]
            retrying = head.failed
            if retrying:
                await self._sleep_until(min(self._clock.now() + delay, head.until))
            alone = head.failed or self._alone > 0  # a retry goes alone; once it is stored, the rest in batches
            batch = [head] if alone else list(itertools.islice(self._waiting, BATCH))
            try:
                outcomes = await self._dispatch([w.event for w in batch])
            except Exception as exc:
                if dialect.transient(exc) and not self._closed:
                    self._begin(exc)
                    head.failed, self._error = True, exc
                    self._expire()
                    delay = min(delay * 2, LONGEST_RETRY) if retrying else delay
                    continue
                self._refused(batch, exc)
                continue
            self._done(batch, outcomes)
            if not self._waiting:
                self._end()
            delay = FIRST_RETRY
        self._notify()

    def _done(self, batch: list[_Waiting], outcomes: list[Outcome]) -> None:
        self._pop(len(batch))
        self._alone = max(self._alone - len(batch), 0)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self._failed(waiting.event, outcome)
            _answer(waiting.answer, outcome)
        if self._trouble is not None:
            self._trouble.handled += len(batch)

    def _refused(self, batch: list[_Waiting], exc: Exception) -> None:
        """A batch that failed as a whole for a reason that does not pass: its events one at a time, to tell the
        event it was from the rest; a single event to the dead-letter file; a database gone takes everything."""
        if isinstance(exc, DatabaseGone):
            everything = self._take(list(self._waiting))
            self._give_up([w.event for w in everything], dialect.describe(exc), quiet=True)
            for waiting in everything:
                _answer(waiting.answer, exc)
            return
        if len(batch) > 1:
            self._alone = len(batch)
            return
        self._pop(1)
        self._alone = max(self._alone - 1, 0)
        if dialect.transient(exc):  # stopping while the store is in trouble
            self._give_up([batch[0].event], dialect.describe(exc))
            _answer(batch[0].answer, None)
            return
        self._failed(batch[0].event, exc)
        _answer(batch[0].answer, exc)

    def _failed(self, event: Event, exc: Exception) -> None:
        log.error("event %s failed", summary(event), exc_info=exc)
        self._give_up([event], dialect.describe(exc))

    def _take(self, which: list[_Waiting]) -> list[_Waiting]:
        """Out of the queue, wherever they wait (a batch is its head: `_pop`)."""
        taken = set(map(id, which))
        gone = [w for w in self._waiting if id(w) in taken]
        self._waiting = deque(w for w in self._waiting if id(w) not in taken)
        self._forget(gone)
        return gone

    def _pop(self, count: int) -> list[_Waiting]:
        gone = [self._waiting.popleft() for _ in range(count)]
        self._forget(gone)
        return gone

    def _forget(self, gone: list[_Waiting]) -> None:
        for waiting in gone:
            event_id = waiting.event.id
            self._ids[event_id] -= 1
            if not self._ids[event_id]:
                del self._ids[event_id]
        self._notify()

    # -- while the store is in trouble

    def _begin(self, exc: BaseException) -> None:
        self._error = exc
        for waiting in self._waiting:  # held from now on: their senders are told so
            _answer(waiting.answer, None)
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
        due = self._take([w for w in self._waiting if w.until <= now])
        if due:
            reason = f"{dialect.describe(self._error or Exception())} (tried for {_span(self.retry_for)})"
            self._give_up([w.event for w in due], reason)
            for waiting in due:
                _answer(waiting.answer, None)

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
        """Stop: what was handed over is handled first; what is held for a store in trouble goes to the dead-letter
        file (a try under way finishes first; a worker waiting for its next try stops at once)."""
        self._closed = True
        worker = self._worker
        if worker is not None and not worker.done():
            if self._sleeping_until is not None:
                worker.cancel()
            await asyncio.wait({worker})
        if self._waiting:
            cause = dialect.describe(self._error or Exception("unknown"))
            held = self._take(list(self._waiting))
            self._give_up([w.event for w in held], f"the bot stopped while the database was unavailable ({cause})")
            for waiting in held:
                _answer(waiting.answer, None)

    async def abandon(self) -> None:
        """Drop what waits, as a kill -9 would (tests)."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.wait({self._worker})
        for waiting in self._take(list(self._waiting)):
            waiting.answer.cancel()
