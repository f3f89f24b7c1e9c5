"""The first stage: an event is acted on once, and what it says about members and rooms is recorded.

Nothing with an effect runs before this: a redelivered event (WeChat retries, a reconnect, a restart) stops
here.
"""

from __future__ import annotations

import logging

from bot.stages.stage import Stage, Turn
from bot.store.activity import mark_seen, record

log = logging.getLogger("qunguan.engine")


class Dedup(Stage):
    name = "dedup"

    async def handle(self, turn: Turn) -> bool:
        event = turn.event
        config = self.runtime.config
        if not await mark_seen(turn.conn, event.id, turn.now, account=config.account if config.accounts else None):
            log.debug("duplicate event %s dropped", event.id)
            turn.duplicate = True
            return True
        if turn.managed and event.recorded:
            await record(turn.conn, event, turn.now, today=turn.now.astimezone(self.runtime.config.tz).date())
            if event.kind == "rename":
                rooms = self.runtime.rooms
                turn.after.append(lambda: rooms.tell_renamed(event))  # type: ignore[arg-type]
        return False
