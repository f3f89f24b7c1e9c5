"""Staff slash commands: built in, role-checked by WeChat id, every use and every refusal audited.

A handler declares the least role it needs (`@staff_command("加分", aliases=("addpoints",), role="staff")`,
bot/registry.py); config.yaml's `commands:` may raise or lower it per command. The pipeline's commands stage
(bot/stages/commands.py) runs a matching command before any playbook and no playbook sees that message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.admin import Admin
from bot.context import Context, RunContext, Runtime
from bot.events import MemberRef, MessageEvent, Outgoing, RoomRef
from bot.playbook.model import walk_steps
from bot.registry import RANK, REGISTRY, StaffCommand
from bot.store.savepoint import savepoint
from bot.store.tables import AuditEntry, Member
from bot.textnorm import fold, split_command

if TYPE_CHECKING:
    from bot.budget import Charge
    from bot.config import Config
    from bot.governor import Estimate
    from bot.playbook.model import Playbook
    from bot.traces import Run

log = logging.getLogger("qunguan.commands")

ROLE_NAMES = {"staff": "店员", "admin": "管理员", "owner": "店主"}
AUDITED = 500  # characters of a command's text and answer kept in the audit log
_LINE_BREAKS = dict.fromkeys(map(ord, "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"), " ")
_members = Member.__table__
_audit = AuditEntry.__table__


def one_line(name: str) -> str:
    """A member-made name as staff answers show it: a newline in it cannot forge a line of the answer."""
    return name.translate(_LINE_BREAKS)


class UsageError(Exception):
    """The arguments do not fit: the staff member gets the command's usage line."""


class Refused(Exception):
    """The sender may use the command but not on this (another staff member's broadcast): audited as refused."""


class Failed(Exception):
    """The command ran and changed nothing (a /重载 that met errors): audited as failed, the reason answered."""


class CommandContext(Context):
    """What a staff command sees: the message, who sent it (and their role), a database connection, and the
    narrow views of the running bot a command may use (`admin`, `resource`, `send_estimate`, ...)."""

    def __init__(
        self,
        runtime: Runtime,
        conn: AsyncConnection,
        event: MessageEvent,
        role: str,
        args: list[str],
        mentioned: list[MemberRef] | None = None,
        prepared: Any = None,
    ) -> None:
        super().__init__(runtime, conn, event)
        self.event: MessageEvent = event
        self.role = role
        self.args = args
        self.mentioned = mentioned or []
        self.prepared = prepared  # what the command's `prepare` returned
        self.result = "ok"  # what the audit log records when the handler returns: its real outcome (/核销: already)
        self.target_id: str | None = None  # the member it was about, for the audit log
        self.on_commit: list[Callable[[], None]] = []  # in-memory changes, once the writes stand
        self.sends: list[tuple[str, list[Outgoing], str | None]] = []  # besides the answer
        self.admin = Admin(runtime, conn, self.on_commit)

    def send(self, source: str, messages: list[Outgoing], *, kind: str | None = None) -> None:
        """Queue messages beyond the answer (a broadcast, a quiz question); `source` keeps their outbox keys apart."""
        self.sends.append((source, messages, kind))

    @property
    def sender(self) -> MemberRef:
        return self.event.sender

    def rest(self, *, skip: int = 0) -> str:
        """The text after the command name and `skip` more words, as typed: a /群发 keeps its lines and marks."""
        text = self.event.text.strip()
        if self.event.mentions_bot and text.startswith("@"):
            text = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
        parts = text.split(maxsplit=1 + skip)
        return parts[1 + skip].strip() if len(parts) > 1 + skip else ""

    async def managed_rooms(self, name: str | None = None) -> list[RoomRef]:
        """The groups the bot manages (bound) and has seen; with `name`, those it names (none: a usage error)."""
        if name is None:
            return await super().managed_rooms()
        named = await self.rooms_named(name)
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
        known = self._runtime.playbooks.resources.get(block, {})
        if len(self.args) != 1 or self.args[0] not in known:
            raise UsageError(f"请写出一个{noun} ID：{'、'.join(known) or '（还没有）'}")
        return self.args[0]

    def step_for(self, action: str, option: str, block: str, value: str, default: Any) -> tuple[Playbook, Any]:
        """The first playbook step `action` whose `option` is `value`, with its options (/问答 runs it as the
        schedule would); else the playbook declaring `value` under `block`, with `default` options."""
        playbooks = self._runtime.playbooks.playbooks
        for playbook in playbooks:
            for call in walk_steps(playbook.steps):
                if call.name == action and getattr(call.params, option, None) == value:
                    return playbook, call.params
        owner = next(pb for pb in playbooks if any(d.block == block and d.id == value for d in pb.declared))
        return owner, default

    def refuse_if_running(self, kind: str, room: RoomRef, what: str) -> None:
        """One quiz or coupon drop at a time in a group: a second would answer the same messages twice."""
        running = [w for w in self._runtime.windows.in_room(room.id) if w.kind == kind and w.closes_at > self.now()]
        if running:
            ends = running[0].closes_at.astimezone(self.config.tz)
            raise Failed(f"「{room.topic}」已经有一轮{what}在进行，{ends:%H:%M} 结束，之后再开")

    def playbook_run(self, playbook: Playbook, room: RoomRef) -> RunContext:
        """Run one of a playbook's actions for a command (/问答, /发券) as the playbook itself would."""
        return RunContext(self._runtime, self.conn, self.event, playbook, member=self.sender, room=room)

    def keep(self, run: RunContext, source: str) -> None:
        """What that action did: its messages queued with the answer, its windows opened once committed."""
        self.send(source, list(run.outgoing))
        windows = self._runtime.windows
        self.on_commit.extend(lambda w=w: windows.add(w) for w in run.opened)

    def send_estimate(self, messages: int) -> Estimate:
        """How long that many more messages take to leave, at the send governor's pace and as it stands now."""
        return self._runtime.outbox.governor.estimate(messages, self.now())

    def visible_commands(self) -> list[StaffCommand]:
        """The commands the sender's role may use, each once: everyday ones first (by least role), then by the
        module that declares them (handlers/points.py: /加分, /扣分), in its order; not in the order modules
        happened to be imported."""
        seen: dict[str, StaffCommand] = {}
        for command in self._runtime.registry.commands.values():
            if command.name not in seen and allowed(self.config, command, self.role):
                seen[command.name] = command
        return sorted(seen.values(), key=lambda c: (RANK[needed_role(self.config, c)], c.handler.__module__))

    def playbook_commands(self) -> list[str]:
        """The `/NAME` commands the running playbooks answer, each once."""
        named = [t.params.name for pb in self._runtime.playbooks.playbooks for t in pb.triggers if t.name == "command"]
        return list(dict.fromkeys(named))

    async def target(self) -> MemberRef:
        """The member a command is about: the first @-mention other than the bot's, else a WeChat id as the first
        argument. Never the bot itself; the name comes on one line."""
        if self.mentioned:
            member = self.mentioned[0]
        else:
            if not self.args:
                raise UsageError("请 @ 一位成员（或写出他的微信 ID）")
            member_id = self.args.pop(0)
            if member_id == self._runtime.bot_id:
                raise UsageError("机器人自己不能当作对象，请 @ 一位成员（或写出他的微信 ID）")
            row = (await self.conn.execute(select(_members.c.name).where(_members.c.id == member_id))).first()
            if row is None:
                raise UsageError(f"不认识 {member_id}：请 @ 他，或核对微信 ID")
            member = MemberRef(member_id, row.name)
        self.target_id = member.id
        return MemberRef(member.id, one_line(member.name))


def command_names() -> dict[str, str]:
    """Every name and alias (casefolded) -> the command's name: what config.yaml's `commands:` may say."""
    return REGISTRY.command_names()


def needed_role(config: Config, command: StaffCommand) -> str:
    return config.commands.get(command.name, command.role)


def allowed(config: Config, command: StaffCommand, role: str) -> bool:
    return RANK[role] >= RANK[needed_role(config, command)]


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
    command = REGISTRY.commands.get(name)
    return (command, args) if command is not None else None


@dataclass(frozen=True)
class Request:
    """A staff command a message asks for, matched once before the event's transaction."""

    command: StaffCommand
    args: list[str]
    prepared: Any = None  # what the command's `prepare` returned (only for a sender allowed to run it)


async def request(runtime: Runtime, event: MessageEvent, *, managed: bool = True) -> Request | None:
    """The staff command the message asks for, with what its `prepare` read (for a sender allowed to run it).
    In a group nobody bound only /绑定 is heard (and nothing else is even prepared)."""
    found = match(event)
    if found is None or not (managed or found[0].unbound):
        return None
    command, args = found
    prepared = None
    config = runtime.config
    if command.prepare is not None and allowed(config, command, config.role_of(event.sender.id) or "member"):
        prepared = await command.prepare(Admin(runtime, None, []), event)
    return Request(command, args, prepared)


async def run(
    runtime: Runtime,
    conn: AsyncConnection,
    event: MessageEvent,
    asked: Request,
    now: datetime,
    on_commit: list[Callable[[], None]],
    *,
    answer_refusal: bool = True,
    trace: Run | None = None,
    charged: list[Charge] | None = None,
) -> list[dict[str, Any]]:
    """Run a staff command: the outbox rows of its answer (or refusal) and of what it sends are returned,
    written with the audit row in the event's transaction. `answer_refusal=False`: a refusal is audited only.
    `charged`: as Outbox.entries.

    What the command changes in this process (not the database) goes to `on_commit`, run after the commit.
    """
    command, args, prepared = asked.command, asked.args, asked.prepared
    config = runtime.config
    role = config.role_of(event.sender.id) or "member"
    mentioned = await _mentioned(conn, event, runtime.bot_id)
    args = [a for a in args if not a.startswith("@")]  # the "@Name" text of mentions; ids come in event.mentions
    ctx = CommandContext(runtime, conn, event, role, args, mentioned, prepared=prepared)
    typed = ctx.rest()  # as typed, before the handler takes its arguments apart
    length = len(event.text.strip())
    ran = False  # the handler returned: what it sends goes with the answer
    if not allowed(config, command, role):
        needs = ROLE_NAMES[needed_role(config, command)]
        result, text = "refused", command.refusal or f"/{command.name} 需要{needs}身份，你没有这个权限～"
    elif length > command.max_length:
        result, text = "usage", f"命令太长（{length} 字），最多 {command.max_length} 字\n用法：{command.usage}"
    else:
        try:
            async with savepoint(conn):
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
    if trace is not None:
        trace.answered(typed[:AUDITED], result, text)
    if result == "refused" and not answer_refusal:
        return []
    mentions = (event.sender,) if event.room is not None else ()
    answer = Outgoing(text, room=event.room, member=None if event.room else event.sender, mentions=mentions)
    outbox = runtime.outbox
    rows = outbox.entries(event, "command", 0, [answer] if text else [], now, charged=charged)  # "": sends say it all
    if ran:
        for source, messages, kind in ctx.sends:
            rows += outbox.entries(event, source, 0, messages, now, kind=kind, charged=charged)
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
