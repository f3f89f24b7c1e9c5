"""The simulator's terminal app: you type as a member in a group, the bot answers as it would in WeChat.

Lines starting with one of the simulator's own commands (`/as`, `/room`, `/join`, `/leave`, `/private`,
`/group`, `/time`, `/reset`, `/who`, `/quit`, `/?`) steer the simulation, and `/link`, `/qr`, `/card`, `/mini`,
`/image`, `/file` send what is not a text (bot/simulator/kinds.py); everything else, other slash commands
included, is a message, delivered through the simulator's connector. Piped stdin works the same and is echoed,
so a script's output reads like a chat.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from pydantic_core import PydanticCustomError

from bot.app import Bot
from bot.clock import OffsetClock
from bot.config import Config
from bot.connectors.simulator import SimulatorConnector
from bot.console.app import Console
from bot.console.server import serving
from bot.events import Event, MemberJoined, MemberLeft, MemberRef, MessageEvent, RoomRef
from bot.playbook.library import PlaybookSet
from bot.playbook.types import parse_duration
from bot.reload import tell_start_up
from bot.simulator.kinds import KIND_COMMANDS, carried
from bot.simulator.mentions import Typed, mentioned
from bot.simulator.shop import Shop, member_names, save_offset
from bot.textnorm import printable

RELOAD_POLL = 1.0  # seconds between two looks for `qunguan reload` requests and edited playbook files
CONFIRM = "确认"
MAX_JUMP = timedelta(days=366)  # every schedule on the way runs, one by one

HELP = """模拟器命令：
  /as ID [名字]     切换成员（例如 /as wxid_boss 店长：config.yaml 里的店主，之后发 /帮助 看店员命令）
  /room 群名        切换到某个群（不存在就新建）
  /join [邀请人ID]  当前成员加入当前群
  /leave            当前成员退出当前群
  /private          和机器人私聊      /group  回到群聊
  /link 网址 [标题]  发一张链接卡片    /qr 内容  发一张含这个二维码的图片
  /card 名字         发一张名片        /mini 标题 [appid]  发一个小程序
  /image             发一张普通图片    /file 文件名  发一个文件
  /time [+1d]       查看时间，或把时间往后拨（一次最多 1 年；期间到点的定时剧本按各自的时间执行，问答和抢券按时结束）
  /time set 2026-12-24 09:00
                    把时间拨到某个时刻（本地时间，只能往后拨）
  /reset            从头再来：清空模拟器的积分、签到、券等数据，时间回到现在（会先请你确认）
  /who              当前身份、群和时间
  /?                这份说明
  /quit             退出
在群里写「@名字 」会 @ 到模拟器认识的成员（用 /as 扮演过的，或数据库里有的）；「@{bot} 」是在和机器人说话。
其他内容（包括 /积分 这样的命令）都会作为消息发出。"""

TIME_USAGE = "用法：/time +1d（可用 s、m、h、d、w，例如 +30m、+2h），或 /time set 2026-12-24 09:00"
SET_USAGE = "用法：/time set 2026-12-24 09:00（本地时间；只写日期就是当天 0 点）"
TOO_FAR = "一次最多往后拨 1 年：期间到点的定时剧本要一个个执行。要拨得更远，请分几次拨"
BACKWARDS = "不能把时间往回拨（现在是 {now}）：签到、连续天数和定时剧本都假设时间只往前走。想从头再来，用 /reset"
UNKNOWN = "（模拟器不认识「@{name}」，按普通文字发出。@名字 后面要留一个空格；没见过的成员先用 /as ID 名字 扮演一次）"
GONE = "（{name} 已不在群「{room}」里，发不出消息：/join 重新进群，或 /as 换个成员）"
PRIVATE = "（私聊里没有 @ 提及，和微信一样；要 @ 某人，请用 /group 回到群里）"


class Session:
    """Who is typing, where, and when; the bot behind it is reopened by `/reset`."""

    def __init__(self, shop: Shop, bot: Bot, clock: OffsetClock, output: TextIO) -> None:
        self.shop = shop
        self.bot = bot
        self.clock = clock
        self.output = output
        self.start_over()

    def start_over(self) -> None:
        """Back to the first member in the first configured group."""
        first = self.bot.config.rooms[0] if self.bot.config.rooms else None
        topic = (first.topic or first.id) if first else "会员福利1群"
        self.member = MemberRef("u1", "小王")
        self.room = RoomRef((first.id if first and first.id else topic) or topic, topic or "")
        self.private = False
        self.names: dict[str, str] = {"u1": "小王"}  # id -> name of the members you became
        self.pointed_out: set[str] = set()  # notes shown once: unknown `@名字`, @ in a private chat

    def say(self, text: str) -> None:
        for line in text.splitlines():
            self.output.write(printable(line) + "\n")
        self.output.flush()

    def note_once(self, key: str, text: str) -> None:
        if key not in self.pointed_out:
            self.pointed_out.add(key)
            self.say(text)

    def prompt(self) -> str:
        where = "私聊" if self.private else self.room.topic
        return f"{self.member.name}@{where}> "

    async def deliver(self, event: Event) -> None:
        """Hand a typed event to the bot through the connector, then let what it started finish. A member who was
        removed from the group, or left it, cannot post there, as in WeChat."""
        gone = self.shop.connector.gone
        if event.kind == "message" and event.room is not None and (event.room.id, self.member.id) in gone:
            self.say(GONE.format(name=self.member.name, room=event.room.topic or event.room.id))
            return
        if event.kind == "join":
            gone.discard((self.room.id, self.member.id))
        elif event.kind == "leave":
            gone.add((self.room.id, self.member.id))
        await self.shop.connector.typed(event)
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
            "/reset": self.reset,
        }.get(word)
        if word in ("/quit", "/exit"):
            return False
        if word == "/?":
            self.say(HELP.format(bot=self.bot.config.bot.name))
        elif word == "/who":
            self.say(self.whoami())
        elif word in ("/private", "/group"):
            self.private = word == "/private"
            self.say("现在是" + ("和机器人私聊" if self.private else f"在「{self.room.topic}」群聊"))
        elif command is not None:
            await command(rest)
        elif word in KIND_COMMANDS:
            await self.post(word, rest)
        else:
            await self.message(text)
        return True

    async def message(self, text: str) -> None:
        if self.private:
            if any(w.startswith("@") and len(w) > 1 for w in text.split()):
                self.note_once("private", PRIVATE)
            typed = Typed(text)
        else:
            stored = await member_names(self.bot, text) if "@" in text else {}
            known = {name: member_id for name, member_id in stored.items() if member_id not in self.names}
            known.update({name: member_id for member_id, name in self.names.items() if name})
            typed = mentioned(text, self.bot.config.bot.name, known)
            for name in typed.unknown:
                self.note_once(f"@{name}", UNKNOWN.format(name=name))
        await self.deliver(
            MessageEvent(
                id=self.event_id(),
                at=self.clock.now(),
                sender=self.member,
                text=typed.text,
                room=None if self.private else self.room,
                mentions=typed.mentions,
                mentions_bot=typed.mentions_bot,
            )
        )

    async def post(self, word: str, rest: str) -> None:
        """A link card, a picture, a contact card, ...: a message without text (`/link URL`, `/qr TEXT`, ...)."""
        what = await carried(word, rest)
        if isinstance(what, str):
            self.say(what)
            return
        await self.deliver(
            MessageEvent(
                id=self.event_id(),
                at=self.clock.now(),
                sender=self.member,
                text="",
                room=None if self.private else self.room,
                content=what.kind,
                url=what.url,
                title=what.title,
                qr=what.qr,
            )
        )

    def local(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.bot.config.tz):%Y-%m-%d %H:%M}"

    def whoami(self) -> str:
        where = "私聊" if self.private else f"群「{self.room.topic}」"
        return f"你是 {self.member.name}（{self.member.id}），在{where}，时间 {self.local(self.clock.now())}"

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
        await self.deliver(
            MemberJoined(id=self.event_id(), at=self.clock.now(), member=self.member, room=self.room, inviter=inviter)
        )

    async def leave(self, _rest: str) -> None:
        await self.deliver(MemberLeft(id=self.event_id(), at=self.clock.now(), member=self.member, room=self.room))
        self.say(f"{self.member.name} 退出了「{self.room.topic}」")

    async def time(self, rest: str) -> None:
        if not rest:
            self.say(self.whoami())
            return
        word, _, value = rest.partition(" ")
        if word == "set":
            target = self.moment(value)
            if target is None:
                self.say(SET_USAGE)
                return
            delta = target - self.clock.now()
        else:
            try:
                delta = parse_duration(rest.lstrip("+-")) * (-1 if rest.startswith("-") else 1)
            except PydanticCustomError:
                self.say(TIME_USAGE)
                return
        await self.travel(delta)

    def moment(self, text: str) -> datetime | None:
        """`2026-12-24 09:00` (or `2026/12/24`, a date alone: 0:00) in the shop's timezone."""
        try:
            moment = datetime.fromisoformat(text.strip().replace("/", "-").replace("：", ":"))
        except ValueError:
            return None
        return moment.replace(tzinfo=self.bot.config.tz) if moment.tzinfo is None else moment

    async def travel(self, delta: timedelta) -> None:
        """Step through every schedule and window close due on the way, each with the clock at its time."""
        if delta < timedelta():
            self.say(BACKWARDS.format(now=self.local(self.clock.now())))
            return
        if delta > MAX_JUMP:
            self.say(TOO_FAR)
            return
        fired = await self.bot.scheduler.advance_to(self.clock.now() + delta)
        await save_offset(self.bot, self.clock.offset)
        if fired:
            self.say(f"（期间执行了 {fired} 个定时剧本）")
        self.say(self.whoami())

    async def reset(self, rest: str) -> None:
        if rest != CONFIRM:
            self.say(
                f"/reset 会清空模拟器的全部数据（{self.shop.database} 里的积分、签到、券、标签……），"
                f"时间也回到现在。确定的话请发送：/reset {CONFIRM}"
            )
            return
        playbooks = self.bot.engine.playbooks
        await self.bot.close()
        try:
            await self.shop.wipe()
        finally:
            self.bot, self.clock = await self.shop.open(playbooks)
        self.start_over()
        self.say("已重置：数据清空，时间回到现在。")
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
            if not interactive and line.strip():  # a piped script reads like the chat it was
                self.say(self.prompt() + line.strip())
            if line == "" or not await self.handle(line):
                break


async def run_simulator(
    config: Config,
    playbooks: PlaybookSet,
    *,
    database: str,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    folder: Path | None = None,
    connector: SimulatorConnector | None = None,
) -> None:
    """The embedded default of `qunguan run`: state and the simulated time persist in the database between runs."""
    output = stdout or sys.stdout
    shop = Shop(config, database, connector or SimulatorConnector(output, config.bot.name), folder)
    bot, clock = await shop.open(playbooks)
    tell_start_up(bot.engine)
    session = Session(shop, bot, clock, output)
    try:
        async with serving(Console(bot.store, config, clock, folder)):  # the web console, when web.listen is set
            await session.run(stdin or sys.stdin)
    finally:
        await session.bot.close()
