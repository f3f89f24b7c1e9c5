"""Assembly: one config, store, clock and connector make a running bot."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from bot.clock import Clock, SettableClock
from bot.config import Config
from bot.connectors.base import Connector
from bot.deadletters import DeadLetters, beside
from bot.engine import Engine
from bot.events import Event
from bot.fleet.process import FleetProcess
from bot.intake import Intake
from bot.outbox import Outbox
from bot.playbook.library import PlaybookSet
from bot.reload import Reloader
from bot.scheduler import Scheduler
from bot.store import Store
from bot.store.switches import load_switches


def paced_by_default(config: Config, connector: Connector) -> bool:
    """Pace every real account unless config.yaml says `sending: {pacing: false}`; a connector that reaches
    no real WeChat account says so with `paced = False` (memory, simulator)."""
    return config.sending.pacing and getattr(connector, "paced", True)


@dataclass
class Bot:
    config: Config
    store: Store
    clock: Clock
    connector: Connector
    engine: Engine
    scheduler: Scheduler
    outbox: Outbox
    intake: Intake
    fleet: FleetProcess | None = field(default=None)  # in a fleet (config.yaml `accounts:`): this account's duties

    @classmethod
    async def create(
        cls,
        config: Config,
        *,
        clock: Clock,
        connector: Connector,
        playbooks: PlaybookSet,
        database: str | None = None,
        governor: bool | None = None,
        seed: int | None = None,
        folder: Path | None = None,
        trust_rooms: bool = False,
    ) -> Bot:
        """Open the store and the outbox (rows a crash left `sending` become `unknown` here).

        `governor`: pace sends (None: decided by `paced_by_default`); `seed` makes the jitter repeatable;
        `folder`: where `playbooks` came from, re-read by /重载 and `qunguan reload`; `trust_rooms`: the groups
        are the operator's own (simulator, scenarios, tests), so config.yaml's topics bind them (bot/rooms.py).
        Nothing comes in before `start()`; queued messages start leaving then, or at the first event.
        """
        database = database or config.database_path
        store = await Store.open(database, clock=clock)
        paced = paced_by_default(config, connector) if governor is None else governor
        outbox = Outbox(store, connector, clock, config, paced=paced, seed=seed)
        try:
            await outbox.open()
        except Exception:
            await store.close()
            raise
        engine = Engine(
            config=config, store=store, clock=clock, outbox=outbox, playbooks=playbooks, trust_rooms=trust_rooms
        )
        await restore(engine)
        if folder is not None:
            engine.reloader = Reloader(engine, folder)
            await engine.reloader.open()
        letters = DeadLetters(beside(database, config), trusted_rooms=trust_rooms)
        intake = Intake(engine.dispatch_batch, clock, config.store.retry_for, letters)
        bot = cls(config, store, clock, connector, engine, Scheduler(engine, intake.receive), outbox, intake)
        if config.accounts:
            bot.fleet = FleetProcess(engine, bot.receive)
        return bot

    async def receive(self, event: Event) -> bool | None:
        """Every inbound event comes in here: the connector's (wechaty, the simulator's, TestBot's memory
        connector: `start` hands them this as their emit) and the scheduler's ticks.
        While the database is briefly unusable the event is held and tried again, in order (bot/intake.py).
        True: handled; False: a duplicate or not for this bot; None: held."""
        return await self.intake.receive(event)

    async def offer(self, event: Event) -> asyncio.Future[bool | None]:
        """Like `receive`, without waiting for the event's commit: returns once the intake has room for it (back-
        pressure), with the future of `receive`'s answer. A connector that reads a stream of events hands them
        over this way, so that they are committed together (bot/intake.py)."""
        return await self.intake.offer(event)

    async def start(self) -> None:
        """Connect: the connector starts with `receive` as its emit, or `offer` when it `hands_over` (wechaty: its
        stream of events is read on while they wait for their batch's commit; it returns once logged in); then what is
        queued is delivered (from before a restart, too) and, in real time, the schedules run (a settable clock's
        owner moves time itself: TestBot, scenarios, the simulator)."""
        hands_over = getattr(self.connector, "hands_over", False)
        await self.connector.start(self.offer if hands_over else self.receive)
        if self.outbox.paced:
            self.outbox.start()
        else:
            await self.outbox.flush()
        if not isinstance(self.clock, SettableClock):
            self.scheduler.start()
            if self.fleet is not None:
                self.fleet.start()

    async def close(self) -> None:
        """Stop: paused runs finish, events still held go to the dead-letter file, the outbox sends for a short
        grace, the rest stays queued. With the database file gone, nothing more is written anywhere."""
        self.scheduler.shutdown()
        if self.fleet is not None:
            await self.fleet.stop(status=None if self.store.lost is not None else "offline")
        if self.store.lost is not None:
            await self.intake.close()
            await self.crash()
            await self.connector.stop()
            return
        await self.engine.settle()
        await self.intake.close()
        await self.engine.write_counts()
        await self.outbox.close()
        await self.connector.stop()
        await self.store.close()

    async def crash(self) -> None:
        """Stop like a kill -9 would (tests): nothing drained or recorded; runs in `wait:` are lost."""
        self.scheduler.shutdown()
        if self.fleet is not None:
            await self.fleet.stop(status=None)
        await self.intake.abandon()
        await self.outbox.abandon()
        await self.engine.abandon()
        await self.store.close()


async def restore(engine: Engine) -> None:
    """What the engine keeps in memory from the database: quizzes and coupon drops still open, playbooks
    staff switched on or off, groups bound."""
    async with engine.store.unit() as conn:
        await engine.windows.load(conn)
        engine.switches = await load_switches(conn)
        await engine.rooms.load(conn)
