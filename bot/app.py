"""Assembly: one config, store, clock and connector make a running bot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.clock import Clock
from bot.config import Config
from bot.connectors.base import Connector
from bot.engine import Engine
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
        Queued messages start leaving at `start()`, or at the first event, whichever comes first.
        """
        store = await Store.open(database or config.database_path)
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
        async with store.unit() as conn:  # quizzes and coupon drops still open, playbooks staff switched, groups bound
            await engine.windows.load(conn)
            engine.switches = await load_switches(conn)
            await engine.rooms.load(conn)
        if folder is not None:
            engine.reloader = Reloader(engine, folder)
            await engine.reloader.open()
        return cls(config, store, clock, connector, engine, Scheduler(engine), outbox)

    async def start(self) -> None:
        """The connector is up: deliver what is queued (from before a restart, too)."""
        if self.outbox.paced:
            self.outbox.start()
        else:
            await self.outbox.flush()

    async def close(self) -> None:
        """Stop: paused runs finish, the outbox sends for a short grace, the rest stays queued."""
        self.scheduler.shutdown()
        await self.engine.settle()
        await self.outbox.close()
        await self.connector.stop()
        await self.store.close()

    async def crash(self) -> None:
        """Stop like a kill -9 would (tests): nothing drained or recorded; runs in `wait:` are lost."""
        self.scheduler.shutdown()
        await self.outbox.abandon()
        await self.engine.abandon()
        await self.store.close()
