"""Dispatch: the one road every event takes, from connector to outbox.

event -> bound group? -> dedup by id -> record activity -> trigger index -> rooms -> conditions
-> actions. A group nobody bound (bot/rooms.py) gets nothing but its room row, /绑定 and a log line.
Each event is one transaction; each playbook run a savepoint inside it, so a
failing playbook rolls back only its own writes and messages. The messages of
the runs that succeeded are written to the outbox in that same transaction
(one executemany) and leave only after it commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot import commands, optout
from bot.clock import Clock
from bot.config import Config
from bot.connectors.base import Connector
from bot.context import RunContext
from bot.events import (
    Event,
    FriendRequest,
    MemberJoined,
    MemberLeft,
    MemberRef,
    MessageEvent,
    Outgoing,
    RoomRef,
    RoomRenamed,
    ScheduledTick,
    WindowDue,
    summary,
)
from bot.outbox import Outbox
from bot.playbook.index import Match
from bot.playbook.library import PlaybookSet
from bot.playbook.model import Playbook, Step
from bot.registry import load_abilities
from bot.rooms import RoomBindings
from bot.runner import StepFailed, StopRun, conditions_hold, run_until_wait
from bot.store import Store
from bot.store.activity import known_room, mark_seen, record, upsert_room
from bot.windows import KINDS, OpenWindow, Windows, mark_closed

if TYPE_CHECKING:
    from bot.reload import Reloader

log = logging.getLogger("qunguan.engine")


@dataclass
class _Outcome:
    ok: bool = True
    stop_all: bool = False
    pause: tuple[timedelta, tuple[Step, ...]] | None = None


class Engine:
    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        clock: Clock,
        outbox: Outbox,
        playbooks: PlaybookSet,
        trust_rooms: bool = False,
    ) -> None:
        self.config = config
        self.rooms = RoomBindings(config, trusted=trust_rooms)  # the groups it manages, bound by id
        self.store = store
        self.clock = clock
        self.outbox = outbox
        self.playbooks = playbooks
        self.registry = load_abilities()
        self._tasks: set[asyncio.Task[None]] = set()
        self.windows = Windows()
        self.switches: dict[str, bool] = {}  # staff's /启用 /停用, loaded at start (bot/app.py)
        self.reloader: Reloader | None = None  # set when the playbooks come from a folder (/重载)
        self.on_swap: list[Callable[[], None]] = []  # the scheduler re-reads its triggers here

    @property
    def connector(self) -> Connector:
        return self.outbox.connector

    def swap(self, playbooks: PlaybookSet) -> None:
        """Replace the running playbooks at once; events in flight finish on the old set."""
        self.playbooks = playbooks
        for listener in self.on_swap:
            listener()

    def applies(self, playbook: Playbook, room: RoomRef) -> bool:
        """`rooms:` of a playbook: topics, ids or tag:NAME; empty means every managed room."""
        return not playbook.rooms or self.rooms.selects(playbook.rooms, room)

    async def dispatch(self, event: Event) -> bool:
        """Act on one event; False when it was a duplicate or ignored (a trusted setup's unlisted group)."""
        room = event.room
        if room is not None and not self.rooms.manages(room):
            return await self._unbound(event, room)
        playbooks = self.playbooks
        queued: list[dict[str, Any]] = []
        paused: list[tuple[RunContext, timedelta, tuple[Step, ...]]] = []
        opened: list[OpenWindow] = []
        closed: list[int] = []
        after: list[Callable[[], None]] = []
        # A friend request is accepted before its playbooks run: their greeting and `invite` need a friend.
        befriended = await self._befriend(event) if isinstance(event, FriendRequest) else True
        asked = await commands.request(self, event) if isinstance(event, MessageEvent) else None
        async with self.store.unit() as conn:
            now = self.clock.now()
            if not await mark_seen(conn, event.id, now):
                log.debug("duplicate event %s dropped", event.id)
                return False
            if not isinstance(event, ScheduledTick):
                await record(conn, event, now)
            if not befriended:
                return True
            if isinstance(event, MessageEvent):
                said = await optout.answer(conn, event, self.config.opt_out, now)
                if said is not None:  # 退订 / 订阅: built in, answered here, no playbook runs
                    reply = Outgoing(said, room=event.room, member=None if event.room else event.sender)
                    queued += self.outbox.entries(event, "opt-out", 0, [reply], now)
                    matches = []
                elif asked is not None:  # a staff command: no playbook sees it
                    queued += await commands.run(self, conn, event, asked, now, after)
                    matches = []
                else:
                    matches = playbooks.index.match(event)
                    if event.room is not None:
                        queued += await self._in_windows(conn, event, event.room, now, opened, closed)
            elif isinstance(event, WindowDue):
                queued += await self._close_window(conn, event, now, closed)
                matches = []
            else:
                matches = playbooks.index.match(event)
            for match in matches:
                if not self.switches.get(match.playbook.id, True):
                    continue
                if room is not None and not self.applies(match.playbook, room):
                    continue
                ctx = self._context(conn, event, match)
                outcome = await self._run(ctx, match.playbook.steps, check=True)
                if outcome.ok:
                    queued += self.outbox.entries(event, match.playbook.id, 0, ctx.outgoing, now)
                    opened += ctx.opened
                    closed += ctx.closed
                if outcome.pause is not None:
                    paused.append((ctx, *outcome.pause))
                if outcome.stop_all:
                    break
            await self.outbox.queue(conn, queued)
        sources = ", ".join(dict.fromkeys(row["playbook_id"] for row in queued))
        log.info("handled %s: %d message(s) queued%s", summary(event), len(queued), f" by {sources}" if sources else "")
        if isinstance(event, RoomRenamed):
            self.rooms.tell_renamed(event)
        for change in after:
            change()
        for window in opened:
            self.windows.add(window)
        for window_id in closed:
            self.windows.remove(window_id)
        if queued:
            await self.outbox.released()
        for ctx, wait, rest in paused:
            self.spawn(self._resume(ctx, wait, rest))
        return True

    async def _unbound(self, event: Event, room: RoomRef) -> bool:
        """A group nobody bound: nothing with an effect runs. Its room row is kept (`qunguan rooms` lists it),
        /绑定 is heard (a refusal there is audited, not answered: alts would make the bot speak) and it is
        logged once. A trusted setup's group config.yaml leaves out is not even recorded."""
        asked = None
        if isinstance(event, MessageEvent) and (found := commands.match(event)) is not None and found[0].unbound:
            asked = await commands.request(self, event)  # /绑定 only: no other command is even prepared (/重载)
        if self.rooms.trusted and asked is None and not isinstance(event, WindowDue):
            return False
        queued: list[dict[str, Any]] = []
        after: list[Callable[[], None]] = []
        async with self.store.unit() as conn:
            now = self.clock.now()
            if not await mark_seen(conn, event.id, now):
                return False
            if not self.rooms.trusted and not isinstance(event, (ScheduledTick, WindowDue)):
                await upsert_room(conn, room, now, by=event.by if isinstance(event, RoomRenamed) else None)
            if isinstance(event, WindowDue):  # unbound while its quiz or drop was open: closed without a word
                if await mark_closed(conn, event.window_id, now):
                    after.append(lambda: self.windows.remove(event.window_id))
            elif asked is not None and isinstance(event, MessageEvent):
                queued = await commands.run(self, conn, event, asked, now, after, answer_refusal=False)
                await self.outbox.queue(conn, queued)
            elif not self.rooms.trusted:
                await self.rooms.tell_unbound(conn, event, room)
        if asked is not None:
            log.info("handled %s: %d message(s) queued by /%s", summary(event), len(queued), asked.command.name)
        for change in after:
            change()
        if queued:
            await self.outbox.released()
        return True

    async def _in_windows(
        self,
        conn: AsyncConnection,
        event: MessageEvent,
        room: RoomRef,
        now: datetime,
        opened: list[OpenWindow],
        closed: list[int],
    ) -> list[dict[str, Any]]:
        """A message in a room with open windows (a quiz, a coupon drop): each window's ability sees it."""
        queued: list[dict[str, Any]] = []
        for window in self.windows.in_room(room.id):
            if window.closes_at <= now:
                continue  # its close is due; the scheduler announces it
            ctx = self._window_context(conn, event, window, room, member=event.sender)
            if ctx is not None and await self._window_step(ctx, KINDS[window.kind].on_message(ctx, window, event)):
                queued += self.outbox.entries(event, f"window-{window.id}", 0, ctx.outgoing, now)
                opened += ctx.opened
                closed += ctx.closed
        return queued

    async def _close_window(
        self, conn: AsyncConnection, event: WindowDue, now: datetime, closed: list[int]
    ) -> list[dict[str, Any]]:
        """A window's time is up: its ability announces (once; a window closed early is already gone)."""
        window = self.windows.get(event.window_id)
        if window is None:
            return []
        ctx = self._window_context(conn, event, window, event.room)
        if ctx is None:  # its playbook was removed: close without a word
            if await mark_closed(conn, window.id, now):
                closed.append(window.id)
            return []
        if not await self._window_step(ctx, KINDS[window.kind].on_close(ctx, window)):
            return []
        closed += ctx.closed
        return self.outbox.entries(event, f"window-{window.id}", 0, ctx.outgoing, now)

    def _window_context(
        self, conn: AsyncConnection, event: Event, window: OpenWindow, room: RoomRef, member: MemberRef | None = None
    ) -> RunContext | None:
        playbook = self.playbooks.get(window.playbook_id)
        if playbook is None or window.kind not in KINDS:
            return None
        return RunContext(self, conn, event, playbook, member=member, room=room)

    async def _window_step(self, ctx: RunContext, step: Coroutine[Any, Any, None]) -> bool:
        """One window callback in its own savepoint: a failure rolls back its writes and messages only."""
        try:
            async with ctx.conn.begin_nested():
                await step
            return True
        except Exception:
            log.exception("window of playbook %s (%s) failed", ctx.playbook.id, ctx.playbook.path)
            return False

    async def _befriend(self, request: FriendRequest) -> bool:
        """Accept per config.friends (at all; with one of the keywords in the greeting, if any are set)."""
        policy = self.config.friends
        if not policy.accept or (policy.keywords and not any(word in request.hello for word in policy.keywords)):
            log.info("friend request of %s left unanswered (config.friends)", request.member.id)
            return False
        try:
            await self.connector.accept_friend(request)
        except Exception:
            log.exception("accepting the friend request of %s failed", request.member.id)
            return False
        return True

    def _context(self, conn: AsyncConnection, event: Event, match: Match) -> RunContext:
        if isinstance(event, MessageEvent):
            return RunContext(
                self, conn, event, match.playbook, member=event.sender, room=event.room, message=match.message
            )
        if isinstance(event, MemberJoined):
            return RunContext(
                self, conn, event, match.playbook, member=event.member, room=event.room, inviter=event.inviter
            )
        if isinstance(event, MemberLeft):
            return RunContext(self, conn, event, match.playbook, member=event.member, room=event.room)
        if isinstance(event, FriendRequest):
            return RunContext(self, conn, event, match.playbook, member=event.member)
        return RunContext(self, conn, event, match.playbook, room=event.room)

    async def _run(self, ctx: RunContext, steps: tuple[Step, ...], *, check: bool) -> _Outcome:
        pb = ctx.playbook
        outcome = _Outcome()
        try:
            async with ctx.conn.begin_nested():
                try:
                    if check and not await conditions_hold(ctx, pb.conditions):
                        return outcome
                    outcome.pause = await run_until_wait(ctx, steps)
                except StopRun as stop:
                    outcome.stop_all = stop.all
        except StepFailed as exc:
            log.error("playbook %s (%s) failed at %s", pb.id, pb.path, exc)
            outcome = _Outcome(ok=False)
        except Exception:
            log.exception("playbook %s (%s) failed", pb.id, pb.path)
            outcome = _Outcome(ok=False)
        if not outcome.ok:
            ctx.outgoing.clear()
            ctx.opened.clear()
            ctx.closed.clear()
        return outcome

    async def _resume(self, ctx: RunContext, wait: timedelta, steps: tuple[Step, ...]) -> None:
        """The part of a run after `wait:`, in its own transaction; `part` keeps its outbox keys apart."""
        part = 0
        while True:
            await self.clock.sleep(wait.total_seconds())
            if ctx.room is not None and not self.rooms.manages(ctx.room):
                log.info("playbook %s stopped after its wait: group %s is not bound now", ctx.playbook.id, ctx.room.id)
                return
            part += 1
            async with self.store.unit() as conn:
                ctx.conn = conn
                ctx.outgoing = []
                ctx.vars["now"] = ctx.local_now()
                ctx.changed()  # other events may have changed points, tags, ... during the pause
                outcome = await self._run(ctx, steps, check=False)
                queued = self.outbox.entries(ctx.event, ctx.playbook.id, part, ctx.outgoing, self.clock.now())
                await self.outbox.queue(conn, queued)
            if queued:
                await self.outbox.released()
            if outcome.pause is None:
                return
            wait, steps = outcome.pause

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run in the background, tracked: `settle()` waits for it and a shutdown never cuts it mid-transaction."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def abandon(self) -> None:
        """Drop paused runs unfinished (what a crash does to them; tests)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait until every paused run (after `wait:`) and every scheduled dispatch has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def rooms_for(self, playbook: Playbook) -> list[RoomRef]:
        """Rooms a scheduled playbook runs in: managed (bound), known, and named by its `rooms:`."""
        async with self.store.unit() as conn:
            rooms = await self.rooms.managed(conn)
        return [r for r in rooms if self.applies(playbook, r)]

    async def room_ref(self, room_id: str) -> RoomRef:
        """A room by id with the topic the store knows (for events the scheduler makes)."""
        async with self.store.unit() as conn:
            return await known_room(conn, room_id) or RoomRef(room_id, room_id)
