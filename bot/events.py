"""Platform-neutral events and outgoing messages.

Connectors translate their platform's callbacks into these frozen types so the
engine, tests and scenarios all speak one language. Every event carries a
stable id: redelivering the same id must act once.

Each kind says here, once, what the rest of the bot needs to know about it: its `kind`, its subject
(`member`, `room`, `inviter`, `by`), how it is recorded (`active`, `membership`, `recorded`) and what its
playbooks' messages are to the outbox (`sends_as`). The engine, the store, the outbox and the trigger index
read these and never the type: a new kind of event is one class here (and one name in `Event`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import ClassVar

MESSAGE_KINDS = ("text", "image", "link", "miniprogram", "card", "file", "video", "voice", "emoticon", "other")
"""What a message carries (`message.kind`): a link card is `link`, a contact card (名片) `card`."""


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A WeChat user as the platform names them; `id` is the stable key. `friend`: whether they are the bot's
    WeChat friend, when the connector knows it (a contact payload says so); None: it did not say. The store
    keeps the last word on it, so deciding a `dm` never asks the platform."""

    id: str
    name: str = ""
    friend: bool | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RoomRef:
    """A WeChat group; the topic may change, the id does not."""

    id: str
    topic: str = ""


class _Traits:
    """What every kind of event says about itself (defaults here; each kind overrides what differs)."""

    __slots__ = ()
    kind: ClassVar[str]
    sends_as: ClassVar[str] = "notice"  # outbox kind of its runs' messages: reply | welcome | broadcast | notice
    recorded: ClassVar[bool] = True  # the members and the room it names are kept current in the store
    active: ClassVar[bool] = False  # its member did something (a message): `last_active` moves
    membership: ClassVar[str | None] = None  # its member in its room: "present" | "joined" | "left"
    member: ClassVar[MemberRef | None] = None  # who it is about
    room: ClassVar[RoomRef | None] = None  # where it happened
    inviter: ClassVar[MemberRef | None] = None  # who brought the member in (a join)
    by: ClassVar[MemberRef | None] = None  # who did it to the room (a rename)


@dataclass(frozen=True, slots=True)
class MessageEvent(_Traits):
    kind: ClassVar[str] = "message"
    sends_as: ClassVar[str] = "reply"
    active: ClassVar[bool] = True
    membership: ClassVar[str | None] = "present"
    id: str
    at: datetime
    sender: MemberRef
    text: str
    room: RoomRef | None = None
    mentions: tuple[str, ...] = ()
    mentions_bot: bool = False
    content: str = "text"  # one of MESSAGE_KINDS: `message.kind` to playbooks (`kind` is the event's)
    url: str | None = None  # a link card's or mini-program's address
    title: str | None = None  # a link card's, mini-program's, file's or contact card's title or name
    qr: str | None = None  # the text of a QR code found in an image

    @property
    def private(self) -> bool:
        return self.room is None

    @property
    def member(self) -> MemberRef:
        return self.sender


@dataclass(frozen=True, slots=True)
class MemberJoined(_Traits):
    kind: ClassVar[str] = "join"
    sends_as: ClassVar[str] = "welcome"
    membership: ClassVar[str | None] = "joined"
    id: str
    at: datetime
    member: MemberRef
    room: RoomRef
    inviter: MemberRef | None = None


@dataclass(frozen=True, slots=True)
class MemberLeft(_Traits):
    kind: ClassVar[str] = "leave"
    membership: ClassVar[str | None] = "left"
    id: str
    at: datetime
    member: MemberRef
    room: RoomRef
    removed: bool = False


@dataclass(frozen=True, slots=True)
class RoomRenamed(_Traits):
    """A room's topic changed (`room` carries the new topic); recorded, no trigger of its own."""

    kind: ClassVar[str] = "rename"
    id: str
    at: datetime
    room: RoomRef
    old_topic: str = ""
    by: MemberRef | None = None


@dataclass(frozen=True, slots=True)
class FriendRequest(_Traits):
    """Someone asked to become the bot's WeChat friend; `hello` is their verification message."""

    kind: ClassVar[str] = "friend"
    sends_as: ClassVar[str] = "reply"
    id: str
    at: datetime
    member: MemberRef
    hello: str = ""


@dataclass(frozen=True, slots=True)
class FriendConfirmed(_Traits):
    """Someone became the bot's WeChat friend some other way (the shop added them on the phone, or they accepted
    the bot's request): recorded, so that a `dm` to them goes privately; no trigger of its own."""

    kind: ClassVar[str] = "befriended"
    id: str
    at: datetime
    member: MemberRef


@dataclass(frozen=True, slots=True)
class ScheduledTick(_Traits):
    """A schedule trigger came due; it runs one playbook in one room (or none)."""

    kind: ClassVar[str] = "schedule"
    sends_as: ClassVar[str] = "broadcast"
    recorded: ClassVar[bool] = False
    id: str
    at: datetime
    playbook_id: str
    room: RoomRef | None = None


@dataclass(frozen=True, slots=True)
class WindowDue(_Traits):
    """A listening window's time is up (a quiz, a coupon drop): its ability announces the result."""

    kind: ClassVar[str] = "window"
    recorded: ClassVar[bool] = False
    id: str
    at: datetime
    window_id: int
    room: RoomRef


Event = (
    MessageEvent | MemberJoined | MemberLeft | RoomRenamed | FriendRequest | FriendConfirmed | ScheduledTick | WindowDue
)


def answered(event: Event) -> MemberRef | None:
    """The member whose message (or friend request) the event's replies answer."""
    return event.member if event.sends_as == "reply" else None


def with_friends(event: Event, friend: Callable[[str], bool]) -> Event:
    """The event with `friend` filled in on every member it names that the connector did not mark yet."""
    changes = {
        f.name: replace(value, friend=friend(value.id))
        for f in fields(event)
        if isinstance(value := getattr(event, f.name), MemberRef) and value.friend is None
    }
    return replace(event, **changes) if changes else event


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
    """One text the bot decided to send: to a room (with @-mentions) or to a member; or an action on WeChat that
    goes out through the outbox like a message (an invitation, a friend acceptance, a removal, an announcement)."""

    text: str
    room: RoomRef | None = None
    member: MemberRef | None = None
    mentions: tuple[MemberRef, ...] = field(default=())
    playbook_id: str = ""
    invite: bool = False  # not a text: add `member` to `room` (the `invite` action)
    accept: bool = False  # not a message: accept the friend request of `member` (`text`: its hello)
    remove: bool = False  # not a message: remove `member` from `room` (`text`: the reason; `remove`, `blacklist`)
    announce: bool = False  # not a message: set `text` as the group announcement of `room` (`announce`)
    alert: bool = False  # a message to staff (bot/alerts.py): never cut by the reply budget of whom it is about
    expires_at: datetime | None = None  # worthless after this (`expires:`): the outbox drops it, unsent

    @property
    def target_id(self) -> str:
        if self.room is not None:
            return self.room.id
        assert self.member is not None
        return self.member.id
