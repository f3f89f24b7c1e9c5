"""Assembly: one config, store, clock and connector make a running bot."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Config
from bot.connectors.base import Connector
from bot.engine import Engine
from bot.outbox import Outbox
from bot.playbook.library import PlaybookSet
from bot.scheduler import Scheduler
from bot.store import Store


@dataclass
class Bot:
    config: Config
    store: Store
    clock: Clock
    connector: Connector
    engine: Engine
    scheduler: Scheduler

    @classmethod
    async def create(
        cls,
        config: Config,
        *,
        clock: Clock,
        connector: Connector,
        playbooks: PlaybookSet,
        database: str | None = None,
    ) -> Bot:
        store = await Store.open(database or config.database_path)
        engine = Engine(config=config, store=store, clock=clock, outbox=Outbox(connector), playbooks=playbooks)
        return cls(config, store, clock, connector, engine, Scheduler(engine))

    async def close(self) -> None:
        self.scheduler.shutdown()
        await self.engine.settle()
        await self.connector.stop()
        await self.store.close()
