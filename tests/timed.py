"""A memory connector that records when, by the bot's clock, each message left (tests of pacing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.connectors.memory import MemoryConnector
from bot.events import Outgoing


class Timed(MemoryConnector):
    def __init__(self) -> None:
        super().__init__()
        self.clock: Any = None  # set to the bot's clock once the bot exists
        self.times: list[datetime] = []

    async def send(self, message: Outgoing) -> str | None:
        self.times.append(self.clock.now())
        return await super().send(message)
