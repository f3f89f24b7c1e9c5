"""Daily check-in: once per local day (a unique key), streaks, streak bonuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlmodel
from pydantic import Field, field_validator
from sqlalchemy import Column, Date, Index, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.context import FieldContext, RunContext
from bot.playbook.types import Params
from bot.registry import action, member_field
from bot.store import hot
from handlers.points import add_points


class Checkin(sqlmodel.SQLModel, table=True):
    """One row per member and local day: the unique key holds once-a-day in the database."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("member_id", "day", name="uq_checkin_member_day"),
        Index("ix_checkins_day", "day", "member_id"),  # the dashboard's check-ins per day
    )
    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    member_id: str
    day: date = sqlmodel.Field(sa_column=Column(Date, nullable=False))
    streak: int
    points: int
    at: datetime


_checkins = Checkin.__table__


_LAST = hot.Statement(
    "last checkin",
    "SELECT day, streak FROM checkins WHERE member_id = :member_id ORDER BY day DESC LIMIT 1",
    dates=(0,),
)
_INSERT = hot.insert("checkin", _checkins, ["member_id", "day", "streak", "points", "at"], conflict="DO NOTHING")
# PostgreSQL (hot.fuses): the last check-in read, the new one written with its streak and award, the points credited
# and their ledger entry, in one round trip. Each part only when the one before it found or wrote its row; the
# columns say how far it went: (last streak, new streak, points awarded, balance), NULL where a part did nothing.
_FUSED = hot.Statement(
    "check in, credit and entry",
    "WITH last AS (SELECT day, streak FROM checkins WHERE member_id = :member_id ORDER BY day DESC LIMIT 1),"
    " next AS (SELECT CASE WHEN last.day = :yesterday THEN last.streak + 1 ELSE 1 END AS streak"
    " FROM (SELECT 1) AS one LEFT JOIN last ON true WHERE last.day IS NULL OR last.day < :today),"
    " new AS (INSERT INTO checkins (member_id, day, streak, points, at)"
    " SELECT :member_id, :today, next.streak, :points + COALESCE((SELECT bonus.points"
    " FROM unnest(CAST(:bonus_days AS integer[]), CAST(:bonus_points AS integer[])) AS bonus(day, points)"
    " WHERE bonus.day = next.streak), 0), :at FROM next ON CONFLICT DO NOTHING RETURNING streak, points),"
    " changed AS (UPDATE members SET points = members.points + new.points FROM new WHERE members.id = :member_id"
    " RETURNING members.points),"
    " entry AS (INSERT INTO points_ledger (member_id, delta, balance, reason, playbook_id, at)"
    " SELECT :member_id, new.points, changed.points, :reason, :playbook_id, :at FROM new, changed RETURNING balance)"
    " SELECT (SELECT streak FROM last), (SELECT streak FROM next), (SELECT points FROM new),"
    " (SELECT balance FROM entry)",
)


async def last_checkin(conn: AsyncConnection, member_id: str) -> tuple[date, int] | None:
    row = await hot.fetchone(conn, _LAST, {"member_id": member_id})
    return (row[0], row[1]) if row else None


@member_field("streak")
async def member_streak(ctx: FieldContext, member_id: str) -> int:
    """The running streak: 0 once a whole local day has passed without a check-in."""
    last = await last_checkin(ctx.conn, member_id)
    today = ctx.local_now().date()
    return last[1] if last and last[0] >= today - timedelta(days=1) else 0


class CheckinParams(Params):
    points: int = Field(5, ge=0)
    bonus: dict[int, int] = {}
    reason: str = "签到"
    to: str = "member"

    @field_validator("bonus")
    @classmethod
    def _days(cls, value: dict[int, int]) -> dict[int, int]:
        if any(day < 1 for day in value):
            raise ValueError("keys are streak days (1, 2, ...), like {7: 20, 30: 100}")
        for day, points in value.items():
            if points < 0:
                raise ValueError(f"values are points added on that streak day, 0 or more; day {day} has {points}")
        return value


@dataclass(frozen=True)
class CheckedIn:
    """What a check-in decided: `already` (checked in that day before: nothing paid), the streak, the points paid
    now and the member's balance after them (None when nothing was paid)."""

    already: bool
    streak: int
    points: int
    total: int | None


async def check_in(
    conn: AsyncConnection, member_id: str, today: date, p: CheckinParams, *, at: datetime, playbook_id: str
) -> CheckedIn:
    """Once per local day `today`. The date never goes backwards: a check-in dated after today (by a clock that ran
    fast and was corrected, or before the timezone was moved west) counts as today's, so no day is paid twice."""
    if hot.fuses(conn):
        return await _fused(conn, member_id, today, p, at=at, playbook_id=playbook_id)
    last = await last_checkin(conn, member_id)
    if last and last[0] >= today:
        return CheckedIn(True, last[1], 0, None)
    streak = last[1] + 1 if last and last[0] == today - timedelta(days=1) else 1
    award = p.points + p.bonus.get(streak, 0)
    row = {"member_id": member_id, "day": today, "streak": streak, "points": award, "at": at}
    if not await hot.execute(conn, _INSERT, row):
        return CheckedIn(True, streak, 0, None)  # another event was first, same day
    total = await add_points(conn, member_id, award, at=at, reason=p.reason, playbook_id=playbook_id)
    return CheckedIn(False, streak, award, total)


async def _fused(
    conn: AsyncConnection, member_id: str, today: date, p: CheckinParams, *, at: datetime, playbook_id: str
) -> CheckedIn:
    params = {
        "member_id": member_id,
        "today": today,
        "yesterday": today - timedelta(days=1),
        "points": p.points,
        "bonus_days": list(p.bonus),
        "bonus_points": list(p.bonus.values()),
        "at": at,
        "reason": p.reason,
        "playbook_id": playbook_id,
    }
    row = await hot.fetchone(conn, _FUSED, params)
    assert row is not None
    last_streak, streak, award, total = row
    if streak is None:
        return CheckedIn(True, last_streak, 0, None)
    if award is None:
        return CheckedIn(True, streak, 0, None)  # another event was first, same day
    if total is None:  # no member row to credit yet: made and credited as any first credit is
        total = await add_points(conn, member_id, award, at=at, reason=p.reason, playbook_id=playbook_id)
    return CheckedIn(False, streak, award, total)


@action(
    "checkin",
    schema=CheckinParams,
    member_directed=True,
    sets={"checkin": frozenset({"streak", "points", "already"})},
)
async def checkin(ctx: RunContext, p: CheckinParams) -> None:
    """Once per local day. `bonus` adds points on reaching a streak of exactly that many days."""
    member = ctx.target(p.to)
    done = await check_in(ctx.conn, member.id, ctx.local_now().date(), p, at=ctx.now(), playbook_id=ctx.playbook.id)
    ctx.vars["checkin"] = {"already": done.already, "streak": done.streak, "points": done.points}
    if done.total is not None:
        ctx.changed(member.id, points=done.total)
