"""The Connector protocol: composition, not inheritance from the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.events import Event, FriendRequest, Outgoing

Emit = Callable[[Event], Awaitable[object]]


class Connector(Protocol):
    """A connector may set `paced = False` when it reaches no real WeChat account (the send governor is
    then off by default)."""

    self_id: str  # the bot's own WeChat id ('' until known): staff commands never take it as their target

    async def start(self, emit: Emit) -> None:
        """Begin delivering platform events to `emit`; returns once running."""
        ...

    async def send(self, message: Outgoing) -> str | None:
        """Deliver one text (or invitation); returns the platform's message id when it gives one.

        Raises on failure; `SendRefused` when the platform pushes back (rate limit), which the
        outbox treats as a signal to slow down rather than as a broken message.
        """
        ...

    async def accept_friend(self, request: FriendRequest) -> None: ...

    async def stop(self) -> None: ...

    async def is_friend(self, member_id: str) -> bool:
        """Only friends can be messaged privately in WeChat."""
        ...


class SendRefused(Exception):
    """The platform refused a send for pacing reasons (WeChat: 操作过于频繁): retry later, slower."""
