"""The console's figures (dashboard, funnel, cohorts, nudges vs holdout) as pure functions of a sync SQLAlchemy
Connection: the console runs them off the event loop (`console.reader.run`), the bench and the tests call them
directly, and /统计 runs the same definitions in the chat.

Abilities declare their tables beside their code (handlers/), and bot/ never imports handlers: the tables are
looked up by name in the one metadata every ability registers into (they are loaded before any store opens).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import Select, Table, func, select
from sqlmodel import SQLModel

from bot.store.tables import RoomMember


def table(name: str) -> Table:
    """An ability's table by name (handlers/checkin.py: `checkins`, handlers/coupons.py: `coupons`, ...)."""
    return SQLModel.metadata.tables[name]


def members_of(room_ids: Sequence[str]) -> Select[tuple[str]]:
    """The members of these rooms (ever: a member who left still counts for what they did while in)."""
    c = RoomMember.__table__.c
    return select(c.member_id).where(c.room_id.in_(room_ids))


def midnight(day: date, tz: tzinfo) -> datetime:
    """The instant a local day starts, in UTC (how times are stored; SQLite would drop any other offset)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def days_back(today: date, days: int) -> list[date]:
    """The `days` local days ending with today, oldest first."""
    return [today - timedelta(days=days - 1 - k) for k in range(days)]


def first_joins(
    since: datetime, until: datetime, room_ids: Sequence[str] | None = None
) -> Select[tuple[str, datetime]]:
    """(member_id, joined): members who joined a group (of these rooms, or any) in [since, until), each once at
    their first join in the span. A join is a `room_members` row, which holds a member's latest join of a group
    (one who left and came back counts from the return); read through its joined_at index, so a big shop's old
    members are never scanned."""
    rm = RoomMember.__table__.c
    query = select(rm.member_id, func.min(rm.joined_at).label("joined")).where(
        rm.joined_at >= since, rm.joined_at < until
    )
    if room_ids is not None:
        query = query.where(rm.room_id.in_(room_ids))
    return query.group_by(rm.member_id)
