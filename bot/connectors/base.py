"""The Connector protocol: composition, not inheritance from the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.events import Event, Outgoing

Emit = Callable[[Event], Awaitable[object]]


class Connector(Protocol):
    async def start(self, emit: Emit) -> None:
        """Begin delivering platform events to `emit`; returns once running."""
        ...

    async def send(self, message: Outgoing) -> None: ...

    async def stop(self) -> None: ...

    async def is_friend(self, member_id: str) -> bool:
        """Only friends can be messaged privately in WeChat."""
        ...
