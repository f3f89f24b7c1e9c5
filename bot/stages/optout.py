"""退订 / 订阅, built in before staff commands and playbooks: the member's choice is kept (bot/optout.py) and
confirmed, and no playbook sees the message."""

from __future__ import annotations

from bot import optout
from bot.events import Outgoing
from bot.stages.stage import Stage, Turn


class OptOut(Stage):
    name = "optout"

    async def handle(self, turn: Turn) -> bool:
        event = turn.event
        if event.kind != "message":
            return False
        said = await optout.answer(turn.conn, event, self.runtime.config.opt_out, turn.now)  # type: ignore[arg-type]
        if said is None:
            return False
        reply = Outgoing(said, room=event.room, member=None if event.room else event.member)
        turn.queued += self.runtime.outbox.entries(event, "opt-out", 0, [reply], turn.now, charged=turn.charged)
        return True
