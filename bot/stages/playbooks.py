"""The last stage: the trigger index picks the playbooks an event starts, and each runs (its `if:`, then its
steps, bot/runner.py) in its own savepoint, in playbook order, unless staff switched it off or its `rooms:`
leave this group out. A run that reaches a `wait:` goes on after the commit (Engine.resume)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.context import RunContext
from bot.events import ScheduledTick
from bot.fleet import fires
from bot.runner import run_playbook
from bot.stages.stage import Stage, Turn

if TYPE_CHECKING:
    from bot.context import Runtime
    from bot.playbook.index import Match


class Playbooks(Stage):
    name = "playbooks"

    async def handle(self, turn: Turn) -> bool:
        event = turn.event
        if isinstance(event, ScheduledTick) and not await self._claimed(turn, event):
            turn.trace.start("playbook", event.playbook_id).skip("没有执行：这次定时由本群的另一个账号执行")
            return True
        await run_matches(self.runtime, turn, turn.playbooks.index.match(event), stage="playbook")
        return True

    async def _claimed(self, turn: Turn, tick: ScheduledTick) -> bool:
        """In a fleet one process acts on each fire; alone, a bot reads and writes nothing more for it."""
        config = self.runtime.config
        return not config.accounts or await fires.claim(turn.conn, tick, config.account, turn.now)


async def run_matches(runtime: Runtime, turn: Turn, matches: list[Match], *, stage: str) -> bool:
    """Run the playbooks an event started, in order, each in its own savepoint; True when one acted (its `if:`
    held and it did not fail). The moderation stage runs its playbooks the same way. Each match is traced under
    `stage`, a playbook switched off or kept to other groups too (that is why it did not run)."""
    event, room = turn.event, turn.event.room
    acted = False
    for match in matches:
        playbook = match.playbook
        trace = turn.trace.start(stage, playbook.id)
        if not runtime.switches.get(playbook.id, True):
            trace.skip("没有执行：已被停用（/停用）")
            continue
        if room is not None and playbook.rooms and not runtime.rooms.selects(playbook.rooms, room):
            trace.skip(f"没有执行：本群不在它的 rooms: 之内（{'、'.join(playbook.rooms)}）")
            continue
        ctx = RunContext.of(runtime, turn.conn, event, playbook, match.message)
        ctx.trace = trace
        outcome = await run_playbook(ctx, playbook.steps, check=True)
        if outcome.ok:
            turn.keep(runtime, ctx, playbook.id)
            acted = acted or outcome.acted
        if outcome.pause is not None:
            turn.paused.append((ctx, *outcome.pause))
        if outcome.stop_all:
            break
    return acted
