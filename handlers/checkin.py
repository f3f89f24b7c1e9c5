"""Daily check-in: once per local day (a unique key), streaks, streak bonuses."""

from __future__ import annotations

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
        return value


@action(
    "checkin",
    schema=CheckinParams,
    member_directed=True,
    sets={"checkin": frozenset({"streak", "points", "already"})},
)
async def checkin(ctx: RunContext, p: CheckinParams) -> None:
    """Once per local day. `bonus` adds points on reaching a streak of exactly that many days."""
    member = ctx.target(p.to)
    today = ctx.local_now().date()
    last = await last_checkin(ctx.conn, member.id)
    # The date never goes backwards: a check-in dated after today (by a clock that ran fast and was corrected,
    # or before the timezone was moved west) counts as today's, so no day is paid twice.
    if last and last[0] >= today:
        ctx.vars["checkin"] = {"already": True, "streak": last[1], "points": 0}
        return
    streak = last[1] + 1 if last and last[0] == today - timedelta(days=1) else 1
    award = p.points + p.bonus.get(streak, 0)
    row = {"member_id": member.id, "day": today, "streak": streak, "points": award, "at": ctx.now()}
    if not await hot.execute(ctx.conn, _INSERT, row):
        ctx.vars["checkin"] = {"already": True, "streak": streak, "points": 0}  # another event was first, same day
        return
    total = await add_points(ctx.conn, member.id, award, at=ctx.now(), reason=p.reason, playbook_id=ctx.playbook.id)
    ctx.vars["checkin"] = {"already": False, "streak": streak, "points": award}
    ctx.changed(member.id, points=total)
