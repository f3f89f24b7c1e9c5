"""Other chatter (events that reached no stage) is counted per local day and room, in memory first: the counts
go into the database with a later event's transaction, every FLUSH_EVERY events or FLUSH_AFTER, and when the bot
stops. One write for many messages keeps the common case cheap; a crash loses at most those not yet written.
An event is counted only once its transaction committed."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import hot

FLUSH_EVERY = 200
FLUSH_AFTER = timedelta(minutes=1)

_UPSERT = hot.Statement(
    "chatter",
    "INSERT INTO trace_counts (day, room_id, events) VALUES (:day, :room_id, :n)"
    " ON CONFLICT (day, room_id) DO UPDATE SET events = trace_counts.events + excluded.events",
)
Counts = Counter[tuple[date, str]]


class Chatter:
    def __init__(self) -> None:
        self._pending: Counts = Counter()
        self._events = 0
        self._since: datetime | None = None

    def add(self, day: date, room_id: str, now: datetime) -> None:
        self._pending[(day, room_id)] += 1
        self._events += 1
        self._since = self._since or now

    def due(self, now: datetime) -> Counts:
        """The counts to write with this event (taken out; `restore` them if its transaction fails), or none."""
        if self._events < FLUSH_EVERY and (self._since is None or now - self._since < FLUSH_AFTER):
            return Counter()
        return self.take()

    def take(self) -> Counts:
        taken, self._pending, self._events, self._since = self._pending, Counter(), 0, None
        return taken

    def restore(self, taken: Counts) -> None:
        self._pending.update(taken)
        self._events += taken.total()


async def write_counts(conn: AsyncConnection, counts: Counts) -> None:
    rows = [{"day": day, "room_id": room_id, "n": n} for (day, room_id), n in counts.items()]
    await hot.executemany(conn, _UPSERT, rows)
