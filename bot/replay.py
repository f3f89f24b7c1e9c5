"""`qunguan replay`: the events of a dead-letter file into the database, through the engine, each once.

The playbooks run as they would have when the event came: the replay's clock reads each event's own time
(a check-in counts for the day it was said). Replies are queued in the outbox for the running bot, or its next
start, to send: a replay never talks to WeChat and never touches the running bot's messages in flight. Every
event keeps its id, so one already stored is a duplicate and acts not again.

While it runs the file is renamed (`….replaying-PID`): the bot writes new dead letters to a fresh file, and
what fails again is appended there. A replay cut short leaves the renamed file, which the next one picks up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bot.app import restore
from bot.clock import SystemClock, VirtualClock
from bot.config import Config
from bot.connectors.base import Emit
from bot.deadletters import Letter, append, read
from bot.engine import Engine
from bot.events import FriendRequest, Outgoing, summary
from bot.outbox import Outbox
from bot.playbook.library import PlaybookSet
from bot.store import Store, dialect
from bot.store.tables import SeenEvent

REPLAYED, DUPLICATE, NOT_OURS, FAILED = "replayed", "duplicate", "not for this bot", "failed again"


class _Offline:
    """The replay's connector: it reaches no WeChat account."""

    paced = True

    async def start(self, emit: Emit) -> None:
        return None

    async def send(self, message: Outgoing) -> str | None:
        raise RuntimeError("a replay sends nothing: the running bot sends what it queued")

    async def accept_friend(self, request: FriendRequest) -> None:
        raise RuntimeError("a replay accepts nothing: the running bot's outbox sends the acceptances it queued")

    async def stop(self) -> None:
        return None

    async def is_friend(self, member_id: str) -> bool:
        raise RuntimeError("a replay reaches no WeChat account; the running bot looks it up when it needs to")


class _QueueOnly(Outbox):
    """Rows are written in each event's transaction as always; nothing is sent from here."""

    async def released(self) -> None:
        return None


@dataclass(frozen=True)
class Outcome:
    letter: Letter
    result: str
    detail: str = ""

    def line(self) -> str:
        what = summary(self.letter.event) if self.letter.event else f"line {self.letter.line}"
        return f"{self.result}: {what}" + (f": {self.detail}" if self.detail else "")


def _claim(file: Path) -> list[Path]:
    """Take the file (and what an interrupted replay left) away from the bot, oldest first."""
    left = sorted(file.parent.glob(f"{file.name}.replaying-*"), key=lambda p: p.stat().st_mtime)
    if file.exists():
        mine = file.with_name(f"{file.name}.replaying-{os.getpid()}")
        os.replace(file, mine)
        left.append(mine)
    return left


async def replay_file(config: Config, playbooks: PlaybookSet, database: str, file: Path) -> list[Outcome] | None:
    """Replay every event of `file` into `database` (which must exist); None when there is no such file."""
    store = await Store.open(database, create=False)
    try:
        claimed = _claim(file)
        if not claimed:
            return None
        letters = [letter for path in claimed for letter in read(path)]
        events = [letter.event for letter in letters if letter.event is not None]
        clock = VirtualClock(min((e.at for e in events), default=SystemClock().now()))
        outbox = _QueueOnly(store, _Offline(), clock, config, paced=True)
        engine = Engine(config=config, store=store, clock=clock, outbox=outbox, playbooks=playbooks)
        await restore(engine)
        outcomes = [await _one(engine, clock, letter) for letter in letters]
    finally:
        await store.close()
    again = [o.letter.text for o in outcomes if o.result in (FAILED, NOT_OURS)]
    if again:
        append(file, again)
    for path in claimed:
        path.unlink()
    return outcomes


async def _one(engine: Engine, clock: VirtualClock, letter: Letter) -> Outcome:
    event = letter.event
    if event is None:
        return Outcome(letter, FAILED, letter.problem)
    table = SeenEvent.__table__
    try:
        async with engine.store.unit() as conn:
            seen = (await conn.execute(select(table.c.id).where(table.c.id == event.id))).first() is not None
        if seen:
            return Outcome(letter, DUPLICATE, "already stored")
        clock.forward_to(event.at)
        engine.rooms.trusted = letter.trusted_rooms  # its groups are managed as the bot that took it managed them
        handled = await engine.dispatch(event)
        await engine.settle()  # the parts of runs after `wait:` (the clock moves by their waits)
    except Exception as exc:
        return Outcome(letter, FAILED, dialect.describe(exc))
    return Outcome(
        letter, REPLAYED if handled else NOT_OURS, "" if handled else "its group is not one this bot manages"
    )
