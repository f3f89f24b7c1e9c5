"""Staff slash commands: built in, role-checked by WeChat id, every use and every refusal audited.

A handler declares the least role it needs (`@staff_command("加分", aliases=("addpoints",), role="staff")`);
config.yaml's `commands:` may raise or lower it per command. The engine runs a matching command before any
playbook and no playbook sees that message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.context import RunContext
from bot.events import MemberRef, MessageEvent, Outgoing, RoomRef
from bot.store.tables import AuditEntry, Member
from bot.textnorm import fold, split_command

if TYPE_CHECKING:
    from bot.config import Config
    from bot.engine import Engine
    from bot.playbook.model import Playbook

log = logging.getLogger("qunguan.commands")

RANK = {"member": 0, "staff": 1, "admin": 2, "owner": 3}
ROLE_NAMES = {"staff": "店员", "admin": "管理员", "owner": "店主"}
MAX_COMMAND = 300  # characters of a whole command as typed; /群发 declares its own
AUDITED = 500  # characters of a command's text and answer kept in the audit log
_LINE_BREAKS = dict.fromkeys(map(ord, "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"), " ")


def one_line(name: str) -> str:
    """A member-made name as staff answers show it: a newline in it cannot forge a line of the answer."""
    return name.translate(_LINE_BREAKS)


class UsageError(Exception):
    """The arguments do not fit: the staff member gets the command's usage line."""


class Refused(Exception):
    """The sender may use the command but not on this (another staff member's broadcast): audited as refused."""


class Failed(Exception):
    """The command ran and changed nothing (a /重载 that met errors): audited as failed, the reason answered."""


@dataclass
class CommandContext:
    """What a staff command sees: the message, who sent it (and their role), and a database connection."""

    engine: Engine
    conn: AsyncConnection
    event: MessageEvent
    role: str
    args: list[str]
    mentioned: list[MemberRef] = field(default_factory=list)
    prepared: Any = None  # what the command's `prepare` returned
    result: str = "ok"  # what the audit log records when the handler returns: its real outcome (/核销: already)
    target_id: str | None = None  # the member it was about, for the audit log
    on_commit: list[Callable[[], None]] = field(default_factory=list)  # in-memory changes, once the writes stand
    sends: list[tuple[str, list[Outgoing], str | None]] = field(default_factory=list)  # besides the answer

    def send(self, source: str, messages: list[Outgoing], *, kind: str | None = None) -> None:
        """Queue messages beyond the answer (a broadcast, a quiz question); `source` keeps their outbox keys apart."""
        self.sends.append((source, messages, kind))

    @property
    def sender(self) -> MemberRef:
        return self.event.sender

    def now(self) -> datetime:
        return self.engine.clock.now()

    def local_now(self) -> datetime:
        return self.now().astimezone(self.engine.config.tz)

    @property
    def config(self) -> Config:
        return self.engine.config

    def rest(self, *, skip: int = 0) -> str:
        """The text after the command name and `skip` more words, as typed: a /群发 keeps its lines and marks."""
        text = self.event.text.strip()
        if self.event.mentions_bot and text.startswith("@"):
            text = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
        parts = text.split(maxsplit=1 + skip)
        return parts[1 + skip].strip() if len(parts) > 1 + skip else ""

    async def managed_rooms(self, name: str | None = None) -> list[RoomRef]:
        """The groups the bot manages (bound) and has seen; with `name`, those it names (none: a usage error)."""
        rooms = self.engine.rooms
        if name is None:
            return await rooms.managed(self.conn)
        named = await rooms.named(self.conn, name)
        if not named:
            raise UsageError(f"不认识群「{name}」：请写群名（或群 ID）")
        return named

    async def room(self) -> RoomRef:
        """The group a command acts in: where it was said, or in a private chat the group named last."""
        if self.event.room is not None:
            return self.event.room
        if not self.args:
            raise UsageError("私聊里请在最后写上群名")
        return (await self.managed_rooms(self.args.pop()))[0]

    def resource_arg(self, block: str, noun: str) -> str:
        """The one coupon batch or question bank the command names; the usage error lists those there are."""
        known = self.engine.playbooks.resources.get(block, {})
        if len(self.args) != 1 or self.args[0] not in known:
            raise UsageError(f"请写出一个{noun} ID：{'、'.join(known) or '（还没有）'}")
        return self.args[0]

    def step_for(self, action: str, option: str, block: str, value: str, default: Any) -> tuple[Playbook, Any]:
        """The first playbook step `action` whose `option` is `value`, with its options (/问答 runs it as the
        schedule would); else the playbook declaring `value` under `block`, with `default` options."""
        from bot.playbook.model import walk_steps  # the model checks playbook commands against ours: import late

        playbooks = self.engine.playbooks.playbooks
        for playbook in playbooks:
            for call in walk_steps(playbook.steps):
                if call.name == action and getattr(call.params, option, None) == value:
                    return playbook, call.params
        owner = next(pb for pb in playbooks if any(d.block == block and d.id == value for d in pb.declared))
        return owner, default

    def refuse_if_running(self, kind: str, room: RoomRef, what: str) -> None:
        """One quiz or coupon drop at a time in a group: a second would answer the same messages twice."""
        running = [w for w in self.engine.windows.in_room(room.id) if w.kind == kind and w.closes_at > self.now()]
        if running:
            ends = running[0].closes_at.astimezone(self.config.tz)
            raise Failed(f"「{room.topic}」已经有一轮{what}在进行，{ends:%H:%M} 结束，之后再开")

    def playbook_run(self, playbook: Playbook, room: RoomRef) -> RunContext:
        """Run one of a playbook's actions for a command (/问答, /发券) as the playbook itself would."""
        return RunContext(self.engine, self.conn, self.event, playbook, member=self.sender, room=room)

    def keep(self, run: RunContext, source: str) -> None:
        """What that action did: its messages queued with the answer, its windows opened once committed."""
        self.send(source, list(run.outgoing))
        windows = self.engine.windows
        self.on_commit.extend(lambda w=w: windows.add(w) for w in run.opened)

    async def target(self) -> MemberRef:
        """The member a command is about: the first @-mention other than the bot's, else a WeChat id as the first
        argument. Never the bot itself; the name comes on one line."""
        if self.mentioned:
            member = self.mentioned[0]
        else:
            if not self.args:
                raise UsageError("请 @ 一位成员（或写出他的微信 ID）")
            member_id = self.args.pop(0)
            if member_id == self_id(self.engine):
                raise UsageError("机器人自己不能当作对象，请 @ 一位成员（或写出他的微信 ID）")
            row = (await self.conn.execute(select(_members.c.name).where(_members.c.id == member_id))).first()
            if row is None:
                raise UsageError(f"不认识 {member_id}：请 @ 他，或核对微信 ID")
            member = MemberRef(member_id, row.name)
        self.target_id = member.id
        return MemberRef(member.id, one_line(member.name))


Handler = Callable[[CommandContext], Awaitable[str]]
Prepare = Callable[["Engine", MessageEvent], Awaitable[Any]]


@dataclass(frozen=True)
class StaffCommand:
    name: str
    aliases: tuple[str, ...]
    role: str
    usage: str
    summary: str
    handler: Handler
    refusal: str | None  # said to someone without the role; None: the standard line naming the role
    prepare: Prepare | None  # slow work done before the event's transaction; its result is ctx.prepared
    unbound: bool  # heard in a group nobody bound (only /绑定: bot/rooms.py)
    max_length: int  # characters of the whole command as typed


COMMANDS: dict[str, StaffCommand] = {}  # every name and alias -> the command
_members = Member.__table__
_audit = AuditEntry.__table__


def staff_command(
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    role: str,
    usage: str,
    refusal: str | None = None,
    prepare: Prepare | None = None,
    unbound: bool = False,
    max_length: int = MAX_COMMAND,
) -> Callable[[Handler], Handler]:
    """Declare a staff command; its docstring's first line is what `/帮助` shows. `refusal` replaces the
    standard refusal for commands customers are likely to try (/核销 at the till); `prepare` runs before the
    transaction, for work that must not hold the database (/重载 reading the folder); `unbound`: heard in a
    group nobody bound; `max_length`: longer commands are refused (a 1 MB reason is not a reason)."""

    def register(fn: Handler) -> Handler:
        if role not in RANK:
            raise ValueError(f"command '{name}': unknown role '{role}'")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        command = StaffCommand(name, aliases, role, usage, summary, fn, refusal, prepare, unbound, max_length)
        for key in (name, *aliases):
            if key.casefold() in COMMANDS:
                raise ValueError(f"command '{key}' is registered twice")
            COMMANDS[key.casefold()] = command
        return fn

    return register


def command_names() -> dict[str, str]:
    """Every name and alias (casefolded) -> the command's name: what config.yaml's `commands:` may say."""
    return {key: command.name for key, command in COMMANDS.items()}


def self_id(engine: Engine) -> str:
    """The bot's own WeChat id, as its connector knows it ('' until known): never a command's target."""
    return getattr(engine.connector, "self_id", "")


def needed_role(engine: Engine, command: StaffCommand) -> str:
    return engine.config.commands.get(command.name, command.role)


def allowed(engine: Engine, command: StaffCommand, role: str) -> bool:
    return RANK[role] >= RANK[needed_role(engine, command)]


def match(event: MessageEvent) -> tuple[StaffCommand, list[str]] | None:
    """A registered staff command at the start of the message: after a slash, or first after an @-mention of the
    bot."""
    text = fold(event.text)
    if event.mentions_bot and text.startswith("@"):
        text = text.split(maxsplit=1)[1] if " " in text else ""
    if event.mentions_bot and not text.startswith("/"):  # "@群管小助手 帮助": speaking to the bot, no slash needed
        text = "/" + text
    parsed = split_command(text)
    if parsed is None:
        return None
    name, args = parsed
    command = COMMANDS.get(name)
    return (command, args) if command is not None else None


@dataclass(frozen=True)
class Request:
    """A staff command a message asks for, matched once before the event's transaction."""

    command: StaffCommand
    args: list[str]
    prepared: Any = None  # what the command's `prepare` returned (only for a sender allowed to run it)


async def request(engine: Engine, event: MessageEvent) -> Request | None:
    found = match(event)
    if found is None:
        return None
    command, args = found
    prepared = None
    if command.prepare is not None and allowed(engine, command, engine.config.role_of(event.sender.id) or "member"):
        prepared = await command.prepare(engine, event)
    return Request(command, args, prepared)


async def run(
    engine: Engine,
    conn: AsyncConnection,
    event: MessageEvent,
    asked: Request,
    now: datetime,
    on_commit: list[Callable[[], None]],
    *,
    answer_refusal: bool = True,
) -> list[dict[str, Any]]:
    """Run a staff command: the outbox rows of its answer (or refusal) and of what it sends are returned,
    written with the audit row in the event's transaction. `answer_refusal=False`: a refusal is audited only.

    What the command changes in this process (not the database) goes to `on_commit`, run after the commit.
    """
    command, args, prepared = asked.command, asked.args, asked.prepared
    role = engine.config.role_of(event.sender.id) or "member"
    mentioned = await _mentioned(conn, event, self_id(engine))
    args = [a for a in args if not a.startswith("@")]  # the "@Name" text of mentions; ids come in event.mentions
    ctx = CommandContext(engine, conn, event, role, args, mentioned, prepared=prepared)
    typed = ctx.rest()  # as typed, before the handler takes its arguments apart
    length = len(event.text.strip())
    ran = False  # the handler returned: what it sends goes with the answer
    if not allowed(engine, command, role):
        needs = ROLE_NAMES[needed_role(engine, command)]
        result, text = "refused", command.refusal or f"/{command.name} 需要{needs}身份，你没有这个权限～"
    elif length > command.max_length:
        result, text = "usage", f"命令太长（{length} 字），最多 {command.max_length} 字\n用法：{command.usage}"
    else:
        try:
            async with conn.begin_nested():
                text = await command.handler(ctx)
            result, ran = ctx.result, True
            on_commit.extend(ctx.on_commit)
        except UsageError as exc:
            result, text = "usage", f"{exc}\n用法：{command.usage}"
        except Refused as exc:
            result, text = "refused", str(exc)
        except Failed as exc:
            result, text = "failed", str(exc)
        except Exception:
            log.exception("staff command /%s by %s failed", command.name, event.sender.id)
            result, text = "error", f"/{command.name} 出错了，已记录，请稍后再试"
    await conn.execute(
        insert(_audit).values(
            at=now,
            member_id=event.sender.id,
            member_name=event.sender.name,
            role=role,
            command=command.name,
            args=typed[:AUDITED],
            room_id=event.room.id if event.room else None,
            target_id=ctx.target_id,
            result=result,
            answer=text[:AUDITED],
        )
    )
    if result == "refused" and not answer_refusal:
        return []
    mentions = (event.sender,) if event.room is not None else ()
    answer = Outgoing(text, room=event.room, member=None if event.room else event.sender, mentions=mentions)
    rows = engine.outbox.entries(event, "command", 0, [answer] if text else [], now)  # "": its sends say it all
    if ran:
        for source, messages, kind in ctx.sends:
            rows += engine.outbox.entries(event, source, 0, messages, now, kind=kind)
    return rows


async def _mentioned(conn: AsyncConnection, event: MessageEvent, bot_id: str) -> list[MemberRef]:
    """The members @-mentioned, in order, without the bot (WeChat lists it first when the command follows
    "@群管小助手"): the bot is never a command's target."""
    ids = [i for i in event.mentions if i != bot_id]
    if not ids:
        return []
    rows = await conn.execute(select(_members.c.id, _members.c.name).where(_members.c.id.in_(ids)))
    names = {r.id: r.name for r in rows}
    return [MemberRef(i, names.get(i, i)) for i in ids]


def visible_to(engine: Engine, role: str) -> list[StaffCommand]:
    """The commands a role may use, each once: everyday ones first (by least role), then in registration order."""
    seen: dict[str, StaffCommand] = {}
    for command in COMMANDS.values():
        if command.name not in seen and allowed(engine, command, role):
            seen[command.name] = command
    return sorted(seen.values(), key=lambda c: RANK[needed_role(engine, c)])
