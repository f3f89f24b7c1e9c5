"""This account's part in one speaker per group, on each heartbeat: renew the leases it holds, act on events
of its groups that only other accounts got (held longer than a lease and never done), take over the groups it
is in whose speaker fell silent (its lease expired, or it stopped and released it), and forget held events
older than `fleet.hold`. On a clean stop its leases are released, so the others need not wait.

A takeover, in order: the lease (one statement: only one account wins it); in the same transaction the old
speaker's unsent messages to the group, and its unsent private ones to members this account is a friend of,
become this account's to send; the open quizzes and drops are read again; then the group's held events that
nobody acted on go through `receive` in time order, as if they had just come in. The old speaker's committed
events are done (their keys), so none is acted on twice, and none it had not committed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import Event
from bot.fleet import held, leases
from bot.fleet.tables import Friendship
from bot.stages.speaker import Speaker
from bot.store.tables import OutboxMessage, RoomMember

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger("qunguan.fleet")

Receive = Callable[[Event], Awaitable[bool | None]]
_outbox = OutboxMessage.__table__
_friends = Friendship.__table__
_room_members = RoomMember.__table__


class Speaking:
    """The speaker duty of one account's process (FleetProcess runs `beat`, and `release` on a clean stop)."""

    def __init__(self, engine: Engine, receive: Receive) -> None:
        self.engine = engine
        self.receive = receive
        config = engine.config
        self.account = config.account
        self.lease = config.fleet.lease
        self.hold = config.fleet.hold
        self.stage = next(stage for stage in engine.stages if isinstance(stage, Speaker))

    async def beat(self) -> None:
        if self.stage.stopped:
            return
        now = self.engine.clock.now()
        async with self.engine.store.unit() as conn:
            await leases.renew(conn, self.account, now, self.lease)
            await held.prune(conn, now - self.hold)
            missed = await held.missed(conn, self.account, now - self.lease, now)
            silent = await leases.expired_for(conn, self.account, now)
        await self._act_on(missed)
        for room_id, old in silent:
            if room_id not in self.stage.released:
                await self.take_over(room_id, old)

    async def release(self) -> None:
        """A clean stop: no group event is acted on here any more, and the leases expire now."""
        self.stage.stopped = True
        async with self.engine.store.unit() as conn:
            await leases.release(conn, self.account, self.engine.clock.now())

    async def take_over(self, room_id: str, old: str) -> bool:
        """Take the group over from `old`; False when another account (or `old`, back in time) was first."""
        engine = self.engine
        async with engine.store.unit() as conn:
            if not await leases.take_over(conn, room_id, self.account, old, engine.clock.now(), self.lease):
                return False
            moved = await self._reassign(conn, room_id, old)
        async with engine.store.unit() as conn:
            await engine.windows.load(conn)
            events = await held.undone(conn, room_id)
        log.warning(
            "account %s took over group %s from %s: %d unsent message(s), %d event(s) it had not acted on",
            self.account,
            room_id,
            old,
            moved,
            len(events),
        )
        await self._act_on(events)
        if moved:
            engine.outbox.forget()
            await engine.outbox.released()
        return True

    async def _act_on(self, events: list[tuple[str, Event]]) -> None:
        """Held events, as if they had just come in: under an id of their key, the same on every account."""
        for key, event in events:
            await self.receive(replace(event, id=f"held-{key}"))

    async def _reassign(self, conn: AsyncConnection, room_id: str, old: str) -> int:
        """The group's unsent messages (whoever was to send them: the group's speaker sends to it), and the old
        speaker's unsent private messages to the group's members this account is a friend of."""
        pending = _outbox.c.state == "pending"
        to_room = await conn.execute(
            update(_outbox)
            .where(pending, _outbox.c.room_id == room_id, _outbox.c.account != self.account)
            .values(account=self.account)
        )
        if old == self.account:
            return to_room.rowcount
        members = select(_room_members.c.member_id).where(_room_members.c.room_id == room_id)
        friends = select(_friends.c.member_id).where(_friends.c.account == self.account, _friends.c.friend)
        to_members = await conn.execute(
            update(_outbox)
            .where(
                pending,
                _outbox.c.account == old,
                _outbox.c.room_id.is_(None),
                _outbox.c.member_id.in_(members),
                _outbox.c.member_id.in_(friends),
            )
            .values(account=self.account)
        )
        return to_room.rowcount + to_members.rowcount
