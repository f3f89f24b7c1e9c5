"""The simulator's connector: the terminal stands in for WeChat.

What the bot sends is printed; what is typed in the terminal (bot/simulator/terminal.py) comes in as events
through the `emit` that `start` was given, the same road a WeChat event takes through the wechaty connector.
"""

from __future__ import annotations

from typing import TextIO

from bot.connectors.base import Emit
from bot.events import Event, FriendRequest, MemberRef, Outgoing, RoomRef, with_friends
from bot.textnorm import printable


class SimulatorConnector:
    paced = False  # no real account to protect: messages show at once
    self_id = "qunguan-bot"  # the bot's own id: never a staff command's target

    def __init__(self, output: TextIO, bot_name: str) -> None:
        self.output = output
        self.bot_name = bot_name
        self.emit: Emit | None = None
        self.gone: set[tuple[str, str]] = set()  # (room id, member id): removed by the bot or left, as in WeChat

    async def start(self, emit: Emit) -> None:
        self.emit = emit

    async def typed(self, event: Event) -> None:
        """An event the terminal made (a message, a join, ...), handed to the bot like a platform event; in the
        simulator everyone is the bot's friend."""
        if self.emit is None:
            raise RuntimeError("the simulator connector is not started")
        await self.emit(with_friends(event, lambda _member_id: True))

    async def send(self, message: Outgoing) -> str | None:
        if message.invite:
            who = message.member.name or message.member.id if message.member else "?"
            room = message.room.topic or message.room.id if message.room else "?"
            self.output.write(f"🤖 （邀请 {printable(who)} 进群「{printable(room)}」）\n")
            self.output.flush()
            return None
        mentions = "".join(f"@{m.name or m.id} " for m in message.mentions)
        if message.room is not None:
            where = f"【{message.room.topic or message.room.id}】"
        else:
            where = f"【私聊 → {message.member.name if message.member else '?'}】"
        lines = [printable(line) for line in (mentions + message.text).splitlines()] or [""]
        self.output.write(f"🤖 {printable(where)}{self.bot_name}：{lines[0]}\n")
        for line in lines[1:]:
            self.output.write(f"    {line}\n")
        self.output.flush()
        return None

    async def accept_friend(self, request: FriendRequest) -> None:
        self.output.write(f"🤖 （已通过 {printable(request.member.name or request.member.id)} 的好友申请）\n")
        self.output.flush()

    async def remove(self, room: RoomRef, member: MemberRef) -> None:
        who, where = printable(member.name or member.id), printable(room.topic or room.id)
        self.gone.add((room.id, member.id))
        self.output.write(f"🤖 （把 {who} 移出群「{where}」）\n")
        self.output.flush()

    async def announce(self, room: RoomRef, text: str) -> None:
        where = printable(room.topic or room.id)
        lines = [printable(line) for line in text.splitlines()] or [""]
        self.output.write(f"🤖 （把「{where}」的群公告设为）{lines[0]}\n")
        for line in lines[1:]:
            self.output.write(f"    {line}\n")
        self.output.flush()

    async def stop(self) -> None:
        self.emit = None

    async def is_friend(self, member_id: str) -> bool:
        return True
