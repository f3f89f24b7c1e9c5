"""Cohort retention: members by the local week (Monday) of their first join, and for each week after it how
many of them were still active (spoke in a group on a day of that week: `message_days`, kept 90 days, so
retention reaches back about twelve weeks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, func, select

from bot.analytics import midnight, table
from bot.store.dialect import aware
from bot.store.tables import RoomMember


@dataclass(frozen=True)
class Cohort:
    week: date  # the Monday the cohort's members first joined in that week
    members: int
    active: list[int]  # active[k]: members of the cohort active in week k after (0: the week they joined)

    def json(self) -> dict[str, Any]:
        return {"week": self.week.isoformat(), "members": self.members, "active": self.active}


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def cohorts(
    conn: Connection, now: datetime, tz: tzinfo, weeks: int, room_ids: Sequence[str] | None = None
) -> list[Cohort]:
    """The last `weeks` join weeks (this one included), oldest first; a cohort's row runs up to this week."""
    this_week = monday(now.astimezone(tz).date())
    first_week = this_week - timedelta(weeks=weeks - 1)
    rm = RoomMember.__table__.c
    first = select(rm.member_id, func.min(rm.joined_at).label("joined")).group_by(rm.member_id)
    if room_ids is not None:
        first = first.where(rm.room_id.in_(room_ids))
    j = first.subquery("j")
    joined_week: dict[str, date] = {}
    start = midnight(first_week, tz)
    for member_id, joined in conn.execute(select(j.c.member_id, j.c.joined).where(j.c.joined >= start)):
        joined_week[member_id] = monday(aware(joined).astimezone(tz).date())
    index = {first_week + timedelta(weeks=k): k for k in range(weeks)}
    members = [0] * weeks
    for week in joined_week.values():
        members[index[week]] += 1
    active = [[0] * (weeks - k) for k in range(weeks)]
    md = table("message_days").c
    spoke = (
        select(md.member_id, md.day)
        .where(md.day >= first_week, md.member_id.in_(select(j.c.member_id).where(j.c.joined >= start)))
        .order_by(md.member_id)
    )
    seen: set[tuple[str, int]] = set()
    for member_id, day in conn.execute(spoke):
        cohort = index[joined_week[member_id]]
        day = day if isinstance(day, date) else date.fromisoformat(day)
        after = (monday(day) - first_week).days // 7 - cohort
        if 0 <= after < weeks - cohort and (member_id, after) not in seen:
            seen.add((member_id, after))
            active[cohort][after] += 1
    return [Cohort(first_week + timedelta(weeks=k), members[k], active[k]) for k in range(weeks)]
