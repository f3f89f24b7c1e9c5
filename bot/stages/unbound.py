"""A group nobody bound (bot/rooms.py): nothing with an effect runs there.

Its room row is kept (`qunguan rooms` lists it), /绑定 is heard (a refusal there is audited, not answered:
alts would make the bot speak), a quiz or drop still open there is closed without a word, and the group is
logged once. In a trusted setup (simulator, scenarios) a group config.yaml leaves out is not even recorded.
"""

from __future__ import annotations

from bot import commands
from bot.stages.stage import Stage, Turn
from bot.store.activity import upsert_room
from bot.windows import mark_closed


class Unbound(Stage):
    name = "unbound"

    async def before(self, turn: Turn) -> None:
        if turn.managed:
            return
        event = turn.event
        if event.kind == "message":  # /绑定 only: no other command is even prepared (/重载)
            turn.request = await commands.request(self.runtime, event, managed=False)  # type: ignore[arg-type]
        turn.ignored = self.runtime.rooms.trusted and turn.request is None and event.kind != "window"

    async def handle(self, turn: Turn) -> bool:
        if turn.managed:
            return False
        event, conn, rooms = turn.event, turn.conn, self.runtime.rooms
        room = event.room
        assert room is not None
        if not rooms.trusted and event.recorded:
            await upsert_room(conn, room, turn.now, by=event.by)
        turn.quiet = turn.request is None
        if event.kind == "window":  # unbound while its quiz or drop was open: closed without a word
            window_id = event.window_id  # type: ignore[union-attr]
            if await mark_closed(conn, window_id, turn.now):
                turn.closed.append(window_id)
        elif turn.request is not None:
            turn.queued += await commands.run(
                self.runtime,
                conn,
                event,
                turn.request,
                turn.now,
                turn.after,
                answer_refusal=False,  # type: ignore[arg-type]
                trace=turn.trace.start("command", turn.request.command.name),
                charged=turn.charged,
            )
        elif not rooms.trusted:
            await rooms.tell_unbound(conn, event, room)
        return True
