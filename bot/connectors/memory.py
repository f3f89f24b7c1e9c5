"""A connector that records what the bot sends: for tests and scenario files.

Events come in the way a platform's do: `deliver` hands them to the `emit` that `start` was given (Bot.start
gives Bot.receive), each member marked a friend or not as the platform would say (`not_friends`). Every call
the bot makes of it while a unit of work is open fails and is remembered in `calls_in_unit` (TestBot.close
then fails the test): the engine must never hold the database while it waits for the platform.
"""

from __future__ import annotations

from bot.connectors.base import AnnounceRefused, Emit, RemoveRefused
from bot.events import Event, FriendRequest, MemberRef, Outgoing, RoomRef, with_friends
from bot.store import unit_open


class ConnectorCallInUnit(AssertionError):
    """The bot called the platform while it held a unit of work (bot/store/database.py: `unit_open`)."""


class MemoryConnector:
    paced = False  # no real account to protect: messages show at once
    self_id = "qunguan-bot"  # the bot's own id (tests mention it like WeChat does): never a staff command's target

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.not_friends: set[str] = set()
        self.emit: Emit | None = None
        self.accepted: list[FriendRequest] = []
        self.calls_in_unit: list[str] = []
        self.not_admin: set[str] = set()  # groups where the bot is no owner or admin: removals, announcements refused

    async def start(self, emit: Emit) -> None:
        self.emit = emit

    async def deliver(self, event: Event) -> object:
        """An event from the platform, through the emit the connector was started with; what it returns."""
        if self.emit is None:
            raise RuntimeError("the memory connector is not started: Bot.start starts it")
        return await self.emit(self.as_delivered(event))

    def as_delivered(self, event: Event) -> Event:
        """The event as this platform delivers it: its people marked friends of the bot or not."""
        return with_friends(event, self._friend)

    def _friend(self, member_id: str) -> bool:
        return member_id not in self.not_friends

    def _guard(self, call: str) -> None:
        if unit_open():
            self.calls_in_unit.append(call)
            raise ConnectorCallInUnit(f"{call} was called while a unit of work was open")

    async def send(self, message: Outgoing) -> str | None:
        self._guard("send")
        self.sent.append(message)
        return f"sent-{len(self.sent)}"

    async def accept_friend(self, request: FriendRequest) -> None:
        self._guard("accept_friend")
        self.accepted.append(request)
        self.not_friends.discard(request.member.id)

    async def remove(self, room: RoomRef, member: MemberRef) -> None:
        """Recorded in `sent` as an Outgoing with `remove` (in order with the messages); refused where the bot
        is no owner or admin, as WeChat would."""
        self._guard("remove")
        if room.id in self.not_admin:
            raise RemoveRefused("机器人不是群主或管理员")
        self.sent.append(Outgoing("", room=room, member=member, remove=True))

    async def announce(self, room: RoomRef, text: str) -> None:
        """Recorded in `sent` as an Outgoing with `announce`; refused where the bot is no owner or admin."""
        self._guard("announce")
        if room.id in self.not_admin:
            raise AnnounceRefused("机器人不是群主或管理员")
        self.sent.append(Outgoing(text, room=room, announce=True))

    async def stop(self) -> None:
        self.emit = None

    async def is_friend(self, member_id: str) -> bool:
        self._guard("is_friend")
        return self._friend(member_id)
