"""Guards (bot/registry.py `guard`): checks an ability makes of every event of some kinds in a managed group,
before staff commands and playbooks; one that deals with the event stops it here (a blacklisted member's join:
removed again, no welcome). Each runs in its own savepoint: a failing guard is logged and the event goes on."""

from __future__ import annotations

import logging

from bot.context import RunContext
from bot.playbook.errors import Location
from bot.playbook.model import Playbook
from bot.stages.stage import Stage, Turn
from bot.store.savepoint import savepoint

log = logging.getLogger("qunguan.engine")
BUILT_IN = "(built in)"


class Guards(Stage):
    name = "guards"

    async def handle(self, turn: Turn) -> bool:
        event = turn.event
        for guard in self.runtime.registry.guards.values():
            if event.kind not in guard.events:
                continue
            source = Playbook(
                id=guard.name, path=BUILT_IN, location=Location(BUILT_IN, 1, 1), triggers=(), conditions=(), steps=()
            )
            ctx = RunContext.of(self.runtime, turn.conn, event, source, None)
            try:
                async with savepoint(turn.conn):
                    handled = await guard.func(ctx)
            except Exception:
                log.exception("guard %s failed on %s; the event goes on", guard.name, event.id)
                continue
            turn.keep(self.runtime, ctx, guard.name)
            if handled:
                return True
        return False
