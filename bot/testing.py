"""A whole bot in one process for tests and scenario files: memory connector,
virtual clock, in-memory SQLite. Reads like chat: `await bot.say("u1", "签到", room="r1")`.

Events come in as a platform's do, through the memory connector that `Bot.start`
started (bot/connectors/memory.py), and messages go through the durable outbox
as in production. By default the send governor is off, so each message is sent
the moment it is decided; with `governor=True` it paces them under the virtual
clock and they leave as `advance` moves time. The memory connector refuses any
call made while a unit of work is open, and `close` fails the test if one was.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, Row, insert, select

from bot.app import Bot
from bot.clock import VirtualClock
from bot.config import Config
from bot.connectors.memory import MemoryConnector
from bot.context import FieldContext, member_loader
from bot.engine import Engine
from bot.events import (
    MESSAGE_KINDS,
    Event,
    FriendRequest,
    MemberJoined,
    MemberLeft,
    MemberRef,
    MessageEvent,
    Outgoing,
    RoomRef,
    RoomRenamed,
)
from bot.outbox import Outbox
from bot.playbook.library import PlaybookSet, load_folder, load_texts
from bot.playbook.resources import declared_member_fields
from bot.store import dialect
from bot.store.activity import upsert_member, upsert_room
from bot.store.migrations import schema
from bot.store.tables import RoomMember

# The database a TestBot opens when not told: the test suite points it at PostgreSQL to run whole modules there.
DATABASE = ":memory:"


class TestBot:
    __test__ = False  # not a pytest class

    def __init__(self, bot: Bot, connector: MemoryConnector, clock: VirtualClock) -> None:
        self.bot = bot
        self.connector = connector
        self.clock = clock
        self.members: dict[str, MemberRef] = {}
        self.rooms: dict[str, RoomRef] = {}
        self._ids = itertools.count(1)
        self._run = uuid.uuid4().hex[:12]

    @classmethod
    async def create(
        cls,
        playbooks: PlaybookSet | dict[str, str] | Path,
        *,
        config: Config | None = None,
        start: datetime | None = None,
        database: str | None = None,
        governor: bool = False,
        seed: int = 0,
        connector: MemoryConnector | None = None,
        trust_rooms: bool = True,
        clock: VirtualClock | None = None,
    ) -> TestBot:
        """`governor=True`: pace sends as config.sending says (jitter from `seed`), under the virtual clock.

        `playbooks` as a folder: loaded from it, and /重载 reads it again. `trust_rooms=False`: groups are
        managed only once bound (/绑定, config.yaml ids), as on the real WeChat path. `clock`: one shared with
        other bots (a fleet's accounts on one database, each its own TestBot)."""
        config = config or Config()
        folder = playbooks if isinstance(playbooks, Path) else None
        if folder is not None:
            playbooks = load_folder(folder, room_tags=config.all_room_tags)
        if isinstance(playbooks, dict):
            playbooks = load_texts(playbooks, room_tags=config.all_room_tags)
            if playbooks.problems:
                raise ValueError("\n".join(str(p) for p in playbooks.problems))
        clock = clock or VirtualClock(start or datetime(2026, 11, 23, 9, 0, tzinfo=config.tz))
        connector = connector or MemoryConnector()
        bot = await Bot.create(
            config,
            clock=clock,
            connector=connector,
            playbooks=playbooks,
            database=database or DATABASE,
            governor=governor,
            seed=seed,
            folder=folder,
            trust_rooms=trust_rooms,
        )
        await bot.start()
        return cls(bot, connector, clock)

    @classmethod
    @asynccontextmanager
    async def running(cls, playbooks: PlaybookSet | dict[str, str] | Path, **options: Any) -> AsyncIterator[TestBot]:
        """`async with TestBot.running({...}) as bot:` — `create(...)`, then closed whatever the test did."""
        bot = await cls.create(playbooks, **options)
        try:
            yield bot
        finally:
            await bot.close()

    @property
    def engine(self) -> Engine:
        return self.bot.engine

    @property
    def outbox(self) -> Outbox:
        return self.bot.outbox

    @property
    def sent(self) -> list[Outgoing]:
        return self.connector.sent

    def member(self, member_id: str, name: str | None = None) -> MemberRef:
        if member_id not in self.members or name is not None:
            self.members[member_id] = MemberRef(
                member_id, name or self.members.get(member_id, MemberRef(member_id, member_id)).name
            )
        return self.members[member_id]

    def room(self, room_id: str, topic: str | None = None) -> RoomRef:
        if room_id not in self.rooms or topic is not None:
            self.rooms[room_id] = RoomRef(room_id, topic or room_id)
        return self.rooms[room_id]

    async def seed(
        self,
        member_id: str,
        *,
        rooms: list[str] = (),
        joined: datetime | None = None,  # type: ignore[assignment]
        tags: list[str] = (),
        friend: bool = True,  # type: ignore[assignment]
    ) -> None:
        """Put a member in place before the conversation starts (scenario `members:`)."""
        at = joined or self.clock.now()
        ref = self.member(member_id)
        if not friend:
            self.connector.not_friends.add(member_id)
        async with self.bot.store.unit() as conn:
            await upsert_member(conn, replace(ref, friend=friend), at, active=joined is not None)
            for room_id in rooms:
                await upsert_room(conn, self.room(room_id), at)
                row = {"room_id": room_id, "member_id": member_id, "joined_at": at, "active": True}
                await conn.execute(dialect.insert_ignore(conn, RoomMember.__table__), row)
            member_tags = schema().tables["member_tags"]  # the tags ability's (handlers/tags.py): bot/ names no handler
            for tag in tags:
                await conn.execute(insert(member_tags).values(member_id=member_id, tag=tag, at=at))

    async def add_room(self, room_id: str, topic: str) -> None:
        async with self.bot.store.unit() as conn:
            await upsert_room(conn, self.room(room_id, topic), self.clock.now())

    def _event_id(self) -> str:
        """Unique across TestBots, so a bot reopened on the same database file sees new events."""
        return f"test-{self._run}-{next(self._ids)}"

    async def _deliver(self, event: Event, *, settle: bool = True) -> list[Outgoing]:
        before = len(self.sent)
        await self.connector.deliver(event)
        if settle:
            await self.bot.engine.settle()
        if self.outbox.paced:  # unpaced, dispatch has sent everything already
            await self.outbox.settled()
        return self.sent[before:]

    async def dispatch(self, event: Event) -> list[Outgoing]:
        """Deliver a ready-made event (e.g. the same id twice); returns what was sent."""
        return await self._deliver(event)

    async def settle(self) -> list[Outgoing]:
        """Let runs paused at `wait:` finish (virtual time moves by their waits); returns what they sent."""
        before = len(self.sent)
        await self.bot.engine.settle()
        await self.outbox.settled()
        return self.sent[before:]

    async def say(
        self,
        member_id: str,
        text: str = "",
        *,
        room: str | None = None,
        mentions: tuple[str, ...] = (),
        to_bot: bool = False,
        event_id: str | None = None,
        settle: bool = True,
        kind: str = "text",
        url: str | None = None,
        title: str | None = None,
        qr: str | None = None,
    ) -> list[Outgoing]:
        """A member speaks (in a room, or privately); returns what the bot sent in answer.

        `to_bot`: the member @-mentioned the bot (the connector has taken the mention out of `text`).
        With `settle=False` only what was sent before the first `wait:` of each run is returned.
        `kind` (one of MESSAGE_KINDS), `url`, `title`, `qr`: what else the message carries, e.g. a picture with a
        QR code: `await bot.say("u9", room="r1", kind="image", qr="https://u.wechat.com/x")`.
        """
        event = self.message(
            member_id,
            text,
            room=room,
            mentions=mentions,
            to_bot=to_bot,
            event_id=event_id,
            kind=kind,
            url=url,
            title=title,
            qr=qr,
        )
        return await self._deliver(event, settle=settle)

    def message(
        self,
        member_id: str,
        text: str = "",
        *,
        room: str | None = None,
        mentions: tuple[str, ...] = (),
        to_bot: bool = False,
        event_id: str | None = None,
        kind: str = "text",
        url: str | None = None,
        title: str | None = None,
        qr: str | None = None,
    ) -> MessageEvent:
        """The message `say` delivers, not delivered yet (for `burst`)."""
        if kind not in MESSAGE_KINDS:
            raise ValueError(f"unknown message kind {kind!r}: one of {', '.join(MESSAGE_KINDS)}")
        return MessageEvent(
            id=event_id or self._event_id(),
            at=self.clock.now(),
            sender=self.member(member_id),
            text=text,
            room=self.room(room) if room else None,
            mentions=tuple(mentions),
            mentions_bot=to_bot,
            content=kind,
            url=url,
            title=title,
            qr=qr,
        )

    async def burst(self, events: Sequence[Event]) -> list[Outgoing]:
        """Events that arrive together, as in a busy group: every one handed over before any is handled, the way
        the wechaty connector hands them over (Bot.offer), so that they are committed together. Returns what was
        sent once each has been handled (or held while the database is unusable); an event that failed is, as
        from a connector, in the log and the dead-letter file."""
        before = len(self.sent)
        answers = [await self.bot.offer(self.connector.as_delivered(event)) for event in events]
        await asyncio.gather(*answers, return_exceptions=True)
        await self.bot.engine.settle()
        if self.outbox.paced:
            await self.outbox.settled()
        return self.sent[before:]

    async def join(self, member_id: str, room: str, *, by: str | None = None) -> list[Outgoing]:
        event = MemberJoined(
            id=self._event_id(),
            at=self.clock.now(),
            member=self.member(member_id),
            room=self.room(room),
            inviter=self.member(by) if by else None,
        )
        return await self._deliver(event)

    async def leave(self, member_id: str, room: str, *, removed: bool = False) -> list[Outgoing]:
        event = MemberLeft(
            id=self._event_id(),
            at=self.clock.now(),
            member=self.member(member_id),
            room=self.room(room),
            removed=removed,
        )
        return await self._deliver(event)

    async def befriend(self, member_id: str, hello: str = "") -> list[Outgoing]:
        """A friend request (the `friend` trigger); accepted per config.friends."""
        return await self._deliver(
            FriendRequest(id=self._event_id(), at=self.clock.now(), member=self.member(member_id), hello=hello)
        )

    async def rename_room(self, room_id: str, topic: str, *, by: str | None = None) -> list[Outgoing]:
        old = self.room(room_id).topic
        event = RoomRenamed(
            id=self._event_id(),
            at=self.clock.now(),
            room=self.room(room_id, topic),
            old_topic=old,
            by=self.member(by) if by else None,
        )
        return await self._deliver(event)

    async def advance(self, delta: timedelta) -> list[Outgoing]:
        """Move virtual time; schedules due meanwhile fire in order, queued messages leave as they may."""
        before = len(self.sent)
        until = self.clock.now() + delta
        scheduler = self.bot.scheduler
        while True:
            await self.bot.intake.settled()  # events held while the database was unusable are tried as due
            await self.outbox.settled()
            # Stop at every moment the outbox has something to do and, when paced, at every schedule,
            # so what a tick queues is sent at its time and not when the clock has run far past it.
            stops = [until, self.outbox.wake_at, scheduler.next_due() if self.outbox.paced else None]
            step = max(min(t for t in stops if t is not None), self.clock.now())
            await scheduler.advance_to(step)
            if step >= until:
                break
        await self.bot.intake.settled()
        await self.outbox.settled()
        return self.sent[before:]

    async def advance_to(self, when: datetime) -> list[Outgoing]:
        """Move virtual time to a moment (timezone-aware); schedules due meanwhile fire in order."""
        return await self.advance(when - self.clock.now())

    def field_names(self) -> frozenset[str]:
        """What `field` reads: every ability's member field and every field the playbooks declare (`fields:`)."""
        registry = self.engine.registry
        return frozenset(registry.member_fields) | declared_member_fields(registry, self.engine.playbooks.resources)

    async def field(self, member_id: str, name: str) -> Any:
        """A member field as templates see it (`points`, `streak`, `tags`, a declared `birthday`, ...), read
        outside any run."""
        loader = member_loader(self.engine.registry, name, self.engine.playbooks.resources)
        if loader is None:
            raise KeyError(f"no member field '{name}'")
        async with self.bot.store.unit() as conn:
            return await loader(FieldContext(conn, self.bot.config, self.clock.now()), member_id)

    async def member_rooms(self, member_id: str) -> list[str]:
        """The ids of the groups a member is in now, as the store knows (joins, leaves, removals), sorted."""
        table = RoomMember.__table__
        query = select(table.c.room_id).where(table.c.member_id == member_id, table.c.active)
        return sorted(r.room_id for r in await self.rows(query))

    async def queued(self) -> list[Outgoing]:
        """Messages decided but not sent yet (pending in the outbox), in the order they would be tried."""
        return await self.outbox.queued()

    async def rows(self, statement: Executable) -> Sequence[Row[Any]]:
        """Rows of a query against the bot's database, for assertions on stored state."""
        async with self.bot.store.unit() as conn:
            return (await conn.execute(statement)).all()

    async def close(self) -> None:
        """Stop the bot; a platform call it made while holding a unit of work fails the test here."""
        await self.bot.close()
        if self.connector.calls_in_unit:
            raise AssertionError(f"connector calls made inside a unit of work: {self.connector.calls_in_unit}")

    async def crash(self) -> None:
        """Stop as a kill -9 would: nothing drained, nothing recorded (reopen the same database file after)."""
        await self.bot.crash()
