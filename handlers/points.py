"""Points: an append-only ledger whose running sum is kept on the member in the same transaction."""

from __future__ import annotations

from datetime import datetime

from pydantic import StrictBool
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.context import RunContext, RunError
from bot.playbook.types import Params
from bot.registry import action, member_field
from bot.store import dialect
from bot.store.tables import Member, PointsEntry

_members = Member.__table__
_ledger = PointsEntry.__table__


async def add_points(
    conn: AsyncConnection,
    member_id: str,
    delta: int,
    *,
    at: datetime,
    reason: str = "",
    playbook_id: str = "",
    allow_negative: bool = False,
) -> int | None:
    """Change a balance and append the ledger entry; None (nothing written) if it would go below 0."""
    await conn.execute(dialect.insert_ignore(conn, _members, {"id": member_id, "first_seen": at}))
    stmt = (
        update(_members)
        .where(_members.c.id == member_id)
        .values(points=_members.c.points + delta)
        .returning(_members.c.points)
    )
    if delta < 0 and not allow_negative:
        stmt = stmt.where(_members.c.points + delta >= 0)
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    await conn.execute(
        insert(_ledger).values(
            member_id=member_id,
            delta=delta,
            balance=row.points,
            reason=reason,
            playbook_id=playbook_id,
            at=at,
        )
    )
    return int(row.points)


async def balance(conn: AsyncConnection, member_id: str) -> int:
    row = (await conn.execute(select(_members.c.points).where(_members.c.id == member_id))).first()
    return int(row.points) if row else 0


@member_field("points")
async def member_points(ctx: RunContext, member_id: str) -> int:
    return await balance(ctx.conn, member_id)


class PointsParams(Params):
    add: int
    reason: str = ""
    to: str = "member"
    allow_negative: StrictBool = False


@action("points", schema=PointsParams, primary="add", member_directed=True)
async def points(ctx: RunContext, p: PointsParams) -> None:
    """Add (or with a negative number, take) points; never below zero unless allowed."""
    target = ctx.target(p.to)
    result = await add_points(
        ctx.conn,
        target.id,
        p.add,
        at=ctx.now(),
        reason=p.reason or ctx.playbook.title,
        playbook_id=ctx.playbook.id,
        allow_negative=p.allow_negative,
    )
    if result is None:
        raise RunError(f"{target.name or target.id} has fewer than {-p.add} points")
    ctx.changed(target.id)
