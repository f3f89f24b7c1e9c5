"""Cohort retention: members by the local week (Monday) of their first join, and for each week after it how
many of them were still active (spoke in a group on a day of that week: `message_days`, kept 90 days, so
retention reaches back about twelve weeks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, select, union_all

from bot.analytics import first_joins, midnight, table


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
    mondays = [first_week + timedelta(weeks=k) for k in range(weeks)]
    joins = first_joins(midnight(first_week, tz), now + timedelta(seconds=1), room_ids).subquery("joins")
    md = table("message_days").c
    # Weeks are told apart in SQL by their bounds (local Mondays as UTC instants for join times, as dates for
    # the local days a member spoke), so only a few counts leave the database.
    cohort: Any = literal(0)  # one week: everyone is in it
    week: Any = literal(0)
    if weeks > 1:
        cohort = case(*[(joins.c.joined < midnight(d, tz), k - 1) for k, d in enumerate(mondays) if k], else_=weeks - 1)
        week = case(*[(md.day < d, k - 1) for k, d in enumerate(mondays) if k], else_=weeks - 1)
    # One statement over one CTE of the cohort's members: the database finds the first joins once (a CTE read
    # twice is materialized by SQLite and PostgreSQL), not once per count. week -1 carries a cohort's size.
    j = select(joins.c.member_id, cohort.label("cohort")).cte("j")
    spoke = j.join(table("message_days"), and_(md.member_id == j.c.member_id, md.day >= first_week))
    sizes = select(j.c.cohort, literal(-1).label("week"), func.count()).group_by(j.c.cohort)
    by_week = select(j.c.cohort, week.label("week"), func.count(func.distinct(j.c.member_id)))
    members = [0] * weeks
    active = [[0] * (weeks - k) for k in range(weeks)]
    query = union_all(sizes, by_week.select_from(spoke).group_by(j.c.cohort, week))
    for k, w, n in conn.execute(query):
        if w < 0:
            members[k] = n
        elif w >= k:
            active[k][w - k] = n
    return [Cohort(d, members[k], active[k]) for k, d in enumerate(mondays)]
