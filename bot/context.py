"""What abilities see: a narrow context, never the engine behind it.

`Context` is what every handler may ask of the running bot: the event's connection, the time, a resource by id,
whether a member is the bot's friend (from the store: no platform call while the event's transaction is open),
the managed groups by name. `RunContext` adds one playbook run (its variables, its messages, its windows);
staff commands get a `CommandContext` (bot/commands.py). Member-field loaders get a `FieldContext`.

Template variables are plain dicts (Jinja reads `member.name` from a dict), and member fields other abilities
provide (`member.points`, `member.streak`, ...) are loaded only when a text or expression actually names them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import Event, MemberRef, Outgoing, RoomRef
from bot.playbook.templates import EmptyValue, Expr, Text
from bot.store.activity import friend_status
from bot.windows import OpenWindow, insert_window, mark_closed

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Config
    from bot.outbox import Outbox
    from bot.playbook.library import PlaybookSet
    from bot.playbook.model import Call, Playbook
    from bot.registry import MemberLoader, Registry
    from bot.reload import Reloader
    from bot.rooms import RoomBindings
    from bot.traces import Run
    from bot.windows import Windows

MEMBER_VARS = ("member", "inviter")


class Runtime(Protocol):
    """What the contexts (and the pipeline's stages) use of the running bot; the Engine is one."""

    config: Config
    clock: Clock
    registry: Registry
    rooms: RoomBindings
    windows: Windows
    playbooks: PlaybookSet
    switches: dict[str, bool]
    reloader: Reloader | None
    outbox: Outbox

    @property
    def bot_id(self) -> str: ...

    def friend_unknown(self, member_id: str) -> None:
        """Nobody has said whether this member is a friend: find out after the event (a platform lookup)."""


@dataclass(frozen=True, slots=True)
class FieldContext:
    """What a member-field loader (`@member_field`) sees: a connection, the config and the time."""

    conn: AsyncConnection
    config: Config
    now: datetime
    room_id: str | None = None  # the group the run, command or event is in (member.days_in_room), if any

    def local_now(self) -> datetime:
        return self.now.astimezone(self.config.tz)


def member_loader(registry: Registry, name: str, resources: Mapping[str, Mapping[str, Any]]) -> MemberLoader | None:
    """`member.NAME`'s loader: an ability's (`@member_field`), or a field a playbook declares in a block whose
    entries are member fields (`fields:`); None when there is neither."""
    if name in registry.member_fields:
        return registry.member_fields[name]
    for block, spec in registry.resources.items():
        load, entry = spec.member_field, resources.get(block, {}).get(name)
        if load is not None and entry is not None:
            return lambda ctx, member_id: load(ctx, member_id, entry)
    return None


@lru_cache(maxsize=1024)
def _member_fields(refs: frozenset[tuple[str, str | None]]) -> tuple[tuple[str, str], ...]:
    """The member fields (member.points, inviter.name) among what a text or expression names: the only names a
    run may have to load, picked out once per text, not on each render."""
    return tuple((name, attr) for name, attr in refs if name in MEMBER_VARS and attr is not None)


class RunError(Exception):
    """An action cannot do what it was asked; the run stops and is rolled back."""


class SkipAction(Exception):
    """This action does not apply to this event (e.g. `to: inviter` on a join nobody invited):
    the action is skipped and logged, the rest of the run goes on."""

    level = logging.INFO


class SkipSend(SkipAction):
    """A text may not go out as it is (an empty value where a code, a date or a name belongs; a coupon code
    bound for a group): this message is not sent, with a warning for the operator; the run goes on."""

    level = logging.WARNING


class Context:
    """The questions every handler may ask, answered from the store and this process's memory."""

    def __init__(self, runtime: Runtime, conn: AsyncConnection, event: Event) -> None:
        self._runtime = runtime
        self.conn = conn
        self.event = event

    @property
    def config(self) -> Config:
        return self._runtime.config

    def now(self) -> datetime:
        return self._runtime.clock.now()

    def local_now(self) -> datetime:
        return self._runtime.clock.now().astimezone(self._runtime.config.tz)

    @property
    def bot_id(self) -> str:
        """The bot's own WeChat id ('' until known): never the object of a command or a moderation action."""
        return self._runtime.bot_id

    def fields(self) -> FieldContext:
        """For calling a member-field loader directly (/成员 shows the streak and the lifecycle stage)."""
        room = self.event.room
        return FieldContext(self.conn, self._runtime.config, self.now(), room.id if room else None)

    def resource(self, block: str, resource_id: str) -> Any | None:
        """A coupon batch (`coupons`) or question bank (`questions`) the running playbooks declare; None when
        there is none by that id (a reload may have removed it since a window opened)."""
        return self._runtime.playbooks.resources.get(block, {}).get(resource_id)

    def resources(self, block: str) -> dict[str, Any]:
        """Every entry of a block the running playbooks declare, by id, in the order the files declare them."""
        return self._runtime.playbooks.resources.get(block, {})

    async def is_friend(self, member_id: str) -> bool:
        """Whether WeChat would deliver a private message: as the platform last told the store (messages, joins,
        friend requests, confirmations). Never asked of the platform here: the event's transaction is open.
        Not known yet counts as not a friend, and is looked up once the event is done."""
        known = await friend_status(self.conn, member_id)
        if known is None:
            self._runtime.friend_unknown(member_id)
        return bool(known)

    def selects(self, selectors: Sequence[str], room: RoomRef) -> bool:
        """Whether topics, ids or tag:NAME (`rooms:` of segments, /群发's tag) name this managed group."""
        return self._runtime.rooms.selects(selectors, room)

    async def managed_rooms(self) -> list[RoomRef]:
        """The groups the bot manages (bound) and has seen."""
        return await self._runtime.rooms.managed(self.conn)

    async def rooms_named(self, name: str) -> list[RoomRef]:
        """The managed groups a name means (an id, a topic, a config.yaml entry's topic): never a look-alike."""
        return await self._runtime.rooms.named(self.conn, name)


class RunContext(Context):
    """What one playbook run sees and may do."""

    def __init__(
        self,
        runtime: Runtime,
        conn: AsyncConnection,
        event: Event,
        playbook: Playbook,
        *,
        member: MemberRef | None = None,
        room: RoomRef | None = None,
        inviter: MemberRef | None = None,
        message: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(runtime, conn, event)
        self.playbook = playbook
        self.room = room
        self.members: dict[str, MemberRef] = {}
        self.outgoing: list[Outgoing] = []
        self.opened: list[OpenWindow] = []
        self.closed: list[int] = []
        config = runtime.config
        bot_name = config.bot.name
        self.vars: dict[str, Any] = {
            "now": runtime.clock.now().astimezone(config.tz),
            "bot": {"name": bot_name},
            "config": {"bot_name": bot_name, "timezone": config.timezone},
        }
        self.call: Call | None = None  # the action running now (for_each reads its nested `do` here)
        self.trace: Run | None = None  # this run's trace (bot/traces), when the event reached a traced stage
        # Every variable the playbook's triggers document is defined: None when this event has none.
        for trigger in playbook.triggers:
            if trigger.spec.sets:
                self.vars.update(dict.fromkeys(trigger.spec.sets))
        if inviter is not None and member is not None and inviter.id == member.id:
            inviter = None  # WeChat may name a member as their own inviter: that is nobody inviting
        for name, ref in (("member", member), ("inviter", inviter)):
            if ref is not None:
                self.set_member(name, ref)
        if room is not None:
            self.vars["room"] = {"id": room.id, "topic": room.topic}
        if message is not None:
            self.vars["message"] = message

    @classmethod
    def of(
        cls, runtime: Runtime, conn: AsyncConnection, event: Event, playbook: Playbook, message: dict[str, Any] | None
    ) -> RunContext:
        """The run an event starts: its member, room and inviter as the event names them."""
        return cls(
            runtime, conn, event, playbook, member=event.member, room=event.room, inviter=event.inviter, message=message
        )

    def fields(self) -> FieldContext:
        return FieldContext(self.conn, self.config, self.now(), self.room.id if self.room else None)

    async def sleep(self, span: timedelta) -> None:
        await self._runtime.clock.sleep(span.total_seconds())

    # -- who an action is about

    @property
    def member(self) -> MemberRef | None:
        return self.members.get("member")

    def target(self, name: str = "member") -> MemberRef:
        """The member a member-directed action acts on (`to:`); the action is skipped if absent."""
        ref = self.members.get(name)
        if ref is None:
            raise SkipAction(f"this event has no {name}")
        return ref

    def set_member(self, name: str, ref: MemberRef | None) -> None:
        """Who `member` / `inviter` is for the actions that follow (for_each moves `member` along a segment)."""
        if ref is None:
            self.members.pop(name, None)
            self.vars[name] = None
            return
        self.members[name] = ref
        self.vars[name] = {"id": ref.id, "name": ref.name, "role": self.config.role_of(ref.id) or "member"}

    def changed(self, member_id: str | None = None, **known: Any) -> None:
        """A member's stored state changed (None: anyone's may have): reload derived fields on next use.
        `known`: fields whose new value the writer just read back (the balance its UPDATE returned), kept
        instead of being read again by the next text that names them (None: not known, read it)."""
        for name in MEMBER_VARS:
            view = self.vars.get(name)
            if view is not None and member_id in (None, view["id"]):
                self.vars[name] = {"id": view["id"], "name": view["name"], "role": view["role"]}
                if member_id is not None:
                    self.vars[name].update((k, v) for k, v in known.items() if v is not None)

    # -- texts

    async def _prepare(self, refs: frozenset[tuple[str, str | None]]) -> None:
        wanted = _member_fields(refs)
        if not wanted:
            return
        registry, resources = self._runtime.registry, self._runtime.playbooks.resources
        fields: FieldContext | None = None
        for name, attr in wanted:
            view = self.vars.get(name)
            if view is None or attr in view:
                continue
            loader = member_loader(registry, attr, resources)  # an ability's field, or one `fields:` declares
            if loader is not None:
                fields = fields or self.fields()
                view[attr] = await loader(fields, view["id"])

    async def render(self, text: Text) -> str:
        """The text to send; a code, a date or a name in it that would show empty skips the send (SkipSend)."""
        await self._prepare(text.refs)
        try:
            return text.render(self.vars)
        except EmptyValue as empty:
            raise SkipSend(f"{empty}, so the text is not sent") from None

    async def evaluate(self, expr: Expr) -> bool:
        await self._prepare(expr.refs)
        return expr.evaluate(self.vars)

    # -- sending (released only after the run's transaction commits)

    def send(
        self,
        text: str,
        *,
        room: RoomRef | None = None,
        member: MemberRef | None = None,
        mentions: tuple[MemberRef, ...] = (),
        expires: timedelta | None = None,
    ) -> None:
        if not text:
            return
        self.outgoing.append(
            Outgoing(
                text=text,
                room=room,
                member=None if room else member,
                mentions=mentions,
                playbook_id=self.playbook.id,
                expires_at=self.now() + expires if expires is not None else None,
            )
        )

    # -- listening windows (quiz answers, 抢券), registered with the engine once the run commits

    async def open_window(self, kind: str, span: timedelta, data: dict[str, Any]) -> OpenWindow:
        if self.room is None:
            raise RunError(f"a {kind} needs a group: this run has none")
        now = self.now()
        window = await insert_window(
            self.conn,
            kind=kind,
            room_id=self.room.id,
            playbook_id=self.playbook.id,
            opened_at=now,
            closes_at=now + span,
            data=data,
        )
        self.opened.append(window)
        return window

    async def close_window(self, window: OpenWindow) -> bool:
        """True for the run that closes it (it then announces); False if it was already closed."""
        if not await mark_closed(self.conn, window.id, self.now()):
            return False
        self.closed.append(window.id)
        return True

    def invite(self, member: MemberRef, room: RoomRef) -> None:
        """Ask the platform to add a member to a room; released with the messages, in order."""
        self.outgoing.append(Outgoing(text="", room=room, member=member, playbook_id=self.playbook.id, invite=True))
