"""The intake's own bounds (bot/intake.py), seen from a connector handing events over: a batch holds at most
BATCH events, in arrival order, and a connector that gets ahead of the engine by ROOM events waits for room,
losing nothing. The engine is replaced by a dispatch that records what it is given (the edge under test)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.clock import VirtualClock
from bot.deadletters import DeadLetters
from bot.events import Event, MemberRef, MessageEvent, RoomRef
from bot.intake import BATCH, Intake

AT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def messages(count: int) -> list[Event]:
    room = RoomRef("r1", "秒杀群")
    return [
        MessageEvent(id=f"e{i}", at=AT, sender=MemberRef(f"m{i}", f"m{i}"), text="抢券", room=room)
        for i in range(count)
    ]


class Engine:
    """Records each batch it is given; holds them while `open` is clear (a slow commit)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.open = asyncio.Event()
        self.open.set()

    async def dispatch(self, events: Sequence[Event]) -> list[bool | Exception]:
        self.batches.append([e.id for e in events])
        await self.open.wait()
        return [True] * len(events)


def intake_for(engine: Engine) -> Intake:
    return Intake(engine.dispatch, VirtualClock(AT), timedelta(minutes=1), DeadLetters(None))


async def test_a_burst_of_250_goes_in_batches_of_at_most_100_in_arrival_order() -> None:
    engine = Engine()
    intake = intake_for(engine)
    burst = messages(250)
    answers = [await intake.offer(event) for event in burst]
    assert await asyncio.gather(*answers) == [True] * 250
    assert [len(batch) for batch in engine.batches] == [BATCH, BATCH, 50]
    assert [event_id for batch in engine.batches for event_id in batch] == [e.id for e in burst]


async def test_a_connector_ahead_of_a_slow_commit_waits_for_room_and_loses_nothing() -> None:
    engine = Engine()
    engine.open.clear()  # the first batch's commit takes its time
    intake = intake_for(engine)
    intake.room = 150
    burst = messages(151)
    answers = [await intake.offer(event) for event in burst[:150]]
    last = asyncio.ensure_future(intake.offer(burst[150]))
    for _ in range(10):  # yields, no time passes: the worker takes its first batch as soon as the offer waits
        await asyncio.sleep(0)
    assert engine.batches == [[e.id for e in burst[:BATCH]]] and not last.done()  # full: the connector waits
    engine.open.set()
    answers.append(await last)  # room again once the first batch is done
    assert await asyncio.gather(*answers) == [True] * 151
    assert [event_id for batch in engine.batches for event_id in batch] == [e.id for e in burst]
