"""The funnel of members who joined a group in a span: joined → first check-in → coupon claimed → redeemed,
each step counting those who also took every step before it (after they joined), and beside it how many of
them brought someone in (referral: a member whose join WeChat credits to them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select

from bot.analytics import first_joins, table

STEPS = {"joined": "入群", "checked_in": "首次签到", "claimed": "领到券", "redeemed": "核销", "referred": "带来新人"}


@dataclass(frozen=True)
class Funnel:
    joined: int
    checked_in: int
    claimed: int
    redeemed: int
    referred: int

    def json(self) -> dict[str, Any]:
        return {"steps": [{"key": k, "label": label, "members": getattr(self, k)} for k, label in STEPS.items()]}


def funnel(conn: Connection, since: datetime, until: datetime, room_ids: Sequence[str] | None = None) -> Funnel:
    """Members who joined (these rooms, or any) in [since, until) (`first_joins`), and how far they went."""
    j = first_joins(since, until, room_ids).subquery("j")
    ck, cp = table("checkins").c, table("coupons").c
    invited = table("room_members").alias("invited").c
    checked = exists().where(ck.member_id == j.c.member_id, ck.at >= j.c.joined)
    claimed = and_(checked, exists().where(cp.member_id == j.c.member_id, cp.issued_at >= j.c.joined))
    redeemed = and_(
        checked,
        exists().where(cp.member_id == j.c.member_id, cp.issued_at >= j.c.joined, cp.redeemed_at.is_not(None)),
    )
    referred = exists().where(invited.inviter_id == j.c.member_id, invited.member_id != j.c.member_id)
    query = select(
        func.count(),
        func.count().filter(checked),
        func.count().filter(claimed),
        func.count().filter(redeemed),
        func.count().filter(referred),
    ).select_from(j)
    row = conn.execute(query).one()
    return Funnel(*row)
