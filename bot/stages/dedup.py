"""The first stage: an event is acted on once, and what it says about members and rooms is recorded.

Nothing with an effect runs before this: a redelivered event (WeChat retries, a reconnect, a restart) stops
here. In a fleet every account in a group records its membership, and only the group's speaker its activity
(bot/stages/speaker.py, next).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.stages.stage import Stage, Turn
from bot.store.activity import Seen, mark_seen, mark_seen_touching, record, touches_member

if TYPE_CHECKING:
    from bot.context import Runtime

log = logging.getLogger("qunguan.engine")


class Dedup(Stage):
    name = "dedup"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.fleet = bool(runtime.config.accounts)

    async def handle(self, turn: Turn) -> bool:
        event = turn.event
        account = self.runtime.config.account if self.fleet else None
        recorded = turn.managed and event.recorded
        activity = not (self.fleet and event.room is not None)
        today = turn.now.astimezone(self.runtime.config.tz).date() if recorded else None
        if today is not None and touches_member(event):
            seen = await mark_seen_touching(turn.conn, event, turn.now, today=today, activity=activity, account=account)
        else:
            seen = Seen(await mark_seen(turn.conn, event.id, turn.now, account=account))
        if not seen.first:
            log.debug("duplicate event %s dropped", event.id)
            turn.duplicate = True
            return True
        if today is not None:
            await record(turn.conn, event, turn.now, today=today, activity=activity, later=turn.later, seen=seen)
            if event.kind == "rename":
                rooms = self.runtime.rooms
                turn.after.append(lambda: rooms.tell_renamed(event))  # type: ignore[arg-type]
        return False
