"""Points: an append-only ledger whose running sum is kept on the member in the same transaction; the `points`
action, `member.points`, and staff's /加分 and /扣分."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import StrictBool
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from bot.commands import CommandContext, UsageError
from bot.context import FieldContext, RunContext, RunError
from bot.events import MemberRef
from bot.playbook.types import Params
from bot.registry import action, member_field, staff_command
from bot.staff_actions import Actor, Outcome, staff_action
from bot.store import hot
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
MAX_REASON = 50  # characters of a /加分 /扣分 reason: it goes into the ledger and the answer


_CREDIT = hot.Statement("credit", "UPDATE members SET points = points + :delta WHERE id = :member_id RETURNING points")
_DEBIT = hot.Statement(  # a balance never goes below zero unless asked
    "debit",
    "UPDATE members SET points = points + :delta WHERE id = :member_id AND points + :delta >= 0 RETURNING points",
)
_MEMBER = hot.insert("new member", _members, ["id", "name", "points", "first_seen"], conflict="DO NOTHING")
_ENTRY = hot.insert("ledger", _ledger, ["member_id", "delta", "balance", "reason", "playbook_id", "at"])
_BALANCE = hot.Statement("balance", "SELECT points FROM members WHERE id = :member_id")
# PostgreSQL: the balance's change and its ledger entry in one round trip; no row when the change found none.
_ENTERED = (
    "WITH changed AS ({}) INSERT INTO points_ledger (member_id, delta, balance, reason, playbook_id, at)"
    " SELECT :member_id, :delta, points, :reason, :playbook_id, :at FROM changed RETURNING balance"
)
_FUSED = {
    _CREDIT: hot.Statement("credit and entry", _ENTERED.format(_CREDIT.sql)),
    _DEBIT: hot.Statement("debit and entry", _ENTERED.format(_DEBIT.sql)),
}


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
    fused = hot.fuses(conn)
    if fused:
        stmt = _FUSED[stmt]
        params = {"member_id": member_id, "delta": delta, "reason": reason, "playbook_id": playbook_id, "at": at}
    else:
        params = {"member_id": member_id, "delta": delta}
    points = await hot.scalar(conn, stmt, params)
    if points is None:  # no such member yet, or the balance is too low
        await hot.execute(conn, _MEMBER, {"id": member_id, "first_seen": at})
        points = await hot.scalar(conn, stmt, params)
        if points is None:
            return None
    if not fused:
        entry = {"member_id": member_id, "delta": delta, "balance": points, "reason": reason, "at": at}
        await hot.execute(conn, _ENTRY, {**entry, "playbook_id": playbook_id})
    return int(points)


async def balance(conn: AsyncConnection, member_id: str) -> int:
    points = await hot.scalar(conn, _BALANCE, {"member_id": member_id})
    return int(points) if points is not None else 0


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
    ctx.changed(target.id, points=result)


def _amount(ctx: CommandContext) -> int:
    """`isdecimal`, not `isdigit`: ፩ or ² are digits int() cannot read."""
    if not ctx.args or not ctx.args[0].lstrip("+").isdecimal():
        raise UsageError("请写出分数（正整数）")
    return int(ctx.args.pop(0).lstrip("+"))


@staff_action("加分")
async def give(conn: AsyncConnection, actor: Actor, member: MemberRef, amount: int, reason: str = "") -> Outcome:
    """/加分 and the console's 加分: add `amount` points to the ledger, the staff member's id in the reason."""
    return await _adjust(conn, actor, member, +1, amount, reason)


@staff_action("扣分")
async def take(conn: AsyncConnection, actor: Actor, member: MemberRef, amount: int, reason: str = "") -> Outcome:
    """/扣分 and the console's 扣分: never below zero (the answer says what the member has)."""
    return await _adjust(conn, actor, member, -1, amount, reason)


async def _adjust(
    conn: AsyncConnection, actor: Actor, member: MemberRef, sign: int, amount: int, reason: str
) -> Outcome:
    if not 0 < amount <= 100_000:
        raise UsageError("分数要在 1 到 100000 之间")
    reason = reason or ("店员加分" if sign > 0 else "店员扣分")
    if len(reason) > MAX_REASON:
        raise UsageError(f"原因最多 {MAX_REASON} 字（现在 {len(reason)} 字）")
    new = await add_points(
        conn, member.id, sign * amount, at=actor.now, reason=f"{reason}（{actor.member_id}）", playbook_id="staff"
    )
    if new is None:
        have = await balance(conn, member.id)
        return Outcome("insufficient", f"{member.name} 只有 {have} 分，不够扣 {amount} 分", member.id)
    verb = "加" if sign > 0 else "扣"
    return Outcome("ok", f"已给 {member.name} {verb} {amount} 分（{reason}），现在共 {new} 分", member.id)


async def _command(ctx: CommandContext, core: Callable[..., Awaitable[Outcome]]) -> str:
    member = await ctx.target()
    amount = _amount(ctx)
    done = await core(ctx.conn, Actor.of(ctx), member, amount, " ".join(ctx.args))
    ctx.result = done.result
    return done.text


@staff_command("加分", aliases=("addpoints",), role="staff", usage="/加分 @某人 分数 原因")
async def add(ctx: CommandContext) -> str:
    """给成员加积分（记入积分流水）"""
    return await _command(ctx, give)


@staff_command("扣分", aliases=("subpoints",), role="staff", usage="/扣分 @某人 分数 原因")
async def subtract(ctx: CommandContext) -> str:
    """扣成员积分（不会扣成负数）"""
    return await _command(ctx, take)
