"""Dispatch: the one road every event takes, from Bot.receive to the outbox.

Each event goes through the pipeline's stages in order (bot/stages: dedup and record, unbound groups, friend
requests, opt-out, staff commands, open windows, playbooks); each handles it or passes it on. The stages' reads
that must not hold the database come first (`before`); then one transaction holds all their writes, each
playbook run in a savepoint of it (a failing playbook rolls back only its own writes and messages), the
outbox rows of everything decided (one executemany) and the event's traces (bot/traces: one INSERT; other
chatter is counted in memory and written with a later event). After the commit, and only then: what changes this
process's memory (windows, switches, a swapped set of playbooks, bindings), the messages' release, the parts
of runs after a `wait:`, and platform lookups the event needed. No platform call happens while the
transaction is open (bot/store/database.py: `unit_open`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot import commands
from bot.budget import Charge
from bot.clock import Clock
from bot.config import Config
from bot.connectors.base import Connector
from bot.context import RunContext
from bot.events import Event, RoomRef, summary
from bot.outbox import Outbox
from bot.playbook.library import PlaybookSet
from bot.playbook.model import Playbook, Step
from bot.registry import load_abilities
from bot.rooms import RoomBindings
from bot.runner import Outcome, run_playbook
from bot.stages import Stage, Turn, pipeline
from bot.store import Store, StoreError, dialect
from bot.store.activity import known_room, set_friend
from bot.store.deferred import Deferred
from bot.store.savepoint import savepoint
from bot.traces import Recorder
from bot.traces.counts import Chatter, write_counts
from bot.traces.write import write
from bot.windows import Windows

if TYPE_CHECKING:
    from bot.reload import Reloader

log = logging.getLogger("qunguan.engine")

LOOKUPS = 100  # members whose friend status one event may have looked up afterwards


def starts_apart(event: Event) -> bool:
    """A staff command: its `before` reads (a /重载 reads the folder) must not hold another event's transaction."""
    return event.kind == "message" and commands.match(event) is not None  # type: ignore[arg-type]


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
        outbox.named_rooms = self.rooms.named  # where the alert of a refused removal goes
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
        self.stages: list[Stage] = pipeline(self)
        self._unknown_friends: set[str] = set()
        self.chatter = Chatter()  # events that reached no stage, counted (bot/traces/counts.py)

    @property
    def connector(self) -> Connector:
        return self.outbox.connector

    @property
    def bot_id(self) -> str:
        """The bot's own WeChat id, as its connector knows it ('' until known): never a command's target."""
        return getattr(self.connector, "self_id", "")

    def swap(self, playbooks: PlaybookSet) -> None:
        """Replace the running playbooks at once; events in flight finish on the old set."""
        self.playbooks = playbooks
        for listener in self.on_swap:
            listener()

    def applies(self, playbook: Playbook, room: RoomRef) -> bool:
        """`rooms:` of a playbook: topics, ids or tag:NAME; empty means every managed room."""
        return not playbook.rooms or self.rooms.selects(playbook.rooms, room)

    async def dispatch(self, event: Event) -> bool:
        """Act on one event alone; False when it was a duplicate or ignored (a trusted setup's unlisted group)."""
        (outcome,) = await self.dispatch_batch([event])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def dispatch_batch(self, events: Sequence[Event]) -> list[bool | Exception]:
        """Act on events in arrival order, as many in one transaction as can share it (group commit, bot/intake.py),
        each in its own savepoint: a failing event rolls back alone and its outcome is its exception. A passing
        database error (dialect.transient) fails the whole transaction and is raised: none of its events stands."""
        outcomes: list[bool | Exception] = []
        while len(outcomes) < len(events):
            outcomes += await self._transaction(events[len(outcomes) :])
        return outcomes

    async def _transaction(self, events: Sequence[Event]) -> list[bool | Exception]:
        """One transaction over the first of `events`. It ends before a staff command (whose `before` reads outside
        any transaction) and after an event that changes what the next ones see in this process's memory (a window
        opened or closed, a binding, a switch, a swapped set of playbooks, a renamed group): those changes are made
        after the commit, and the next event must see them."""
        first = await self._prepare(events[0])
        if first.ignored:
            return [False]
        outcomes: list[bool | Exception] = []
        kept: list[Turn] = []
        later = Deferred()  # the events' outbox and trace rows, written together before the commit
        counts = self.chatter.due(self.clock.now())  # other chatter's counts, written with these events
        try:
            async with self.store.unit() as conn:
                turn = first
                for event in events:
                    if outcomes:
                        if starts_apart(event):
                            break
                        turn = await self._prepare(event)
                    outcome = False if turn.ignored else await self._handle(conn, turn, later)
                    outcomes.append(outcome)
                    if outcome is True:
                        kept.append(turn)
                        if turn.after or turn.opened or turn.closed:
                            break
                await later.write(conn)
                await write_counts(conn, counts)
        except BaseException:
            self.chatter.restore(counts)
            for turn in kept:
                self.outbox.give_back(turn.charged)
            raise
        for turn in kept:
            await self._committed(turn)
        return outcomes

    async def _prepare(self, event: Event) -> Turn:
        """The event's Turn, and the stages' reads ahead of its writes (`before`)."""
        room = event.room
        turn = Turn(event, self.playbooks, managed=room is None or self.rooms.manages(room))
        for stage in self.stages:
            await stage.before(turn)
        return turn

    async def _handle(self, conn: AsyncConnection, turn: Turn, later: Deferred) -> bool | Exception:
        """The stages' writes for one event, in its savepoint: True when it was acted on, False for a duplicate.
        Its outbox and trace rows (and its group's last activity) join `later` once the savepoint stood."""
        turn.conn, turn.now = conn, self.clock.now()
        rows = turn.later = later.of()
        try:
            async with savepoint(conn):
                for stage in self.stages:
                    if await stage.handle(turn):
                        break
                if turn.duplicate:
                    return False
                await self.outbox.queue(conn, turn.queued, later=rows, speaker=turn.speaker)
                await write(conn, turn.event, turn.now, turn.trace, later=rows)
        except Exception as exc:
            self.outbox.give_back(turn.charged)
            if dialect.transient(exc) or isinstance(exc, StoreError):
                raise
            return exc
        later.take(rows)
        return True

    async def _committed(self, turn: Turn) -> None:
        """What waits for the commit: memory, the log line, the messages' release, paused runs, lookups."""
        queued = turn.queued
        if not turn.trace.runs:
            room = turn.event.room
            self.chatter.add(self.local_day(turn.now), room.id if room else "", turn.now)
        if not turn.quiet and log.isEnabledFor(logging.INFO):
            sources = ", ".join(dict.fromkeys(row["playbook_id"] for row in queued))
            by = f" by {sources}" if sources else ""
            log.info("handled %s: %d message(s) queued%s", summary(turn.event), len(queued), by)
        for change in turn.after + turn.cached:
            change()
        for window in turn.opened:
            self.windows.add(window)
        for window_id in turn.closed:
            self.windows.remove(window_id)
        if queued:
            await self.outbox.released()
        for ctx, wait, rest in turn.paused:
            self.spawn(self._resume(ctx, wait, rest))
        if self._unknown_friends:
            asked, self._unknown_friends = self._unknown_friends, set()
            self.spawn(self._look_up_friends(sorted(asked)[:LOOKUPS]))

    async def _resume(self, ctx: RunContext, wait: timedelta, steps: tuple[Step, ...]) -> None:
        """The part of a run after `wait:`, in its own transaction; `part` keeps its outbox keys apart."""
        part = 0
        await asyncio.sleep(0)  # a yield: the event's answer (the intake gives it right after this) comes first
        while True:
            await self.clock.sleep(wait.total_seconds())
            if ctx.room is not None and not self.rooms.manages(ctx.room):
                log.info("playbook %s stopped after its wait: group %s is not bound now", ctx.playbook.id, ctx.room.id)
                return
            part += 1
            charged: list[Charge] = []
            try:
                queued, outcome = await self._resumed(ctx, steps, part, charged)
            except BaseException:
                self.outbox.give_back(charged)
                raise
            if queued:
                await self.outbox.released()
            if outcome.pause is None:
                return
            wait, steps = outcome.pause

    async def _resumed(
        self, ctx: RunContext, steps: tuple[Step, ...], part: int, charged: list[Charge]
    ) -> tuple[list[dict[str, Any]], Outcome]:
        """One part of a resumed run, in its own transaction: its outbox rows and how it ended."""
        async with self.store.unit() as conn:
            ctx.conn = conn
            ctx.outgoing = []
            ctx.vars["now"] = ctx.local_now()
            ctx.changed()  # other events may have changed points, tags, ... during the pause
            recorder = Recorder()
            ctx.trace = recorder.start("playbook", ctx.playbook.id)
            ctx.trace.step("resume", f"wait 之后继续（第 {part} 段）")
            outcome = await run_playbook(ctx, steps, check=False)
            now = self.clock.now()
            queued = self.outbox.entries(ctx.event, ctx.playbook.id, part, ctx.outgoing, now, charged=charged)
            await self.outbox.queue(conn, queued)
            await write(conn, ctx.event, now, recorder)
        return queued, outcome

    def local_day(self, now: datetime) -> date:
        return now.astimezone(self.config.tz).date()

    async def write_counts(self) -> None:
        """The chatter counted in memory and not written yet (bot/traces/counts.py), in a transaction of its own (at
        stop). Counts are statistics: with the database unavailable they are logged as lost, never in the way."""
        counts = self.chatter.take()
        if not counts:
            return
        try:
            async with self.store.unit() as conn:
                await write_counts(conn, counts)
        except Exception as exc:
            log.warning("counts of %d event(s) that reached no stage not written: %s", counts.total(), exc)

    def friend_unknown(self, member_id: str) -> None:
        """A run asked whether a member is a friend and nobody has said yet (a member from before the store kept
        it): asked of the platform after the event, so that the next time the answer is there."""
        self._unknown_friends.add(member_id)

    async def _look_up_friends(self, member_ids: list[str]) -> None:
        """Outside any transaction: the platform's answers, recorded where no newer event has said it meanwhile."""
        found: dict[str, bool] = {}
        failed: dict[str, Exception] = {}
        for member_id in member_ids:
            try:
                found[member_id] = await self.connector.is_friend(member_id)
            except Exception as exc:
                failed[member_id] = exc
        if failed:
            first, exc = next(iter(failed.items()))
            log.warning("cannot tell whether %d member(s) are friends of the bot (%s: %s)", len(failed), first, exc)
        if not found:
            return
        try:
            async with self.store.unit() as conn:
                at, account = self.clock.now(), self.config.account
                for member_id, friend in found.items():
                    await set_friend(conn, member_id, friend, unless_known=True, account=account, at=at)
        except Exception:
            log.exception("recording whether %d member(s) are friends of the bot failed", len(found))
            return
        log.info("looked up %d member(s): %d friend(s) of the bot", len(found), sum(found.values()))

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
