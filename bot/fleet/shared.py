"""What every process of a fleet keeps in memory from the shared database, brought up to date on each heartbeat:
the open quizzes and coupon drops (another process opened or closed one), the playbooks staff switched on or off
(/启用 /停用 on any account), the bound groups (/绑定 /解绑, `qunguan rooms`) and the playbook versions another
process stored (/重载, a console save, `qunguan reload`). Each is a small read; what changed is swapped in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.store.switches import load_switches

if TYPE_CHECKING:
    from bot.engine import Engine


class SharedState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def follow(self) -> None:
        """One heartbeat's look at the shared state (a FleetProcess duty)."""
        engine = self.engine
        before = dict(engine.switches)
        async with engine.store.unit() as conn:
            await engine.windows.load(conn)
            stored = await load_switches(conn)
        if engine.switches == before:  # else this process switched one meanwhile: the next beat reads it
            engine.switches.update(stored)
        await engine.rooms.poll(engine.store)
        if engine.reloader is not None:
            await engine.reloader.follow()
