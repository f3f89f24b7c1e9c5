"""Platform-neutral events and outgoing messages.

Connectors translate their platform's callbacks into these frozen types so the
engine, tests and scenarios all speak one language. Every event carries a
stable id: redelivering the same id must act once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A WeChat user as the platform names them; `id` is the stable key."""

    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class RoomRef:
    """A WeChat group; the topic may change, the id does not."""

    id: str
    topic: str = ""


@dataclass(frozen=True, slots=True)
class MessageEvent:
    kind: ClassVar[str] = "message"
    id: str
    at: datetime
    sender: MemberRef
    text: str
    room: RoomRef | None = None
    mentions: tuple[str, ...] = ()
    mentions_bot: bool = False

    @property
    def private(self) -> bool:
        return self.room is None

    @property
    def member(self) -> MemberRef:
        return self.sender


@dataclass(frozen=True, slots=True)
class MemberJoined:
    kind: ClassVar[str] = "join"
    id: str
    at: datetime
    member: MemberRef
    room: RoomRef
    inviter: MemberRef | None = None


@dataclass(frozen=True, slots=True)
class MemberLeft:
    kind: ClassVar[str] = "leave"
    id: str
    at: datetime
    member: MemberRef
    room: RoomRef
    removed: bool = False


@dataclass(frozen=True, slots=True)
class RoomRenamed:
    """A room's topic changed (`room` carries the new topic); recorded, no trigger of its own."""

    kind: ClassVar[str] = "rename"
    member: ClassVar[None] = None
    id: str
    at: datetime
    room: RoomRef
    old_topic: str = ""
    by: MemberRef | None = None


@dataclass(frozen=True, slots=True)
class FriendRequest:
    """Someone asked to become the bot's WeChat friend; `hello` is their verification message."""

    kind: ClassVar[str] = "friend"
    id: str
    at: datetime
    member: MemberRef
    hello: str = ""

    @property
    def room(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ScheduledTick:
    """A schedule trigger came due; it runs one playbook in one room (or none)."""

    kind: ClassVar[str] = "schedule"
    member: ClassVar[None] = None
    id: str
    at: datetime
    playbook_id: str
    room: RoomRef | None = None


@dataclass(frozen=True, slots=True)
class WindowDue:
    """A listening window's time is up (a quiz, a coupon drop): its ability announces the result."""

    kind: ClassVar[str] = "window"
    member: ClassVar[None] = None
    id: str
    at: datetime
    window_id: int
    room: RoomRef


Event = MessageEvent | MemberJoined | MemberLeft | RoomRenamed | FriendRequest | ScheduledTick | WindowDue


def _who(ref: MemberRef | RoomRef) -> str:
    name = ref.name if isinstance(ref, MemberRef) else ref.topic
    return f"{name} ({ref.id})" if name and name != ref.id else ref.id


def summary(event: Event) -> str:
    """One line for the log: what happened, who did it, where (names are shown on one line)."""
    parts = [event.kind, event.id]
    if event.member is not None:
        parts.append(f"from {_who(event.member)}")
    if event.room is not None:
        parts.append(f"in {_who(event.room)}")
    return " ".join(parts).replace("\n", " ").replace("\r", " ")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One text the bot decided to send: to a room (with @-mentions) or to a member."""

    text: str
    room: RoomRef | None = None
    member: MemberRef | None = None
    mentions: tuple[MemberRef, ...] = field(default=())
    playbook_id: str = ""
    invite: bool = False  # not a text: add `member` to `room` (the `invite` action)
    expires_at: datetime | None = None  # worthless after this (`expires:`): the outbox drops it, unsent

    @property
    def target_id(self) -> str:
        if self.room is not None:
            return self.room.id
        assert self.member is not None
        return self.member.id
