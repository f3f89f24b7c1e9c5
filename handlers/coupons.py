"""Coupons: batches declared in playbooks, unguessable codes, stock and per-member limits held by the database,
and redemption that succeeds exactly once."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlmodel
from pydantic import Field, field_validator, model_validator
from sqlalchemy import Index, UniqueConstraint, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.commands import CommandContext, Failed, Refused, UsageError, one_line
from bot.context import FieldContext, RunContext, RunError
from bot.events import RoomRef
from bot.playbook.types import Duration, LocalDateTime, Params
from bot.registry import action, member_field, resource, staff_command
from bot.staff_actions import Actor, Outcome, staff_action
from bot.store import dialect, hot
from bot.store.savepoint import savepoint
from bot.store.tables import Member
from handlers.orders import AmountError, OrdersSection, amount_like, parse_amount, record_order, yuan


class Coupon(sqlmodel.SQLModel, table=True):
    """An issued coupon. `seq` numbers a member's coupons of one batch (1..per_member): the unique key
    holds the per-member limit in the database, also when two events issue at once."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("batch_id", "member_id", "seq", name="uq_coupon_member_seq"),
        Index("ix_coupons_issued_at", "issued_at"),  # the dashboard's coupons per day
        Index("ix_coupons_redeemed_at", "redeemed_at"),
    )
    code: str = sqlmodel.Field(primary_key=True)
    batch_id: str
    title: str  # as declared when issued: the customer's coupon keeps its name if the batch is edited
    member_id: str = sqlmodel.Field(index=True)
    seq: int
    issued_at: datetime
    expires_at: datetime | None = None
    playbook_id: str = ""
    redeemed_at: datetime | None = None
    redeemed_by: str | None = None


class CouponStock(sqlmodel.SQLModel, table=True):
    """How many codes of a batch are out; a conditional UPDATE never lets it pass the declared stock."""

    __tablename__ = "coupon_stock"
    batch_id: str = sqlmodel.Field(primary_key=True)
    issued: int = 0


_coupons = Coupon.__table__
_stock = CouponStock.__table__
_members = Member.__table__

# A claim burst (抢券) runs these for every claim: on the driver, prepared once (bot/store/hot.py).
_HELD = hot.Statement("coupons held", "SELECT count(*) FROM coupons WHERE batch_id = :batch AND member_id = :member")
_STOCK_ROW = hot.insert("coupon stock", _stock, ["batch_id", "issued"], conflict="DO NOTHING")
_TAKE = hot.Statement(
    "take from stock", "UPDATE coupon_stock SET issued = issued + 1 WHERE batch_id = :batch AND issued < :stock"
)
_COUPON = hot.insert(
    "coupon",
    _coupons,
    ["code", "batch_id", "title", "member_id", "seq", "issued_at", "expires_at", "playbook_id"],
)

# No 0/O, 1/I/L: codes are read aloud and typed from screenshots at the till.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8  # 31**8 ~ 8.5e11 codes: guessing one is hopeless


class CouponBatch(Params):
    """One batch under `coupons:`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    stock: int = Field(ge=1)
    per_member: int = Field(1, ge=1)
    valid_for: Duration | None = None
    expires: LocalDateTime | None = None
    code_prefix: str = ""

    @field_validator("code_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z0-9]{0,6}", value):
            raise ValueError(f"must be up to 6 capital letters or digits, like WK; got '{value}'")
        return value

    @model_validator(mode="after")
    def _one_expiry(self) -> CouponBatch:
        if self.valid_for is not None and self.expires is not None:
            raise ValueError(
                "'valid_for' and 'expires' are both given: keep one "
                "(valid_for = how long each coupon lasts, expires = one end date for all)"
            )
        return self


resource("coupons", schema=CouponBatch, form="list", noun="coupon batch")

Refusal = Literal["sold_out", "limit", "batch_expired"]


@dataclass(frozen=True)
class Issued:
    code: str
    expires_at: datetime | None


def new_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What a customer shows or staff type: any case, spaces and dashes ignored."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def batch_expiry(batch: CouponBatch, now: datetime, tz: Any) -> datetime | None:
    if batch.valid_for is not None:
        return now + batch.valid_for
    if batch.expires is not None:
        return batch.expires.replace(tzinfo=tz)
    return None


async def issue(
    conn: AsyncConnection, batch: CouponBatch, member_id: str, *, now: datetime, tz: Any, playbook_id: str = ""
) -> Issued | Refusal:
    """Issue one coupon, or say why not. Safe under concurrency: the stock row's conditional UPDATE and the
    (batch, member, seq) unique key decide, not a Python check that another event could race."""
    expires_at = batch_expiry(batch, now, tz)
    if expires_at is not None and expires_at <= now:
        return "batch_expired"
    held = await issued_to(conn, batch, member_id)
    if held >= batch.per_member:
        return "limit"
    await hot.execute(conn, _STOCK_ROW, {"batch_id": batch.id, "issued": 0})
    if await hot.execute(conn, _TAKE, {"batch": batch.id, "stock": batch.stock}) != 1:
        return "sold_out"
    row = {
        "batch_id": batch.id,
        "title": batch.title,
        "member_id": member_id,
        "seq": held + 1,
        "issued_at": now,
        "expires_at": expires_at,
        "playbook_id": playbook_id,
    }
    while True:
        code = new_code(batch.code_prefix)
        try:
            async with savepoint(conn):
                await hot.execute(conn, _COUPON, {"code": code, **row})
            return Issued(code, expires_at)
        except IntegrityError:
            if await _code_taken(conn, code):
                continue  # astronomically rare: draw again
            raise  # (batch, member, seq) taken by a concurrent issue: the whole run rolls back


async def issued_to(conn: AsyncConnection, batch: CouponBatch, member_id: str) -> int:
    """How many coupons of a batch a member was ever issued (used or not): what `per_member` limits."""
    return int(await hot.scalar(conn, _HELD, {"batch": batch.id, "member": member_id}))


async def stock_left(conn: AsyncConnection, batch: CouponBatch) -> int:
    """Codes of a batch not yet issued (a /发券 that would open on nothing says so instead)."""
    issued = (await conn.execute(select(_stock.c.issued).where(_stock.c.batch_id == batch.id))).scalar() or 0
    return batch.stock - issued


async def batch_to_open(ctx: CommandContext, kind: str, what: str, verb: str) -> tuple[RoomRef, CouponBatch, int]:
    """What a staff command opening a coupon window (/发券, /拼团) opens on: the group, the batch it names and the
    codes left. Refused while a window of `kind` (`what`: 抢券) runs there, or once the batch has expired (`verb`:
    没有开抢)."""
    room = await ctx.room()
    batch = ctx.resource("coupons", ctx.resource_arg("coupons", "券"))
    ctx.refuse_if_running(kind, room, what)
    expires = batch_expiry(batch, ctx.now(), ctx.config.tz)
    if expires is not None and expires <= ctx.now():
        raise Failed(f"{batch.title}已过期（{local_text(expires, ctx.config.tz)} 到期），{verb}")
    return room, batch, await stock_left(ctx.conn, batch)


async def _code_taken(conn: AsyncConnection, code: str) -> bool:
    return (await conn.execute(select(_coupons.c.code).where(_coupons.c.code == code))).first() is not None


Redemption = Literal["ok", "unknown", "already", "expired"]


@dataclass(frozen=True)
class RedeemResult:
    outcome: Redemption
    code: str
    title: str = ""
    batch_id: str = ""
    member_id: str = ""
    redeemed_at: datetime | None = None
    redeemed_by: str | None = None
    expires_at: datetime | None = None


async def redeem(conn: AsyncConnection, code: str, staff_id: str, *, now: datetime) -> RedeemResult:
    """Mark a coupon used. One conditional UPDATE decides, so of many concurrent attempts exactly one wins."""
    code = normalize_code(code)
    done = await conn.execute(
        update(_coupons)
        .where(
            _coupons.c.code == code,
            _coupons.c.redeemed_at.is_(None),
            or_(_coupons.c.expires_at.is_(None), _coupons.c.expires_at > now),
        )
        .values(redeemed_at=now, redeemed_by=staff_id)
    )
    row = (await conn.execute(select(_coupons).where(_coupons.c.code == code))).first()
    if row is None:
        return RedeemResult("unknown", code)
    outcome: Redemption = "ok" if done.rowcount == 1 else "already" if row.redeemed_at is not None else "expired"
    return RedeemResult(
        outcome, code, row.title, row.batch_id, row.member_id, row.redeemed_at, row.redeemed_by, row.expires_at
    )


def _usable(member_id: str, now: datetime) -> Any:
    return and_(
        _coupons.c.member_id == member_id,
        _coupons.c.redeemed_at.is_(None),
        or_(_coupons.c.expires_at.is_(None), _coupons.c.expires_at > now),
    )


@member_field("coupons")
async def member_coupons(ctx: FieldContext, member_id: str) -> int:
    """How many coupons the member can still use (not redeemed, not expired)."""
    now = ctx.local_now()
    return (await ctx.conn.execute(select(func.count()).where(_usable(member_id, now)))).scalar_one()


@member_field("wallet")
async def member_wallet(ctx: FieldContext, member_id: str) -> list[dict[str, str]]:
    """The usable coupons, soonest to expire first, for `/我的券`: code, title, expires (local time)."""
    now = ctx.local_now()
    rows = await ctx.conn.execute(
        select(_coupons.c.code, _coupons.c.title, _coupons.c.expires_at)
        .where(_usable(member_id, now))
        .order_by(_coupons.c.expires_at.is_(None), _coupons.c.expires_at, _coupons.c.code)
    )
    return [
        {
            "code": r.code,
            "title": r.title,
            "expires": local_text(r.expires_at, now.tzinfo),
        }
        for r in rows
    ]


def local_text(when: datetime | None, tz: Any) -> str:
    """'2026-12-07 10:00' in the shop's timezone; '长期有效' when a coupon never expires."""
    return dialect.aware(when).astimezone(tz).strftime("%Y-%m-%d %H:%M") if when is not None else "长期有效"


class CouponParams(Params):
    batch: str
    to: str = "member"


REASONS: dict[Refusal, str] = {"sold_out": "已抢完", "limit": "已领过", "batch_expired": "活动已结束"}


@action(
    "coupon",
    schema=CouponParams,
    primary="batch",
    member_directed=True,
    refs={"batch": "coupons"},
    sets={"coupon": frozenset({"code", "title", "expires", "none"})},
)
async def coupon(ctx: RunContext, p: CouponParams) -> None:
    """Issue one coupon; `coupon.none` says why not (已抢完 / 已领过 / 活动已结束), else it is empty."""
    member = ctx.target(p.to)
    batch = ctx.resource("coupons", p.batch)
    if batch is None:  # checked at load; a hot reload could still swap the set mid-run
        raise RunError(f"coupon batch '{p.batch}' is not declared")
    tz = ctx.local_now().tzinfo
    result = await issue(ctx.conn, batch, member.id, now=ctx.now(), tz=tz, playbook_id=ctx.playbook.id)
    if isinstance(result, Issued):
        ctx.vars["coupon"] = {
            "code": result.code,
            "title": batch.title,
            "expires": local_text(result.expires_at, tz),
            "none": "",
        }
        ctx.changed(member.id)
    else:
        ctx.vars["coupon"] = {"code": "", "title": batch.title, "expires": "", "none": REASONS[result]}


async def _name(conn: AsyncConnection, member_id: str | None) -> str:
    if member_id is None:
        return "?"
    row = (await conn.execute(select(_members.c.name).where(_members.c.id == member_id))).first()
    return one_line(row.name) if row is not None and row.name else member_id


@staff_command(
    "核销",
    aliases=("redeem",),
    role="staff",
    usage="/核销 券码 [消费金额]（例如 /核销 WK7H3KQ9P 88.50）",
    refusal="核销券码需要店员身份哦～如需使用优惠券，请到店出示券码给店员。",
)
async def redeem_command(ctx: CommandContext) -> str:
    """核销顾客的券（可带消费金额，记入顾客的订单）：成功、已核销过（何时、谁）、已过期、没有这个券码"""
    code, amount = await _code_and_amount(ctx)
    done = await redeem_code(ctx.conn, Actor.of(ctx), code, amount)
    ctx.result, ctx.target_id = done.result, done.target_id  # the audit log's real outcome
    return done.text


@staff_action("核销")
async def redeem_code(conn: AsyncConnection, actor: Actor, code: str, amount: str | None = None) -> Outcome:
    """/核销 and the console's till: redeem once, or say why not (already: when and by whom; expired; unknown).
    A bad amount redeems nothing (Refused)."""
    code = normalize_code(code)
    if not code:
        raise UsageError("请写出券码")
    cents = None
    if amount is not None:
        try:
            cents = parse_amount(amount, actor.config.section(OrdersSection).max_amount)
        except AmountError as exc:
            raise Refused(f"{exc}。这次没有核销：请改正后重新发送 /核销 {code} 金额") from None
    tz = actor.config.tz
    result = await redeem(conn, code, actor.member_id, now=actor.now)
    customer = result.member_id or None
    if result.outcome == "ok":
        done = f"核销成功：{result.title}（{code}），顾客 {await _name(conn, result.member_id)}"
        if cents is None:
            return Outcome("ok", done, customer)
        await record_order(conn, result.member_id, cents, at=actor.now, staff_id=actor.member_id, coupon_code=code)
        return Outcome("ok", f"{done}，消费 {yuan(cents)} 已记入订单", customer)
    if result.outcome == "already":
        when = local_text(result.redeemed_at, tz)
        by = await _name(conn, result.redeemed_by)
        return Outcome("already", f"这张券已经核销过了：{when} 由 {by} 核销，不能重复使用", customer)
    if result.outcome == "expired":
        return Outcome("expired", f"这张券已过期（{local_text(result.expires_at, tz)} 到期），不能核销", customer)
    return Outcome("unknown", f"没有找到券码 {code}，请核对后再试")


async def _code_and_amount(ctx: CommandContext) -> tuple[str, str | None]:
    """The code, and the amount typed after it: the last word when it looks like money and the words before it
    name the coupon (a code typed in pieces, `WK2345 6789`, stays one code)."""
    whole = normalize_code("".join(ctx.args))
    if not whole:
        raise UsageError("请写出券码")
    if len(ctx.args) < 2 or not amount_like(ctx.args[-1]) or await _code_taken(ctx.conn, whole):
        return whole, None
    code = normalize_code("".join(ctx.args[:-1]))
    return code, ctx.args[-1]
