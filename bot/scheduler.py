"""Schedule triggers. The scheduler runs no business logic: a due schedule only
emits a `ScheduledTick` per room into the engine's ordinary dispatch.

Fire times always come from APScheduler trigger objects. In real time an
AsyncIOScheduler calls us; under a virtual or shifted clock `advance_to` walks
the same triggers' fire times in order, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import SettableClock
from bot.connectors.base import Emit
from bot.engine import Engine
from bot.events import ScheduledTick, WindowDue
from bot.playbook.model import Call, Playbook
from bot.playbook.types import cron_trigger
from bot.privacy import PrivacySection
from bot.store.housekeeping import prune
from bot.traces.config import TracesSection
from bot.windows import OpenWindow

log = logging.getLogger("qunguan.scheduler")

_TICK = timedelta(microseconds=1)
MISFIRE_GRACE = timedelta(minutes=5)
# In a fleet every process counts `every:` from the same moment (a Monday midnight in the shop's time zone), so
# all of them make the same ticks and one acts on each (bot/fleet/fires.py); alone, a bot counts from its start.
FLEET_EPOCH = datetime(2001, 1, 1)


def make_trigger(call: Call, tz: Any, anchor: datetime) -> BaseTrigger:
    """The APScheduler trigger for one `schedule:`; `every` counts from `anchor`."""
    p = call.params
    if p.cron is not None:
        return cron_trigger(p.cron, tz)
    if p.every is not None:
        return IntervalTrigger(seconds=int(p.every.total_seconds()), start_date=anchor + p.every, timezone=tz)
    return DateTrigger(run_date=p.at.replace(tzinfo=tz), timezone=tz)


class Scheduler:
    def __init__(self, engine: Engine, receive: Emit) -> None:
        """`receive`: where ticks and window closes go, the way every inbound event goes (Bot.receive)."""
        self.engine = engine
        self.receive = receive
        self._handed: set[int] = set()  # windows whose close was handed over once (it may be held)
        self._plan: list[tuple[Playbook, BaseTrigger]] = []
        self._next: list[datetime | None] = []
        self._aps: AsyncIOScheduler | None = None
        engine.on_swap.append(self.reload)
        self.restart_from_now()

    def restart_from_now(self) -> None:
        """Count schedules from the clock's present (e.g. after the simulator restored its offset)."""
        self._anchor = self._cursor = self.engine.clock.now()
        self.reload()

    def reload(self) -> None:
        """Rebuild triggers from the engine's current playbooks (after a reload)."""
        config = self.engine.config
        tz = config.tz
        anchor = FLEET_EPOCH.replace(tzinfo=tz) if config.accounts else self._anchor
        self._plan = [(pb, make_trigger(call, tz, anchor)) for pb, call in self.engine.playbooks.index.schedules()]
        self._next = [self._first_after(trig, self._cursor) for _pb, trig in self._plan]
        if self._aps is not None:
            self._aps.remove_all_jobs()
            self._add_jobs()

    @staticmethod
    def _first_after(trig: BaseTrigger, moment: datetime) -> datetime | None:
        # A DateTrigger answers its run date whatever `now` is: an `at` already past never fires.
        due = trig.get_next_fire_time(None, moment + _TICK)
        return due if due is not None and due > moment else None

    async def fire(self, playbook: Playbook, at: datetime) -> None:
        """One due schedule: a tick for each room the playbook runs in."""
        config = self.engine.config
        stamp = at.astimezone(config.tz).strftime("%Y%m%dT%H%M%S")
        # Each process's tick is its own event, as each account's copy of a message is: the fleet's key is the fire.
        mine = f":{config.account}" if config.accounts else ""
        for room in await self.engine.rooms_for(playbook):
            tick_id = f"tick:{playbook.id}:{stamp}:{room.id}{mine}"
            tick = ScheduledTick(id=tick_id, at=at, playbook_id=playbook.id, room=room)
            await self.receive(tick)

    def next_due(self) -> datetime | None:
        """The next schedule or window close, whichever comes first."""
        closes = [w.closes_at for w in self._due_windows(None)[:1]]
        due = [t for t in (*self._next, *closes) if t is not None]
        return min(due) if due else None

    def _due_windows(self, until: datetime | None) -> list[OpenWindow]:
        """Open windows due by `until` (None: all), soonest first, without those whose close was already handed
        over: one held while the database is unusable (or whose close failed) is not handed over again."""
        windows = self.engine.windows.due(until or datetime.max.replace(tzinfo=UTC))
        return [w for w in windows if w.id not in self._handed]

    async def close_windows(self, until: datetime) -> int:
        """Announce every quiz or coupon drop whose time is up by `until`, in time order."""
        due = self._due_windows(until)
        for window in due:
            room = await self.engine.room_ref(window.room_id)
            event = WindowDue(id=f"window-close:{window.id}", at=window.closes_at, window_id=window.id, room=room)
            await self.receive(event)
            if self.engine.windows.get(window.id) is not None:
                self._handed.add(window.id)
        return len(due)

    async def advance_to(self, until: datetime) -> int:
        """Fire, in time order, every schedule and window close due up to `until`; returns how many schedules fired.

        A settable clock (virtual, or the simulator's) is moved to each due time first, then to `until`."""
        fired = 0
        clock = self.engine.clock if isinstance(self.engine.clock, SettableClock) else None
        while (due := self.next_due()) is not None and due <= until:
            if clock is not None:
                clock.forward_to(due)  # a `wait:` of an earlier tick may already have moved past it
            await self.close_windows(due)
            for i, (pb, trig) in enumerate(self._plan):
                if self._next[i] == due:
                    await self.fire(pb, due)
                    fired += 1
                    self._next[i] = trig.get_next_fire_time(due, due + _TICK)
            await self.engine.settle()
            self._cursor = due
        if clock is not None:
            clock.forward_to(until)
        self._cursor = max(self._cursor, until)
        return fired

    # -- real time

    def start(self) -> None:
        """Hand the same triggers to APScheduler's AsyncIOScheduler (wall-clock mode)."""
        self._aps = AsyncIOScheduler(timezone=self.engine.config.tz)
        self._add_jobs()
        self._aps.start()

    def _add_jobs(self) -> None:
        assert self._aps is not None
        # Windows are few and opened at run time: one cheap check a second closes those that are due.
        self._aps.add_job(
            self._close_due_windows, trigger=IntervalTrigger(seconds=1), id="windows", coalesce=True, max_instances=1
        )
        self._aps.add_job(self._prune, trigger=IntervalTrigger(hours=6), id="prune", coalesce=True, max_instances=1)
        self._aps.add_job(  # groups bound or unbound by `qunguan rooms` (or another process)
            self._poll_rooms, trigger=IntervalTrigger(seconds=1), id="rooms", coalesce=True, max_instances=1
        )
        if self.engine.reloader is not None:  # `qunguan reload` requests and, if watched, edited files
            self._aps.add_job(
                self.engine.reloader.poll,
                trigger=IntervalTrigger(seconds=1),
                id="reload",
                coalesce=True,
                max_instances=1,
            )
        for pb, trig in self._plan:
            self._aps.add_job(
                self._job,
                trigger=trig,
                args=[pb.id, trig],
                id=f"{pb.id}:{id(trig)}",
                misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
                coalesce=True,
            )

    async def _job(self, playbook_id: str, trig: BaseTrigger) -> None:
        playbook = self.engine.playbooks.get(playbook_id)
        if playbook is None:
            return
        now = self.engine.clock.now()
        # The scheduled moment, not "now": every process computes the same tick id. It is the
        # latest fire time up to now (APScheduler does not tell the job which run this is).
        at = None
        due = self._first_after(trig, now - MISFIRE_GRACE)
        while due is not None and due <= now:
            at, due = due, trig.get_next_fire_time(due, due + _TICK)
        # Shielded: APScheduler's shutdown cancels running jobs, which would cut a dispatch mid-transaction.
        await asyncio.shield(self.engine.spawn(self._fire_logged(playbook, at or now)))

    async def _prune(self) -> None:
        """Old event ids and finished outbox rows, every few hours (bot/store/housekeeping.py)."""
        try:
            config = self.engine.config
            keep, traces = config.section(PrivacySection).keep_texts, config.section(TracesSection).keep
            removed = await prune(self.engine.store, self.engine.clock.now(), keep, traces)
        except Exception:
            log.exception("pruning old rows failed")
            return
        if removed:
            log.info("pruned %d old row(s): event ids, finished outbox messages, old message counts", removed)

    async def _poll_rooms(self) -> None:
        await self.engine.rooms.poll(self.engine.store)

    async def _close_due_windows(self) -> None:
        if self._due_windows(self.engine.clock.now()):
            await asyncio.shield(self.engine.spawn(self._close_logged()))

    async def _close_logged(self) -> None:
        try:
            await self.close_windows(self.engine.clock.now())
        except Exception:
            log.exception("closing due windows failed")

    async def _fire_logged(self, playbook: Playbook, at: datetime) -> None:
        try:
            await self.fire(playbook, at)
        except Exception:
            log.exception("schedule of playbook %s failed", playbook.id)

    def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None
