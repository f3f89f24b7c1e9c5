"""Open listening windows (bot/windows.py: a quiz waiting for answers, a coupon drop): each window's ability sees
the messages in its room (the playbooks still do, after it), and announces once when its time is up."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from bot.context import RunContext
from bot.events import MemberRef, RoomRef
from bot.stages.stage import Stage, Turn
from bot.store.savepoint import savepoint
from bot.windows import OpenWindow, mark_closed

log = logging.getLogger("qunguan.engine")


class Windows(Stage):
    name = "windows"

    async def handle(self, turn: Turn) -> bool:
        event = turn.event
        if event.kind == "window":
            await self._close(turn)
            return True
        room = event.room
        if event.kind == "message" and room is not None:
            for window in self.runtime.windows.in_room(room.id):
                if window.closes_at <= turn.now:
                    continue  # its close is due; the scheduler announces it
                ctx = self._context(turn, window, room, member=event.member)
                kind = self.runtime.registry.window_kinds.get(window.kind)
                if ctx is None or kind is None:
                    continue
                ctx.trace = turn.trace.start("window", window.playbook_id)
                if await _step(ctx, kind.on_message(ctx, window, event), f"{window.kind} #{window.id} 收到消息"):
                    turn.keep(self.runtime, ctx, f"window-{window.id}")
        return False

    async def _close(self, turn: Turn) -> None:
        """A window's time is up: its ability announces (once; a window closed early is already gone)."""
        window = self.runtime.windows.get(turn.event.window_id)  # type: ignore[union-attr]
        if window is None:
            return
        room = turn.event.room
        assert room is not None
        ctx = self._context(turn, window, room)
        kind = self.runtime.registry.window_kinds.get(window.kind)
        if ctx is None or kind is None:  # its playbook was removed: close without a word
            if await mark_closed(turn.conn, window.id, turn.now):
                turn.closed.append(window.id)
            return
        ctx.trace = turn.trace.start("window", window.playbook_id)
        if await _step(ctx, kind.on_close(ctx, window), f"{window.kind} #{window.id} 到时结束"):
            turn.keep(self.runtime, ctx, f"window-{window.id}")

    def _context(
        self, turn: Turn, window: OpenWindow, room: RoomRef, member: MemberRef | None = None
    ) -> RunContext | None:
        playbook = turn.playbooks.get(window.playbook_id)
        if playbook is None:
            return None
        return RunContext(self.runtime, turn.conn, turn.event, playbook, member=member, room=room)


async def _step(ctx: RunContext, step: Coroutine[Any, Any, None], what: str) -> bool:
    """One window callback in its own savepoint: a failure rolls back its writes and messages only."""
    trace = ctx.trace
    assert trace is not None
    try:
        async with savepoint(ctx.conn):
            await step
    except Exception as exc:
        log.exception("window of playbook %s (%s) failed", ctx.playbook.id, ctx.playbook.path)
        trace.error("window", f"{type(exc).__name__}: {exc}", ctx.playbook.location)
        trace.fail(f"{what}：出错 {type(exc).__name__}: {exc}（{ctx.playbook.path}），改动已撤销")
        return False
    queued = [o.text for o in ctx.outgoing if o.text]
    trace.step("window", what, result={"queued": queued} if queued else "ok")
    trace.summary = f"{what}：{len(queued)} 条消息待发"
    return True
