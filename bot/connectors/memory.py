"""A connector that records what the bot sends: for tests and scenario files."""

from __future__ import annotations

from bot.connectors.base import Emit
from bot.events import FriendRequest, Outgoing


class MemoryConnector:
    paced = False  # no real account to protect: messages show at once
    self_id = "qunguan-bot"  # the bot's own id (tests mention it like WeChat does): never a staff command's target

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.not_friends: set[str] = set()
        self.emit: Emit | None = None
        self.accepted: list[FriendRequest] = []

    async def start(self, emit: Emit) -> None:
        self.emit = emit

    async def send(self, message: Outgoing) -> str | None:
        self.sent.append(message)
        return f"sent-{len(self.sent)}"

    async def accept_friend(self, request: FriendRequest) -> None:
        self.accepted.append(request)
        self.not_friends.discard(request.member.id)

    async def stop(self) -> None:
        self.emit = None

    async def is_friend(self, member_id: str) -> bool:
        return member_id not in self.not_friends
