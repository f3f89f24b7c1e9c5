"""Points: an append-only ledger whose running sum is kept on the member in the same transaction."""

from __future__ import annotations

from datetime import datetime

from pydantic import StrictBool
from sqlalchemy import Update, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from bot.context import FieldContext, RunContext, RunError
from bot.playbook.types import Params
from bot.registry import action, member_field
from bot.store import dialect
from bot.store.tables import Member


class PointsEntry(SQLModel, table=True):
    """The append-only points ledger; members.points is its running sum."""

    __tablename__ = "points_ledger"
    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(index=True)
    delta: int
    balance: int
    reason: str = ""
    playbook_id: str = ""
    at: datetime


_members = Member.__table__
_ledger = PointsEntry.__table__


def _credit(guarded: bool) -> Update:
    stmt = (
        update(_members)
        .where(_members.c.id == bindparam("member_id"))
        .values(points=_members.c.points + bindparam("delta"))
        .returning(_members.c.points)
    )
    return stmt.where(_members.c.points + bindparam("delta") >= 0) if guarded else stmt


_CREDIT = _credit(guarded=False)
_DEBIT = _credit(guarded=True)  # a balance never goes below zero unless asked
_ENTRY = insert(_ledger)


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
    stmt = _DEBIT if delta < 0 and not allow_negative else _CREDIT
    params = {"member_id": member_id, "delta": delta}
    row = (await conn.execute(stmt, params)).first()
    if row is None:  # no such member yet, or the balance is too low
        await conn.execute(dialect.insert_ignore(conn, _members), {"id": member_id, "first_seen": at})
        row = (await conn.execute(stmt, params)).first()
        if row is None:
            return None
    entry = {"member_id": member_id, "delta": delta, "balance": row.points, "reason": reason, "at": at}
    await conn.execute(_ENTRY, {**entry, "playbook_id": playbook_id})
    return int(row.points)


_BALANCE = select(_members.c.points).where(_members.c.id == bindparam("member_id"))


async def balance(conn: AsyncConnection, member_id: str) -> int:
    row = (await conn.execute(_BALANCE, {"member_id": member_id})).first()
    return int(row.points) if row else 0


@member_field("points")
async def member_points(ctx: FieldContext, member_id: str) -> int:
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
