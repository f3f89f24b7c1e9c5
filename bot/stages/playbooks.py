"""The last stage: the trigger index picks the playbooks an event starts, and each runs (its `if:`, then its
steps, bot/runner.py) in its own savepoint, in playbook order, unless staff switched it off or its `rooms:`
leave this group out. A run that reaches a `wait:` goes on after the commit (Engine.resume)."""

from __future__ import annotations

from bot.context import RunContext
from bot.runner import run_playbook
from bot.stages.stage import Stage, Turn


class Playbooks(Stage):
    name = "playbooks"

    async def handle(self, turn: Turn) -> bool:
        runtime, event = self.runtime, turn.event
        room = event.room
        for match in turn.playbooks.index.match(event):
            playbook = match.playbook
            if not runtime.switches.get(playbook.id, True):
                continue
            if room is not None and playbook.rooms and not runtime.rooms.selects(playbook.rooms, room):
                continue
            ctx = RunContext.of(runtime, turn.conn, event, playbook, match.message)
            outcome = await run_playbook(ctx, playbook.steps, check=True)
            if outcome.ok:
                turn.keep(runtime, ctx, playbook.id)
            if outcome.pause is not None:
                turn.paused.append((ctx, *outcome.pause))
            if outcome.stop_all:
                break
        return True
