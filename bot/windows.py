"""Listening windows: a quiz waiting for answers, a coupon drop (抢券) waiting for its keyword.

The database is the truth (the `windows` and `window_entries` tables, declared here); this process keeps the
open ones per room in memory so a message in a room without a window costs one dict lookup. Abilities register
a kind with `bot.registry.window_kind`; the pipeline's windows stage (bot/stages/windows.py) calls `on_message`
for messages in the window's room and `on_close` once when it ends (its time is up, or the ability closed it
early)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Index, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from bot.store.dialect import aware


class Window(SQLModel, table=True):
    """A time-boxed listening window in a group: a quiz waiting for answers, a coupon drop (抢券)."""

    __tablename__ = "windows"
    __table_args__ = (Index("ix_windows_open", "closed_at", "closes_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str
    room_id: str = Field(index=True)
    playbook_id: str
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None = None
    data: str = "{}"  # JSON: what the ability needs (question, answers, batch, keyword, ...)


class WindowEntry(SQLModel, table=True):
    """One member's turn in a window; the key makes a second answer or claim a no-op in the database."""

    __tablename__ = "window_entries"
    __table_args__ = (Index("ix_window_entries_at", "at"),)  # the dashboard's answers and claims per day
    window_id: int = Field(primary_key=True)
    member_id: str = Field(primary_key=True)
    outcome: str  # won / late / sold_out ...
    rank: int
    at: datetime


_windows = Window.__table__


@dataclass(frozen=True)
class OpenWindow:
    id: int
    kind: str
    room_id: str
    playbook_id: str
    opened_at: datetime
    closes_at: datetime
    data: dict[str, Any] = field(hash=False, compare=False)


def _row(row: Any) -> OpenWindow:
    return OpenWindow(
        row.id, row.kind, row.room_id, row.playbook_id, aware(row.opened_at), aware(row.closes_at), json.loads(row.data)
    )


async def insert_window(
    conn: AsyncConnection,
    *,
    kind: str,
    room_id: str,
    playbook_id: str,
    opened_at: datetime,
    closes_at: datetime,
    data: dict[str, Any],
) -> OpenWindow:
    result = await conn.execute(
        _windows.insert().values(
            kind=kind,
            room_id=room_id,
            playbook_id=playbook_id,
            opened_at=opened_at,
            closes_at=closes_at,
            data=json.dumps(data, ensure_ascii=False),
        )
    )
    (window_id,) = result.inserted_primary_key or (None,)
    assert window_id is not None
    return OpenWindow(window_id, kind, room_id, playbook_id, opened_at, closes_at, data)


async def mark_closed(conn: AsyncConnection, window_id: int, at: datetime) -> bool:
    """True for the one caller that closes it: a window is announced once, also if two paths race."""
    result = await conn.execute(
        update(_windows).where(_windows.c.id == window_id, _windows.c.closed_at.is_(None)).values(closed_at=at)
    )
    return result.rowcount == 1


async def last_windows(conn: AsyncConnection, kind: str, room_id: str, limit: int = 1) -> list[OpenWindow]:
    """The latest windows of a kind in a room, newest first (a quiz avoids repeating its last question)."""
    rows = await conn.execute(
        select(_windows)
        .where(_windows.c.kind == kind, _windows.c.room_id == room_id)
        .order_by(_windows.c.id.desc())
        .limit(limit)
    )
    return [_row(r) for r in rows]


class Windows:
    """The open windows of this process, by room."""

    def __init__(self) -> None:
        self._by_room: dict[str, list[OpenWindow]] = defaultdict(list)
        self._meanwhile: list[Callable[[], None]] | None = None  # what changed here while `load` read

    async def load(self, conn: AsyncConnection) -> None:
        """The open windows as the database has them: at start, on each fleet heartbeat (another process opened or
        closed one), at a takeover. Idempotent; a window this process opens or closes while it reads stays so."""
        self._meanwhile = []
        try:
            rows = (await conn.execute(select(_windows).where(_windows.c.closed_at.is_(None)))).all()
        finally:
            meanwhile, self._meanwhile = self._meanwhile, None
        self._by_room = defaultdict(list)
        for row in rows:
            self._put(_row(row))
        for change in meanwhile:
            change()

    def add(self, window: OpenWindow) -> None:
        self._put(window)
        if self._meanwhile is not None:
            self._meanwhile.append(lambda: self._put(window))

    def remove(self, window_id: int) -> None:
        self._drop(window_id)
        if self._meanwhile is not None:
            self._meanwhile.append(lambda: self._drop(window_id))

    def _put(self, window: OpenWindow) -> None:
        if self.get(window.id) is None:
            self._by_room[window.room_id].append(window)

    def _drop(self, window_id: int) -> None:
        for room_id, windows in list(self._by_room.items()):
            kept = [w for w in windows if w.id != window_id]
            if kept:
                self._by_room[room_id] = kept
            else:
                del self._by_room[room_id]

    def in_room(self, room_id: str) -> list[OpenWindow]:
        return self._by_room.get(room_id, [])

    def get(self, window_id: int) -> OpenWindow | None:
        return next((w for ws in self._by_room.values() for w in ws if w.id == window_id), None)

    def due(self, until: datetime) -> list[OpenWindow]:
        """Open windows whose time is up by `until`, soonest first."""
        return sorted((w for ws in self._by_room.values() for w in ws if w.closes_at <= until), key=_closing)

    def next_close(self) -> datetime | None:
        times = [w.closes_at for ws in self._by_room.values() for w in ws]
        return min(times) if times else None


def _closing(window: OpenWindow) -> tuple[datetime, int]:
    return window.closes_at, window.id
