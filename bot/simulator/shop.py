"""The simulated shop behind the terminal: a bot on the simulator's database, whose clock offset is kept there too.

`Shop.open` is the one place the simulator is wired (bot, clock, connector); `/reset` wipes the database and
opens it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlmodel import SQLModel

from bot.app import Bot
from bot.clock import OffsetClock
from bot.config import Config
from bot.connectors.simulator import SimulatorConnector
from bot.playbook.library import PlaybookSet
from bot.store import Store
from bot.store.tables import Member, Setting

OFFSET_KEY = "simulator.clock_offset_seconds"
_settings = Setting.__table__
_members = Member.__table__


@dataclass
class Shop:
    config: Config
    database: str
    connector: SimulatorConnector
    folder: Path | None = None  # where the playbooks came from: /重载 and `qunguan reload` read it again

    async def open(self, playbooks: PlaybookSet) -> tuple[Bot, OffsetClock]:
        """A running bot whose clock resumes the simulated time saved in the database."""
        clock = OffsetClock()
        bot = await Bot.create(  # the simulator's groups are the operator's own: config.yaml's topics bind them
            self.config,
            clock=clock,
            connector=self.connector,
            playbooks=playbooks,
            database=self.database,
            folder=self.folder,
            trust_rooms=True,
        )
        try:
            clock.offset = await load_offset(bot)
            bot.scheduler.restart_from_now()
            await bot.start()  # the connector gets bot.receive: what is typed comes in through it
        except BaseException:
            await bot.close()
            raise
        return bot, clock

    async def wipe(self) -> None:
        """Every row the bot keeps (points, check-ins, coupons, the outbox, ...) and the clock offset are deleted;
        the database's own settings (its schema version) stay. The bot must be closed."""
        store = await Store.open(self.database)
        try:
            async with store.unit() as conn:
                for table in reversed(SQLModel.metadata.sorted_tables):
                    if table is not _settings:
                        await conn.execute(delete(table))
                await conn.execute(delete(_settings).where(_settings.c.key == OFFSET_KEY))
        finally:
            await store.close()


async def load_offset(bot: Bot) -> timedelta:
    async with bot.store.unit() as conn:
        row = (await conn.execute(select(_settings.c.value).where(_settings.c.key == OFFSET_KEY))).first()
    return timedelta(seconds=float(row[0])) if row else timedelta()


async def save_offset(bot: Bot, offset: timedelta) -> None:
    async with bot.store.unit() as conn:
        await conn.execute(delete(_settings).where(_settings.c.key == OFFSET_KEY))
        await conn.execute(insert(_settings).values(key=OFFSET_KEY, value=str(offset.total_seconds())))


async def member_names(bot: Bot, text: str) -> dict[str, str]:
    """Name -> id of the members in the database whose `@名字` the text contains (the most recently active first)."""
    async with bot.store.unit() as conn:
        rows = await conn.execute(
            select(_members.c.id, _members.c.name)
            .where(_members.c.name != "")
            .order_by(_members.c.last_active.desc().nulls_last(), _members.c.id)
        )
        found: dict[str, str] = {}
        for row in rows:
            if f"@{row.name}" in text:
                found.setdefault(row.name, row.id)
    return found
