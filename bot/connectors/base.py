"""The Connector protocol: composition, not inheritance from the engine.

`Bot.start` starts the connector with `Bot.receive` as its `emit`: every event of the platform (tests and the
simulator included) comes in that way; awaiting it waits for the event's commit. A connector reading a stream of
events sets `hands_over = True` and gets `Bot.offer` instead: awaiting it only hands the event over (waiting when
the intake is full), so that the events of a burst are committed together (bot/intake.py). The bot calls the
platform only outside its units of work: sends, removals and friend acceptances from the outbox after the event's
transaction committed, friend lookups after the event. What the engine needs to know about the platform comes with
the events: a connector marks `MemberRef.friend` when its contact data says it, and emits `FriendConfirmed` when
someone became a friend some other way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.events import Event, FriendRequest, MemberRef, Outgoing, RoomRef

Emit = Callable[[Event], Awaitable[object]]


class Connector(Protocol):
    """A connector may set `paced = False` when it reaches no real WeChat account (the send governor is
    then off by default), and `hands_over = True` to get Bot.offer as its emit (see above)."""

    self_id: str  # the bot's own WeChat id ('' until known): staff commands never take it as their target

    async def start(self, emit: Emit) -> None:
        """Begin delivering platform events to `emit` (Bot.receive); returns once running."""
        ...

    async def send(self, message: Outgoing) -> str | None:
        """Deliver one text (or invitation); returns the platform's message id when it gives one.

        Raises on failure; `SendRefused` when the platform pushes back (rate limit), which the
        outbox treats as a signal to slow down rather than as a broken message.
        """
        ...

    async def accept_friend(self, request: FriendRequest) -> None:
        """Accept a friend request the bot decided to accept (the outbox calls it, before the greeting goes)."""
        ...

    async def remove(self, room: RoomRef, member: MemberRef) -> None:
        """Remove a member from a group (the outbox calls it for a `remove` row). Raises `RemoveRefused` when
        WeChat says no: the bot is not the group's owner or admin, or the member cannot be removed."""
        ...

    async def announce(self, room: RoomRef, text: str) -> None:
        """Set a group's announcement (群公告; the outbox calls it for an `announce` row). Raises `AnnounceRefused`
        when WeChat says no: the bot is not the group's owner or admin."""
        ...

    async def stop(self) -> None: ...

    async def is_friend(self, member_id: str) -> bool:
        """Only friends can be messaged privately in WeChat. Asked only about members no event has marked yet,
        after the event that needed it (bot/engine.py); unknown counts as not a friend."""
        ...


class RemoveRefused(Exception):
    """WeChat refused a removal (the bot is not the group's owner or admin, ...): the reason, for staff."""


class AnnounceRefused(Exception):
    """WeChat refused to set a group announcement (the bot is not the group's owner or admin): the reason."""


class SendRefused(Exception):
    """The platform refused a send for pacing reasons (WeChat: 操作过于频繁): retry later, slower."""
