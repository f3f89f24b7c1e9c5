"""Staff commands (bot/commands.py): a message that asks for one is answered (or refused) and audited here, and
no playbook sees it. The command is matched, and its `prepare` reads, before the event's transaction."""

from __future__ import annotations

from bot import commands
from bot.stages.stage import Stage, Turn


class Commands(Stage):
    name = "commands"

    async def before(self, turn: Turn) -> None:
        if turn.managed and turn.event.kind == "message":
            turn.request = await commands.request(self.runtime, turn.event)  # type: ignore[arg-type]

    async def handle(self, turn: Turn) -> bool:
        if turn.request is None:
            return False
        turn.queued += await commands.run(
            self.runtime,
            turn.conn,
            turn.event,
            turn.request,
            turn.now,
            turn.after,  # type: ignore[arg-type]
            trace=turn.trace.start("command", turn.request.command.name),
            charged=turn.charged,
        )
        return True
