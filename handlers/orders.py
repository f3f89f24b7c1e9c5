"""Orders from the till: an amount typed with `/核销 CODE 88` becomes an order of the coupon's member. Each order
also updates the member's summary row (orders, spent, last order) in the same transaction, so `member.orders`,
`member.spent`, `member.last_order_days`, their segments and RFM read one indexed row per member, never the
whole orders table."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlmodel
from pydantic import Field
from sqlalchemy import BigInteger, Column, ColumnElement, Index, and_, case, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.commands import CommandContext, Refused, UsageError
from bot.context import FieldContext
from bot.playbook.types import Params
from bot.registry import config_section, member_field, segment_filter, staff_command
from bot.store import dialect
from bot.store.tables import Member
from handlers.segments import COMPARE, SegmentScope


@config_section("orders")
class OrdersSection(Params):
    """`orders: {max_amount: 5000, max_without_coupon: 500}`: the largest order (yuan) `/核销 CODE 金额` records (a
    larger amount is taken for a typo, an extra zero, and refused, redeeming nothing), and the largest `/记单`."""

    max_amount: float = Field(5000, gt=0, le=1_000_000)
    max_without_coupon: float = Field(500, gt=0, le=1_000_000)  # /记单: no code proves the sale, so less


class Order(sqlmodel.SQLModel, table=True):
    """One order recorded at the till. A coupon code records at most one order (its redemption succeeds once)."""

    __tablename__ = "orders"
    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    member_id: str = sqlmodel.Field(index=True)
    amount_cents: int = sqlmodel.Field(sa_column=Column(BigInteger, nullable=False))
    coupon_code: str | None = sqlmodel.Field(default=None, unique=True)
    staff_id: str
    at: datetime


class MemberOrders(sqlmodel.SQLModel, table=True):
    """A member's orders in one row, kept equal to the orders table in each order's transaction: what RFM and
    the order segments read (indexed, so a segment over a million members stays one fast query)."""

    __tablename__ = "member_orders"
    # Covering: a segment or an RFM class reads the few index entries that match, never the table's rows.
    __table_args__ = (
        Index("ix_member_orders_last", "last_order_at", "orders", "spent_cents", "member_id"),
        Index("ix_member_orders_orders", "orders", "member_id"),
        Index("ix_member_orders_spent", "spent_cents", "member_id"),
    )
    member_id: str = sqlmodel.Field(primary_key=True)
    orders: int
    spent_cents: int = sqlmodel.Field(sa_column=Column(BigInteger, nullable=False))
    last_order_at: datetime


_orders = Order.__table__
_summary = MemberOrders.__table__
_members = Member.__table__


async def record_order(
    conn: AsyncConnection, member_id: str, cents: int, *, at: datetime, staff_id: str, coupon_code: str = ""
) -> None:
    """The order and the member's summary, in the caller's transaction (the increments are atomic in SQL)."""
    s = _summary.c
    await conn.execute(
        _orders.insert().values(
            member_id=member_id, amount_cents=cents, coupon_code=coupon_code or None, staff_id=staff_id, at=at
        )
    )
    await conn.execute(
        dialect.upsert(
            conn,
            _summary,
            {"member_id": member_id, "orders": 1, "spent_cents": cents, "last_order_at": at},
            ["member_id"],
            {
                "orders": s.orders + 1,
                "spent_cents": s.spent_cents + cents,
                "last_order_at": case((s.last_order_at < at, at), else_=s.last_order_at),
            },
        )
    )


# -- amounts as staff type them

# What might be meant as an amount (after NFKC: full-width digits, ￥ and ． are plain): signs, ¥, digits, dots,
# commas, an exponent, 元/块. A code typed in pieces never ends in a piece with a sign, ¥, a dot or 元.
_AMOUNT_LIKE = re.compile(r"[+-]?¥?[+-]?[0-9.,]*[0-9][0-9.,eE+-]*(?:元|块)?")
_AMOUNT = re.compile(r"¥?([0-9]+)(?:\.([0-9]+))?(?:元|块)?")


class AmountError(ValueError):
    """An amount staff typed that cannot be an order: the Chinese reason, for the answer."""


def amount_like(text: str) -> bool:
    return _AMOUNT_LIKE.fullmatch(unicodedata.normalize("NFKC", text)) is not None


def yuan(cents: int) -> str:
    return f"¥{cents // 100}.{cents % 100:02d}"


def parse_amount(text: str, cap: float, *, cap_name: str = "单笔上限") -> int:
    """Cents of `88`, `88.5`, `88.50`, `¥88`, `88元`, `８８`; AmountError for anything else, zero or below, more
    than two decimals, or above the cap."""
    plain = unicodedata.normalize("NFKC", text).strip()
    match = _AMOUNT.fullmatch(plain)
    if plain.startswith("-") or (match is not None and int(match[1] + (match[2] or "")) == 0):
        raise AmountError("消费金额要大于 0")
    if match is None:
        raise AmountError(f"看不懂金额「{text}」：请写数字，例如 88 或 88.50")
    whole, cents = match[1], match[2] or ""
    if len(cents) > 2:
        raise AmountError("金额最多两位小数（到分），例如 88.50")
    total = int(whole) * 100 + int(cents.ljust(2, "0"))
    limit = round(cap * 100)
    if total > limit:
        raise AmountError(f"金额 {yuan(total)} 超过{cap_name} {yuan(limit)}，请核对金额")
    return total


@staff_command("记单", aliases=("order",), role="staff", usage="/记单 @顾客 金额（没有券的订单，例如 /记单 @小王 88）")
async def order_command(ctx: CommandContext) -> str:
    """给没带券的顾客记一笔订单（金额有上限），计入消费和 RFM"""
    member = await ctx.target()
    if len(ctx.args) != 1:
        raise UsageError("请写出消费金额")
    try:
        cap = ctx.config.section(OrdersSection).max_without_coupon
        cents = parse_amount(ctx.args[0], cap, cap_name="无券订单上限")
    except AmountError as exc:
        raise Refused(f"{exc}。没有记单") from None
    await record_order(ctx.conn, member.id, cents, at=ctx.now(), staff_id=ctx.sender.id)
    s = _summary.c
    total = (await ctx.conn.execute(select(s.orders, s.spent_cents).where(s.member_id == member.id))).one()
    return f"已为 {member.name} 记入订单 {yuan(cents)}（无券），累计 {total.orders} 单 {yuan(total.spent_cents)}"


# -- member fields


async def _summary_row(ctx: FieldContext, member_id: str) -> tuple[int, int, datetime | None]:
    s = _summary.c
    row = (
        await ctx.conn.execute(select(s.orders, s.spent_cents, s.last_order_at).where(s.member_id == member_id))
    ).first()
    return (0, 0, None) if row is None else (row.orders, row.spent_cents, dialect.aware(row.last_order_at))


@member_field("orders")
async def member_orders(ctx: FieldContext, member_id: str) -> int:
    """Orders recorded at the till (/核销 with an amount)."""
    return (await _summary_row(ctx, member_id))[0]


@member_field("spent")
async def member_spent(ctx: FieldContext, member_id: str) -> float:
    """Yuan spent over all orders (two decimals)."""
    return (await _summary_row(ctx, member_id))[1] / 100


@member_field("last_order_days")
async def member_last_order_days(ctx: FieldContext, member_id: str) -> int | None:
    """Whole days since the member's last order; None when they never ordered."""
    last = (await _summary_row(ctx, member_id))[2]
    return None if last is None else (ctx.now - last).days


# -- segment filters: an IN over the indexed summary, so the database starts from the few members who match


def _count_clause(column: ColumnElement[int], op: str, limit: int) -> ColumnElement[bool]:
    """`column op limit` where a member without a summary row counts as 0."""
    ids = _members.c.id
    compare: Callable[[object, object], object] = COMPARE[op]
    if compare(0, limit):  # members who never ordered match: everyone but those who fail
        return ids.not_in(select(_summary.c.member_id).where(~compare(column, limit)))  # type: ignore[operator]
    return ids.in_(select(_summary.c.member_id).where(compare(column, limit)))  # type: ignore[arg-type]


@segment_filter("orders")
def orders_clause(value: tuple[str, int], scope: SegmentScope) -> ColumnElement[bool]:
    return _count_clause(_summary.c.orders, *value)


@segment_filter("spent")
def spent_clause(value: tuple[str, int], scope: SegmentScope) -> ColumnElement[bool]:
    op, limit = value
    return _count_clause(_summary.c.spent_cents, op, limit * 100)


def days_since_is(op: str, days: int, column: ColumnElement[datetime], now: datetime) -> ColumnElement[bool]:
    """`whole days since column` compared, as `member.last_order_days` counts them (3 days 23 hours is 3)."""
    day = timedelta(days=1)
    if op == "==":
        return and_(column > now - (days + 1) * day, column <= now - days * day)
    return {
        ">=": lambda: column <= now - days * day,
        ">": lambda: column <= now - (days + 1) * day,
        "<=": lambda: column > now - (days + 1) * day,
        "<": lambda: column > now - days * day,
    }[op]()


@segment_filter("last_order_days")
def last_order_days_clause(value: tuple[str, int], scope: SegmentScope) -> ColumnElement[bool]:
    """Members who never ordered have no `last_order_days`: no comparison holds for them."""
    s = _summary.c
    return _members.c.id.in_(select(s.member_id).where(days_since_is(*value, s.last_order_at, scope.now)))
