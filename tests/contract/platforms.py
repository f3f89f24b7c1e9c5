"""The world around each connector, for the connector contract suite: how its platform makes events happen
and what it shows of the bot's sends.

- memory: the test is the platform; it hands the connector ready-made events, as TestBot and scenarios do,
  and reads what the connector recorded;
- simulator: the terminal is the platform; typed lines become events as the terminal makes them
  (bot/simulator/mentions.py), and the bot's sends are read back from what it printed;
- wechaty: the Node Wechaty gateway (tests/gateway) with a mocked WeChat is the platform, reached over
  gRPC by the real connector; the gateway's control channel makes events and lists sends and actions.

Each platform names what its WeChat can do (`abilities`): a suite case that needs an ability runs only on
the platforms that have it, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wechaty_gateway import BOT_ID, BOT_NAME, DEADLINE, Gateway

from bot.connectors.base import Connector, Emit
from bot.connectors.memory import MemoryConnector
from bot.connectors.simulator import SimulatorConnector
from bot.connectors.wechaty import WechatyConnector
from bot.events import Event, FriendRequest, MemberJoined, MemberRef, MessageEvent, RoomRef
from bot.simulator.mentions import mentioned

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
WECHAT_SPACE = "\u2005"  # WeChat ends an @-mention with a four-per-em space
_worlds = itertools.count(1)


@dataclass(frozen=True)
class World:
    """Who is there; ids are new for each test, so tests never see each other's contacts on the gateway."""

    bot: MemberRef
    wang: MemberRef
    li: MemberRef
    stranger: MemberRef  # not a friend of the bot (where the platform has such people)
    room: RoomRef

    @classmethod
    def fresh(cls) -> World:
        n = next(_worlds)
        return cls(
            bot=MemberRef(BOT_ID, BOT_NAME),
            wang=MemberRef(f"ct{n}_wang", "小王"),
            li=MemberRef(f"ct{n}_li", "老李"),
            stranger=MemberRef(f"ct{n}_stranger", "路人"),
            room=RoomRef(f"ct{n}@chatroom", f"契约测试群{n}"),
        )

    def name_of(self, member_id: str) -> str:
        return next(m.name for m in (self.bot, self.wang, self.li, self.stranger) if m.id == member_id)

    def by_name(self, name: str) -> MemberRef:
        return next(m for m in (self.wang, self.li, self.stranger) if m.name == name)


@dataclass(frozen=True)
class Seen:
    """One send as the platform shows it: where it went, the text after the @-mentions, who was mentioned."""

    room: str | None  # room id
    member: str | None  # member id, for a private message
    text: str
    mentions: tuple[str, ...] = ()
    id: str | None = None  # the platform's message id, where it shows one


class Recorder:
    """The bot's side of `start(emit)`: keeps what was delivered, in order; waits for it without sleeping."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    async def emit(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(self, match: Callable[[Event], bool], count: int = 1) -> list[Event]:
        """The delivered events that match, once there are `count` of them (fails after the deadline)."""
        async with asyncio.timeout(DEADLINE):
            while len(found := [e for e in self.events if match(e)]) < count:
                self._changed.clear()
                await self._changed.wait()
        return found


class Platform:
    """What every platform offers the suite; one connector listens at a time (`start` makes a new one)."""

    name: str
    abilities: frozenset[str] = frozenset()  # redelivery, strangers (non-friends), failures (of sends)
    real_account = False

    def __init__(self) -> None:
        self.world = World.fresh()
        self.connector: Any = None
        self._started: list[Connector] = []

    async def start(self, emit: Emit) -> Any:
        """A new connector, started with `emit`: from now on the platform's events go to it."""
        self.connector = self.make()
        self._started.append(self.connector)
        await self.connector.start(emit)
        return self.connector

    def make(self) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        for connector in self._started:
            await connector.stop()

    async def say(self, member: MemberRef, text: str, *, room: RoomRef | None = None) -> str:
        """A member writes `text` (in a room, or to the bot); `@名字 ` in it mentions who is named. Returns
        the id the platform gave the message."""
        raise NotImplementedError

    async def join(self, member: MemberRef, room: RoomRef, inviter: MemberRef) -> None:
        raise NotImplementedError

    async def ask_friend(self, member: MemberRef, hello: str) -> None:
        raise NotImplementedError

    async def redeliver(self, message_id: str) -> None:
        raise NotImplementedError

    async def fail_next_send(self, reason: str) -> None:
        raise NotImplementedError

    async def sent(self) -> list[Seen]:
        raise NotImplementedError

    async def invited(self) -> list[tuple[str, str]]:
        """(room id, member id) of every invitation the bot made."""
        raise NotImplementedError

    async def accepted(self) -> list[str]:
        """Ids of the members whose friend requests the bot accepted."""
        raise NotImplementedError

    async def removed(self) -> list[tuple[str, str]]:
        """(room id, member id) of every removal the bot made."""
        raise NotImplementedError

    async def refuse_removals(self, room: RoomRef) -> None:
        """The bot is no owner or admin of the room from now on: WeChat refuses its removals there."""
        raise NotImplementedError


class InProcess(Platform):
    """memory and simulator: the platform is this process, and hands each event to the listening connector."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self.handed: dict[str, Event] = {}  # every event the platform made, by id

    def event_id(self) -> str:
        return f"{self.name}-{self.world.room.id}-{next(self._ids)}"

    async def hand(self, event: Event) -> None:
        """Give the event to the connector; a stopped one takes nothing."""
        self.handed[event.id] = event
        if self.connector.emit is not None:
            await self.deliver(event)

    async def deliver(self, event: Event) -> None:
        raise NotImplementedError

    async def say(self, member: MemberRef, text: str, *, room: RoomRef | None = None) -> str:
        known = {m.name: m.id for m in (self.world.wang, self.world.li, self.world.stranger)}
        typed = mentioned(text, self.world.bot.name, known) if room is not None else None
        event = MessageEvent(
            id=self.event_id(),
            at=AT,
            sender=member,
            text=typed.text if typed else text,
            room=room,
            mentions=typed.mentions if typed else (),
            mentions_bot=typed.mentions_bot if typed else False,
        )
        await self.hand(event)
        return event.id

    async def join(self, member: MemberRef, room: RoomRef, inviter: MemberRef) -> None:
        await self.hand(MemberJoined(id=self.event_id(), at=AT, member=member, room=room, inviter=inviter))

    async def ask_friend(self, member: MemberRef, hello: str) -> None:
        await self.hand(FriendRequest(id=self.event_id(), at=AT, member=member, hello=hello))


class MemoryPlatform(InProcess):
    name = "memory"
    abilities = frozenset({"redelivery", "strangers", "refusals"})

    def make(self) -> MemoryConnector:
        connector = MemoryConnector()
        connector.not_friends.add(self.world.stranger.id)
        return connector

    async def deliver(self, event: Event) -> None:
        await self.connector.deliver(event)  # as TestBot does: the connector marks who is a friend

    async def redeliver(self, message_id: str) -> None:
        await self.hand(self.handed[message_id])

    async def sent(self) -> list[Seen]:
        return [
            Seen(
                room=m.room.id if m.room else None,
                member=None if m.room else m.member.id if m.member else None,
                text=m.text,
                mentions=tuple(x.id for x in m.mentions),
            )
            for m in self.connector.sent
            if not (m.invite or m.remove)
        ]

    async def invited(self) -> list[tuple[str, str]]:
        return [(m.room.id, m.member.id) for m in self.connector.sent if m.invite and m.room and m.member]

    async def removed(self) -> list[tuple[str, str]]:
        return [(m.room.id, m.member.id) for m in self.connector.sent if m.remove and m.room and m.member]

    async def refuse_removals(self, room: RoomRef) -> None:
        self.connector.not_admin.add(room.id)

    async def accepted(self) -> list[str]:
        return [r.member.id for r in self.connector.accepted]


class SimulatorPlatform(InProcess):
    """The terminal: what the bot sends is printed, and read back here the way a person reads it."""

    name = "simulator"

    def make(self) -> SimulatorConnector:
        self.output = io.StringIO()
        return SimulatorConnector(self.output, self.world.bot.name)

    async def deliver(self, event: Event) -> None:
        await self.connector.typed(event)

    def _lines(self) -> list[str]:
        """Printed lines, a text's continuation lines joined to it."""
        lines: list[str] = []
        for line in self.output.getvalue().splitlines():
            if line.startswith("    ") and lines:
                lines[-1] += "\n" + line[4:]
            else:
                lines.append(line)
        return lines

    async def sent(self) -> list[Seen]:
        said = re.compile(rf"🤖 【(?P<where>[^】]*)】{re.escape(self.world.bot.name)}：(?P<text>.*)", re.S)
        seen = []
        for line in self._lines():
            if (m := said.fullmatch(line)) is None:
                continue
            where, text = m["where"], m["text"]
            mentions = []
            while (at := re.match(r"@(\S+) ", text)) is not None:  # printed as `@名字 ` before the text
                mentions.append(self.world.by_name(at[1]).id)
                text = text[at.end() :]
            if where.startswith("私聊 → "):
                member = self.world.by_name(where.removeprefix("私聊 → ")).id
                seen.append(Seen(room=None, member=member, text=text, mentions=tuple(mentions)))
            else:
                room = self.world.room.id if where == self.world.room.topic else where
                seen.append(Seen(room=room, member=None, text=text, mentions=tuple(mentions)))
        return seen

    async def invited(self) -> list[tuple[str, str]]:
        invite = re.compile(r"🤖 （邀请 (?P<who>.*) 进群「(?P<room>.*)」）")
        return [
            (self.world.room.id if m["room"] == self.world.room.topic else m["room"], self.world.by_name(m["who"]).id)
            for line in self._lines()
            if (m := invite.fullmatch(line))
        ]

    async def accepted(self) -> list[str]:
        accept = re.compile(r"🤖 （已通过 (?P<who>.*) 的好友申请）")
        return [self.world.by_name(m["who"]).id for line in self._lines() if (m := accept.fullmatch(line))]

    async def removed(self) -> list[tuple[str, str]]:
        removal = re.compile(r"🤖 （把 (?P<who>.*) 移出群「(?P<room>.*)」）")
        return [
            (self.world.room.id if m["room"] == self.world.room.topic else m["room"], self.world.by_name(m["who"]).id)
            for line in self._lines()
            if (m := removal.fullmatch(line))
        ]


class WechatyPlatform(Platform):
    """WeChat behind the Node gateway; the bot's side is the real connector over gRPC."""

    name = "wechaty"
    abilities = frozenset({"redelivery", "strangers", "failures", "refusals"})
    real_account = True

    def __init__(self, gateway: Gateway, cache_dir: Path) -> None:
        super().__init__()
        self.gateway = gateway
        self.cache_dir = cache_dir
        w = self.world
        gateway.post("/contact", id=w.wang.id, name=w.wang.name)
        gateway.post("/contact", id=w.li.id, name=w.li.name)
        gateway.post("/contact", id=w.stranger.id, name=w.stranger.name, friend=False)
        gateway.post("/room", id=w.room.id, topic=w.room.topic, members=[w.li.id, w.stranger.id])
        self.since = gateway.mark()

    def make(self) -> WechatyConnector:
        gw = self.gateway
        return WechatyConnector(
            endpoint=gw.endpoint, token=gw.token, cache_dir=self.cache_dir, login_timeout=DEADLINE, reconnect_max=1
        )

    async def _call(self, method: Callable[..., Any], *args: Any, **body: Any) -> Any:
        """The control channel blocks: call it off the event loop, so the connector goes on hearing the gateway."""
        return await asyncio.to_thread(method, *args, **body)

    async def say(self, member: MemberRef, text: str, *, room: RoomRef | None = None) -> str:
        if room is None:
            return (await self._call(self.gateway.post, "/contact/say", **{"from": member.id}, text=text))["id"]
        names = [self.world.bot, self.world.wang, self.world.li, self.world.stranger]
        named = [m for m in names if f"@{m.name} " in text or text.endswith(f"@{m.name}")]
        for m in named:  # WeChat's text ends each mention with its own space
            text = re.sub(rf"@{re.escape(m.name)}(?: |$)", f"@{m.name}{WECHAT_SPACE}", text)
        body = {"from": member.id, "room": room.id, "text": text, "mentions": [m.id for m in named]}
        return (await self._call(self.gateway.post, "/room/say", **body))["id"]

    async def join(self, member: MemberRef, room: RoomRef, inviter: MemberRef) -> None:
        await self._call(self.gateway.post, "/room/join", room=room.id, members=[member.id], inviter=inviter.id)

    async def ask_friend(self, member: MemberRef, hello: str) -> None:
        await self._call(self.gateway.post, "/friendship", **{"from": member.id}, hello=hello)

    async def redeliver(self, message_id: str) -> None:
        await self._call(self.gateway.post, "/redeliver", id=message_id)

    async def fail_next_send(self, reason: str) -> None:
        await self._call(self.gateway.post, "/fail-sends", count=1, error=reason)

    async def sent(self) -> list[Seen]:
        seen = []
        for m in await self._call(self.gateway.sent, self.since):
            if m["error"] is not None:
                continue
            text = m["text"]
            for member_id in m["mention_ids"]:  # shown as `@名字` + WeChat's mention space before the text
                text = text.removeprefix(f"@{self.world.name_of(member_id)}{WECHAT_SPACE}")
            seen.append(Seen(m["room_id"], m["to_id"], text, tuple(m["mention_ids"]), m["id"]))
        return seen

    async def invited(self) -> list[tuple[str, str]]:
        actions = await self._call(self.gateway.actions, self.since)
        return [(a["room_id"], a["contact_id"]) for a in actions if a["action"] == "room_add"]

    async def accepted(self) -> list[str]:
        actions = await self._call(self.gateway.actions, self.since)
        return [a["contact_id"] for a in actions if a["action"] == "friendship_accept"]

    async def removed(self) -> list[tuple[str, str]]:
        actions = await self._call(self.gateway.actions, self.since)
        return [(a["room_id"], a["contact_id"]) for a in actions if a["action"] == "room_del"]

    async def refuse_removals(self, room: RoomRef) -> None:
        await self._call(self.gateway.post, "/room/admin", room=room.id, admin=False)
