"""What runs inside a sandbox's own thread and event loop: a whole bot (bot/testing.py's TestBot: the memory
connector, a virtual clock of its own) on the sandbox's copy of the database, and the chat as the page shows it.

Members and groups are whoever the page says: the staff member types as any member, in any group or privately,
has them join or leave, and moves the sandbox's clock forward; the shop's bot and clock never see any of it.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select

from bot.config import Config
from bot.console.sandbox_copy import scrub
from bot.console.tables import Trace
from bot.events import MemberRef, Outgoing, RoomRef
from bot.i18n import problem_text
from bot.playbook.library import load_configured
from bot.simulator.mentions import mentioned
from bot.store.tables import Member, Room
from bot.testing import TestBot

KEPT_LINES = 500  # the transcript keeps the last lines only
DEFAULT_ROOM = "会员福利1群"
SUGGESTED = 30  # members and groups of the copied database offered in the pickers


@dataclass(frozen=True)
class Line:
    """One line of the sandbox's chat: typed in the page (`member`), sent by the bot (`bot`), or what happened
    (`note`: a join, a leave, time moved, a removal). `room_id` None: the private chat with `member_id`."""

    seq: int
    at: str
    side: str
    text: str
    member_id: str | None = None
    member_name: str = ""
    room_id: str | None = None
    room_topic: str = ""


class SandboxBot:
    def __init__(self, bot: TestBot, playbooks: list[str], problems: list[str]) -> None:
        self.bot = bot
        self.playbooks = playbooks
        self.problems = problems
        self.lines: deque[Line] = deque(maxlen=KEPT_LINES)
        self._seq = 0
        self._seen = 0  # how many of the connector's sent messages are in the transcript
        self._lock = asyncio.Lock()  # one thing at a time: a double click waits for the first

    @classmethod
    async def open(cls, config: Config, folder: Path, database: Path, start: datetime) -> SandboxBot:
        """The folder's playbooks as the bot loads them (a broken file left out, its problems told), on the copy."""
        loaded = load_configured(folder, config)
        inside = f"{folder}/"  # staff see where in the folder, not where the folder is on the server
        problems = [problem_text(p, config.language).removeprefix(inside) for p in loaded.problems]
        await scrub(database)
        bot = await TestBot.create(loaded, config=config, start=start, database=str(database))
        return cls(bot, [p.id for p in loaded.playbooks], problems)

    def now(self) -> datetime:
        return self.bot.clock.now()

    def local_now(self) -> str:
        """The sandbox's time in the shop's timezone, as the chat lines show it."""
        return self.now().astimezone(self.bot.bot.config.tz).isoformat()

    def since(self, seq: int) -> list[dict[str, Any]]:
        return [asdict(line) for line in self.lines if line.seq > seq]

    async def transcript(self, after: int) -> list[dict[str, Any]]:
        """The chat lines after line `after` (all: 0), read in the sandbox's thread like everything else."""
        return self.since(after)

    def _add(self, side: str, text: str, member: MemberRef | None = None, room: RoomRef | None = None) -> None:
        self._seq += 1
        self.lines.append(
            Line(self._seq, self.local_now(), side, text, member.id if member else None, member.name if member else "",
                 room.id if room else None, room.topic if room else "")
        )  # fmt: skip

    def _collect(self) -> None:
        """What the bot sent since the last look, as chat lines."""
        sent = self.bot.sent
        for out in sent[self._seen :]:
            self._add(*_shown(out))
        self._seen = len(sent)

    def _who(self, member_id: str, name: str) -> MemberRef:
        return self.bot.member(member_id, name or None)

    def _where(self, room_id: str) -> RoomRef:
        entry = next((r for r in self.bot.bot.config.rooms if room_id in (r.id, r.topic)), None)
        if entry is not None:
            return self.bot.room(entry.id or room_id, entry.topic or room_id)
        return self.bot.room(room_id)

    async def say(self, member_id: str, name: str, room_id: str | None, text: str) -> list[dict[str, Any]]:
        """`@名字 ` of a member the sandbox knows is a mention, `@机器人名 ` speaks to the bot (as the simulator)."""
        async with self._lock:
            start = self._seq
            who = self._who(member_id, name)
            room = self._where(room_id) if room_id else None
            self._add("member", text, who, room)
            if room is None:
                await self.bot.say(who.id, text)
            else:
                known = {m.name: m.id for m in self.bot.members.values() if m.name and m.id != who.id}
                typed = mentioned(text, self.bot.bot.config.bot.name, known)
                await self.bot.say(who.id, typed.text, room=room.id, mentions=typed.mentions, to_bot=typed.mentions_bot)
            self._collect()
            return self.since(start)

    async def membership(self, member_id: str, name: str, room_id: str, *, joins: bool) -> list[dict[str, Any]]:
        """The member joins the group (`joins`) or leaves it."""
        async with self._lock:
            start = self._seq
            who, room = self._who(member_id, name), self._where(room_id)
            self._add("note", f"{who.name} {'加入' if joins else '退出'}了群「{room.topic}」", who, room)
            await (self.bot.join if joins else self.bot.leave)(who.id, room.id)
            self._collect()
            return self.since(start)

    async def advance(self, delta: timedelta, told: str) -> list[dict[str, Any]]:
        """Schedules due on the way run in order, each at its time, as in the terminal simulator's /time."""
        async with self._lock:
            start = self._seq
            await self.bot.advance(delta)
            self._collect()
            moment = self.now().astimezone(self.bot.bot.config.tz)
            self._add("note", f"时间快进了 {told}，现在是 {moment:%Y-%m-%d %H:%M}")
            return self.since(start)

    async def pickers(self) -> dict[str, list[dict[str, str]]]:
        """Members and groups to offer: those the page used, config.yaml's groups, and the copy's most recent."""
        rooms = {r.id or r.topic or "": r.topic or r.id or "" for r in self.bot.bot.config.rooms}
        rooms.update({r.id: r.topic for r in self.bot.rooms.values()})
        members = {m.id: m.name for m in self.bot.members.values()}
        room_rows = await self.bot.rows(
            select(Room.id, Room.topic).order_by(Room.last_active.desc().nulls_last()).limit(SUGGESTED)
        )
        member_rows = await self.bot.rows(
            select(Member.id, Member.name).order_by(Member.last_active.desc().nulls_last()).limit(SUGGESTED)
        )
        for row in room_rows:
            rooms.setdefault(row.id, row.topic or row.id)
        for row in member_rows:
            members.setdefault(row.id, row.name or row.id)
        if not any(rooms):  # a shop with no group yet: one to try things in, as the terminal simulator has
            rooms = {DEFAULT_ROOM: DEFAULT_ROOM}
        return {
            "rooms": [{"id": k, "topic": v} for k, v in rooms.items() if k],
            "members": [{"id": k, "name": v} for k, v in members.items()],
        }

    async def traces(self, after: int, limit: int) -> list[dict[str, Any]]:
        """The newest traces in the sandbox's copy (bot/console/tables.py: Trace), newest first."""
        table = Trace.__table__
        rows = await self.bot.rows(select(table).where(table.c.id > after).order_by(table.c.id.desc()).limit(limit))
        return [_trace(row) for row in rows]

    async def close(self) -> None:
        await self.bot.bot.close()


def _shown(out: Outgoing) -> tuple[str, str, MemberRef | None, RoomRef | None]:
    """How the page shows one thing the bot sent: a message (with its @-mentions), or what it did on WeChat."""
    who = out.member.name or out.member.id if out.member else ""
    where = out.room.topic or out.room.id if out.room else ""
    if out.invite:
        return "note", f"机器人邀请 {who} 进群「{where}」", out.member, out.room
    if out.accept:
        return "note", f"机器人通过了 {who} 的好友申请", out.member, None
    if out.remove:
        return "note", f"机器人把 {who} 移出了群「{where}」：{out.text}", out.member, out.room
    if out.announce:
        return "note", f"机器人发布了群公告：{out.text}", None, out.room
    mentions = "".join(f"@{m.name or m.id} " for m in out.mentions)
    return "bot", mentions + out.text, out.member if out.room is None else None, out.room


def _trace(row: Row[Any]) -> dict[str, Any]:
    try:
        steps = json.loads(row.steps)
    except ValueError:
        steps = []
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "kind": row.kind,
        "room_id": row.room_id,
        "member_id": row.member_id,
        "stage": row.stage,
        "name": row.name,
        "outcome": row.outcome,
        "summary": row.summary,
        "text": row.text,
        "steps": steps if isinstance(steps, list) else [],
    }
