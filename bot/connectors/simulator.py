"""The local simulator: chat with the bot in a terminal, no WeChat account needed.

You type as a member in a room; the bot answers as it would in WeChat. Lines
starting with one of the simulator's own commands (`/as`, `/room`, `/join`,
`/leave`, `/private`, `/group`, `/time`, `/who`, `/quit`, `/?`) steer the
simulation; everything else, other slash commands included, is a message.
Works the same with piped stdin, so it can be scripted.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from pydantic_core import PydanticCustomError
from sqlalchemy import delete, insert, select

from bot.app import Bot
from bot.clock import OffsetClock
from bot.config import Config
from bot.connectors.base import Emit
from bot.events import FriendRequest, MemberJoined, MemberLeft, MemberRef, MessageEvent, Outgoing, RoomRef
from bot.playbook.library import PlaybookSet
from bot.playbook.types import parse_duration
from bot.store.tables import Setting

OFFSET_KEY = "simulator.clock_offset_seconds"
RELOAD_POLL = 1.0  # seconds between two looks for `qunguan reload` requests and edited playbook files

HELP = """模拟器命令：
  /as ID [名字]     切换成员（例如 /as wxid_boss 店长：config.yaml 里的店主，之后发 /帮助 看店员命令）
  /room 群名        切换到某个群（不存在就新建）
  /join [邀请人ID]  当前成员加入当前群
  /leave            当前成员退出当前群
  /private          和机器人私聊      /group  回到群聊
  /time [+1d]       查看时间，或把时间往后拨（到点的定时剧本会执行）
  /who              当前身份、群和时间
  /quit             退出
其他内容（包括 /积分 这样的命令）都会作为消息发出。"""


class SimulatorConnector:
    paced = False  # no real account to protect: messages show at once
    self_id = "qunguan-bot"  # the bot's own id: never a staff command's target

    def __init__(self, output: TextIO, bot_name: str) -> None:
        self.output = output
        self.bot_name = bot_name
        self.emit: Emit | None = None

    async def start(self, emit: Emit) -> None:
        self.emit = emit

    async def send(self, message: Outgoing) -> str | None:
        if message.invite:
            who = message.member.name or message.member.id if message.member else "?"
            room = message.room.topic or message.room.id if message.room else "?"
            self.output.write(f"🤖 （邀请 {who} 进群「{room}」）\n")
            self.output.flush()
            return None
        mentions = "".join(f"@{m.name or m.id} " for m in message.mentions)
        if message.room is not None:
            where = f"【{message.room.topic or message.room.id}】"
        else:
            where = f"【私聊 → {message.member.name if message.member else '?'}】"
        lines = (mentions + message.text).splitlines() or [""]
        self.output.write(f"🤖 {where}{self.bot_name}：{lines[0]}\n")
        for line in lines[1:]:
            self.output.write(f"    {line}\n")
        self.output.flush()
        return None

    async def accept_friend(self, request: FriendRequest) -> None:
        self.output.write(f"🤖 （已通过 {request.member.name or request.member.id} 的好友申请）\n")
        self.output.flush()

    async def stop(self) -> None:
        self.emit = None

    async def is_friend(self, member_id: str) -> bool:
        return True


class Session:
    """Who is typing, where, and when (the clock offset persists in the database)."""

    def __init__(self, bot: Bot, connector: SimulatorConnector, clock: OffsetClock, output: TextIO) -> None:
        self.bot = bot
        self.connector = connector
        self.clock = clock
        self.output = output
        self.member = MemberRef("u1", "小王")
        first = bot.config.rooms[0] if bot.config.rooms else None
        topic = (first.topic or first.id) if first else "会员福利1群"
        self.room = RoomRef((first.id if first and first.id else topic) or topic, topic or "")
        self.private = False
        self.names: dict[str, str] = {"u1": "小王"}

    def say(self, text: str) -> None:
        self.output.write(text + "\n")
        self.output.flush()

    def prompt(self) -> str:
        where = "私聊" if self.private else self.room.topic
        return f"{self.member.name}@{where}> "

    async def dispatch(self, event: object) -> None:
        await self.bot.engine.dispatch(event)  # type: ignore[arg-type]
        await self.bot.engine.settle()

    @staticmethod
    def event_id() -> str:
        return f"sim-{uuid.uuid4().hex}"

    async def handle(self, line: str) -> bool:
        """Act on one input line; False means quit."""
        text = line.strip()
        if not text:
            return True
        word, _, rest = text.partition(" ")
        rest = rest.strip()
        command = {
            "/as": self.switch_member,
            "/room": self.switch_room,
            "/join": self.join,
            "/leave": self.leave,
            "/time": self.time,
        }.get(word)
        if word in ("/quit", "/exit"):
            return False
        if word == "/?":
            self.say(HELP)
        elif word == "/who":
            self.say(self.whoami())
        elif word in ("/private", "/group"):
            self.private = word == "/private"
            self.say("现在是" + ("和机器人私聊" if self.private else f"在「{self.room.topic}」群聊"))
        elif command is not None:
            await command(rest)
        else:
            await self.dispatch(
                MessageEvent(
                    id=self.event_id(),
                    at=self.clock.now(),
                    sender=self.member,
                    text=text,
                    room=None if self.private else self.room,
                )
            )
        return True

    def whoami(self) -> str:
        local = self.clock.now().astimezone(self.bot.config.tz)
        where = "私聊" if self.private else f"群「{self.room.topic}」"
        return f"你是 {self.member.name}（{self.member.id}），在{where}，时间 {local:%Y-%m-%d %H:%M}"

    async def switch_member(self, rest: str) -> None:
        if not rest:
            self.say("用法：/as ID [名字]")
            return
        member_id, _, name = rest.partition(" ")
        name = name.strip() or self.names.get(member_id, member_id)
        self.names[member_id] = name
        self.member = MemberRef(member_id, name)
        self.say(self.whoami())

    async def switch_room(self, rest: str) -> None:
        if not rest:
            self.say("用法：/room 群名")
            return
        entry = next((r for r in self.bot.config.rooms if rest in (r.id, r.topic)), None)
        self.room = RoomRef(entry.id or rest, entry.topic or rest) if entry else RoomRef(rest, rest)
        self.private = False
        self.say(self.whoami())

    async def join(self, rest: str) -> None:
        inviter = MemberRef(rest, self.names.get(rest, rest)) if rest else None
        await self.dispatch(
            MemberJoined(id=self.event_id(), at=self.clock.now(), member=self.member, room=self.room, inviter=inviter)
        )

    async def leave(self, _rest: str) -> None:
        await self.dispatch(MemberLeft(id=self.event_id(), at=self.clock.now(), member=self.member, room=self.room))
        self.say(f"{self.member.name} 退出了「{self.room.topic}」")

    async def time(self, rest: str) -> None:
        if rest:
            try:
                delta = parse_duration(rest.lstrip("+"))
            except PydanticCustomError:
                self.say("用法：/time +1d（可用 s、m、h、d、w，例如 +30m、+2h）")
                return
            self.clock.offset += delta
            await save_offset(self.bot, self.clock.offset)
            fired = await self.bot.scheduler.advance_to(self.clock.now())
            if fired:
                self.say(f"（期间执行了 {fired} 个定时剧本）")
        self.say(self.whoami())

    async def run(self, stdin: TextIO) -> None:
        loop = asyncio.get_running_loop()
        interactive = stdin.isatty()
        if interactive:
            self.say(f"Qunguan 模拟器：你在和「{self.bot.config.bot.name}」聊天。输入 /? 查看命令。")
            self.say(self.whoami())
        pending: asyncio.Future[str] | None = None
        while True:
            if pending is None:
                if interactive:
                    self.output.write(self.prompt())
                    self.output.flush()
                pending = loop.run_in_executor(None, stdin.readline)
            due = self.bot.scheduler.next_due()
            timeout = None if due is None else max(0.0, (due - self.clock.now()).total_seconds())
            reloader = self.bot.engine.reloader
            if reloader is not None:  # `qunguan reload` and watched files are looked at once a second
                timeout = min(timeout, RELOAD_POLL) if timeout is not None else RELOAD_POLL
            done, _ = await asyncio.wait({pending}, timeout=timeout)
            if not done:
                if reloader is not None:
                    await reloader.poll()
                await self.bot.scheduler.advance_to(self.clock.now())
                continue
            line = pending.result()
            pending = None
            if line == "" or not await self.handle(line):
                break


async def load_offset(bot: Bot) -> timedelta:
    async with bot.store.unit() as conn:
        row = (await conn.execute(select(Setting.value).where(Setting.key == OFFSET_KEY))).first()
    return timedelta(seconds=float(row[0])) if row else timedelta()


async def save_offset(bot: Bot, offset: timedelta) -> None:
    table = Setting.__table__
    async with bot.store.unit() as conn:
        await conn.execute(delete(table).where(table.c.key == OFFSET_KEY))
        await conn.execute(insert(table).values(key=OFFSET_KEY, value=str(offset.total_seconds())))


async def run_simulator(
    config: Config,
    playbooks: PlaybookSet,
    *,
    database: str,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    folder: Path | None = None,
) -> None:
    """The embedded default of `qunguan run`: state persists in the database between runs."""
    output = stdout or sys.stdout
    clock = OffsetClock()
    connector = SimulatorConnector(output, config.bot.name)
    bot = await Bot.create(  # the simulator's groups are the operator's own: config.yaml's topics bind them
        config,
        clock=clock,
        connector=connector,
        playbooks=playbooks,
        database=database,
        folder=folder,
        trust_rooms=True,
    )
    try:
        clock.offset = await load_offset(bot)
        bot.scheduler.restart_from_now()
        await connector.start(bot.engine.dispatch)
        await Session(bot, connector, clock, output).run(stdin or sys.stdin)
    finally:
        await bot.close()
