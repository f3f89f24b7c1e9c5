"""Which groups the bot manages: bound by room id, never matched by topic.

A topic is whatever a member types: anyone can add the bot to a group of their own and name it like a managed
one, and one trailing space in the real group's name would lose that group. So a group is managed once it is
bound by its id: in config.yaml (a `rooms:` entry with `id:`), by an owner or admin's /绑定 in it, or by
`qunguan rooms bind ID`. Entries by `topic:` only name candidates; a group bound while its topic is a
candidate's keeps that entry (its tags, its name in `rooms:` selectors) through every rename.

Bindings are rows (`room_bindings`), so every process on the database and every restart agree; a running bot
reads them again once a second (`poll`, for `qunguan rooms bind`) and at once after its own /绑定 or /解绑.

Trusted setups (the simulator, scenario files, TestBot) keep the old rule: the operator made their groups, so
a group counts as bound when config.yaml names it by id or topic, or names none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Config, RoomSection
from bot.events import Event, MemberRef, RoomRef, RoomRenamed
from bot.store import Store, dialect
from bot.store.activity import known_rooms
from bot.store.tables import RoomBinding
from bot.textnorm import printable

log = logging.getLogger("qunguan.rooms")
_bindings = RoomBinding.__table__
CLI = "cli"  # who bound a group with `qunguan rooms bind`


@dataclass(frozen=True)
class Binding:
    room_id: str
    entry_topic: str | None  # the config.yaml candidate the group was bound as
    by: str
    at: datetime


async def read_bindings(conn: AsyncConnection) -> dict[str, Binding]:
    rows = await conn.execute(select(_bindings))
    return {r.room_id: Binding(r.room_id, r.entry_topic, r.by_member_id, dialect.aware(r.at)) for r in rows}


async def bind(conn: AsyncConnection, room: RoomRef, config: Config, *, by: str, at: datetime) -> Binding | None:
    """Bind a group by its id; a topic that is a config.yaml candidate's gives it that entry. None: bound already."""
    entry = config.candidate(room.topic)
    binding = Binding(room.id, entry.topic if entry else None, by, at)
    row = {"room_id": room.id, "entry_topic": binding.entry_topic, "by_member_id": by, "at": at}
    done = await conn.execute(dialect.insert_ignore(conn, _bindings), row)
    return binding if done.rowcount == 1 else None


async def unbind(conn: AsyncConnection, room_id: str) -> bool:
    return (await conn.execute(delete(_bindings).where(_bindings.c.room_id == room_id))).rowcount == 1


def shown(room: RoomRef) -> str:
    """A group for a log line: member-made topics escaped, so a newline cannot forge a line."""
    return f"'{printable(room.topic)}' ({printable(room.id)})" if room.topic else printable(room.id)


class RoomBindings:
    """The bound groups of this process, kept equal to the database (see the module docstring)."""

    def __init__(self, config: Config, *, trusted: bool) -> None:
        self.config = config
        self.trusted = trusted
        self._bound: dict[str, str | None] = {}  # room id -> the candidate topic it was bound as
        self._local = 0  # this process's own changes: a poll read before one must not undo it
        self._told: set[tuple[str, str]] = set()  # (room id, topic) of unbound groups already logged
        self.changed = asyncio.Event()  # set (and replaced) whenever the bindings change

    async def load(self, conn: AsyncConnection) -> None:
        self._bound = {b.room_id: b.entry_topic for b in (await read_bindings(conn)).values()}
        if not self.trusted:
            self._warn_unbound_candidates()

    async def poll(self, store: Store) -> None:
        """Once a second: bindings made by `qunguan rooms` or by another process. Never raises."""
        local = self._local
        try:
            async with store.unit() as conn:
                bound = {b.room_id: b.entry_topic for b in (await read_bindings(conn)).values()}
        except Exception as exc:
            dialect.log_failure(log, "reading the group bindings failed", exc)
            return
        if local != self._local or bound == self._bound:
            return
        added, removed = sorted(bound.keys() - self._bound.keys()), sorted(self._bound.keys() - bound.keys())
        self._bound = bound
        log.info("group bindings changed outside this process: bound %s, unbound %s", added or "-", removed or "-")
        self._notify()

    def bound(self, binding: Binding) -> None:
        """This process bound a group (/绑定), once its transaction committed."""
        self._bound[binding.room_id] = binding.entry_topic
        self._changed_here()

    def unbound(self, room_id: str) -> None:
        self._bound.pop(room_id, None)
        self._changed_here()

    def _changed_here(self) -> None:
        self._local += 1
        self._notify()

    def _notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    # -- questions about one group

    def manages(self, room: RoomRef) -> bool:
        if room.id in self._bound or self.config.room_by_id(room.id) is not None:
            return True
        return self.trusted and (not self.config.rooms or self.config.named_entry(room) is not None)

    def entry(self, room: RoomRef) -> RoomSection | None:
        """The config.yaml entry of a managed group: by its id, else the candidate it was bound as."""
        by_id = self.config.room_by_id(room.id)
        if by_id is not None:
            return by_id
        if room.id in self._bound:
            return self.config.candidate(self._bound[room.id])
        return self.config.named_entry(room) if self.trusted else None

    def names(self, room: RoomRef) -> set[str]:
        """What operators may call a managed group: its id, its topic, and its config.yaml entry's topic."""
        entry = self.entry(room)
        return {room.id, room.topic} | ({entry.topic} if entry is not None and entry.topic else set())

    def tags(self, room: RoomRef) -> frozenset[str]:
        entry = self.entry(room)
        return frozenset(entry.tags) if entry is not None else frozenset()

    def selects(self, selectors: Sequence[str], room: RoomRef) -> bool:
        """Whether room topics, ids or tag:NAME (`rooms:` of playbooks, segments, /群发) name this managed group."""
        if not self.manages(room):
            return False
        names, tags = self.names(room), self.tags(room)
        return any((sel[4:] in tags) if sel.startswith("tag:") else sel in names for sel in selectors)

    # -- lookups among the groups the bot has seen

    async def managed(self, conn: AsyncConnection) -> list[RoomRef]:
        return [r for r in await known_rooms(conn) if self.manages(r)]

    async def named(self, conn: AsyncConnection, name: str) -> list[RoomRef]:
        """The managed groups an operator's name means (`say: {room:}`, `invite`, /统计 群名): never a look-alike."""
        return [r for r in await self.managed(conn) if name in self.names(r)]

    # -- groups nobody bound

    async def tell_unbound(self, conn: AsyncConnection, event: Event, room: RoomRef) -> None:
        """Log an unbound group once per topic, with the fix; a topic that names a managed group is called a
        look-alike (the rename to it is logged too, with who did it)."""
        if (room.id, room.topic) in self._told:
            log.debug("%s ignored: group %s is not bound", event.kind, room.id)
            return
        self._told.add((room.id, room.topic))
        fix = f"if it is yours, have an owner or admin send /绑定 in it, or run `qunguan rooms bind {room.id}`"
        twins = [r for r in await self.named(conn, room.topic) if r.id != room.id] if room.topic else []
        renamed = ""
        if isinstance(event, RoomRenamed):
            renamed = f" (renamed from '{printable(event.old_topic)}' by {_who(event.by)})"
        if twins:
            why = f"its topic is that of managed group {', '.join(map(shown, twins))}: a look-alike? Bind it only"
            log.warning("group %s%s is not bound, so the bot does nothing there; %s %s", shown(room), renamed, why, fix)
        elif self.config.candidate(room.topic) is not None:
            log.warning(
                "group %s%s is not bound, so the bot does nothing there; its topic matches a config.yaml `rooms:` "
                "entry, which only names a candidate (anyone can give a group that name, a look-alike would too): %s",
                shown(room),
                renamed,
                fix,
            )
        else:
            log.warning("group %s%s is not bound, so the bot does nothing there; %s", shown(room), renamed, fix)

    def tell_renamed(self, event: RoomRenamed) -> None:
        log.info(
            "group %s renamed from '%s' by %s; it stays managed",
            shown(event.room),
            printable(event.old_topic),
            _who(event.by),
        )

    def _warn_unbound_candidates(self) -> None:
        """At start (after an upgrade, too): say which config.yaml groups still wait for a binding."""
        taken = set(self._bound.values())
        waiting = [e.topic for e in self.config.rooms if not e.id and e.topic and e.topic not in taken]
        if waiting:
            log.warning(
                "config.yaml names group(s) by topic only, not bound yet: %s. A topic is not enough (anyone can "
                "name a group like that): have an owner or admin send /绑定 in each, or run `qunguan rooms` and "
                "`qunguan rooms bind ID`",
                ", ".join(f"'{printable(t)}'" for t in waiting),
            )
        elif not self.config.rooms and not self._bound:
            log.warning(
                "no group is bound yet, so the bot manages none: have an owner or admin send /绑定 in each group, "
                "or run `qunguan rooms` and `qunguan rooms bind ID`"
            )


def _who(member: MemberRef | None) -> str:
    if member is None:
        return "someone"
    shown = printable(member.id)
    return f"{printable(member.name)} ({shown})" if member.name and member.name != member.id else shown
