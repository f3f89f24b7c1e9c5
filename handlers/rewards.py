"""积分兑换: a catalogue of rewards declared in playbooks (`rewards:`), exchanged for points as a voucher staff
redeem with /核销. The points and the voucher are taken in one savepoint: a refusal writes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlmodel
from pydantic import Field, model_validator
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bot.console.panels import PanelScope, console_read
from bot.context import FieldContext, RunContext
from bot.playbook.types import Duration, LocalDateTime, Params, TextField
from bot.registry import action, member_field, resource, segment_filter
from bot.store import dialect
from bot.store.savepoint import savepoint
from bot.store.tables import Member
from bot.textnorm import fold, fold_words
from bot.triggers import Nothing
from handlers.coupons import Coupon, CouponBatch, CouponStock, Issued, batch_expiry, issue, local_text
from handlers.points import add_points, balance
from handlers.segments import COMPARE, SegmentScope


class Exchange(sqlmodel.SQLModel, table=True):
    """One exchange: the points it took and the voucher it gave (a row of `coupons`), written together."""

    __tablename__ = "reward_exchanges"
    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    member_id: str = sqlmodel.Field(index=True)
    reward_id: str
    code: str
    cost: int
    at: datetime
    playbook_id: str = ""


_exchanges = Exchange.__table__
_stock = CouponStock.__table__
_coupons = Coupon.__table__
_members = Member.__table__


_NEEDED = {
    "title": "'title' is needed (what the member gets, like 定制杯子), unless the reward is a coupon: 'coupon: BATCH'",
    "stock": "'stock' is needed (how many there are), unless the reward is a coupon: 'coupon: BATCH'",
}


class Reward(Params):
    """One entry under `rewards:`: its own stock of vouchers (`stock`, `per_member`, `valid_for`/`expires`), or
    a coupon of a declared batch (`coupon: BATCH`), which then holds the stock and the per-member limit."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str | None = Field(None, min_length=1, max_length=30)
    cost: int = Field(ge=1, le=10_000_000)
    stock: int | None = Field(None, ge=1)
    per_member: int | None = Field(None, ge=1)
    valid_for: Duration | None = None
    expires: LocalDateTime | None = None
    coupon: str | None = None

    @model_validator(mode="after")
    def _own_or_coupon(self) -> Reward:
        if self.coupon is not None:
            given = [key for key in ("stock", "per_member", "valid_for", "expires") if getattr(self, key) is not None]
            if given:
                raise ValueError(
                    f"'{given[0]}' is set by coupon batch '{self.coupon}' for a reward that is a coupon: "
                    "remove it here, or remove 'coupon' to give the reward its own stock"
                )
            return self
        for key, missing in _NEEDED.items():
            if getattr(self, key) is None:
                raise ValueError(missing)
        if self.valid_for is not None and self.expires is not None:
            raise ValueError(
                "'valid_for' and 'expires' are both given: keep one "
                "(valid_for = how long each coupon lasts, expires = one end date for all)"
            )
        return self


resource("rewards", schema=Reward, form="list", noun="reward", refs={"coupon": "coupons"})

Refusal = Literal["sold_out", "limit", "batch_expired", "short"]


class _Refused(Exception):
    """Rolls the exchange's savepoint back: the voucher is given back to the stock, the points stay."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal)
        self.refusal = refusal


@dataclass(frozen=True)
class Exchanged:
    code: str
    expires_at: datetime | None
    balance: int


def voucher_batch(reward: Reward, batches: dict[str, Any]) -> CouponBatch | None:
    """What `issue()` gives for the reward: its batch (None: not declared any more), or its own stock, kept under
    a key no batch id can take ('reward:cup'), so /核销, /我的券 and the codes work unchanged."""
    if reward.coupon is not None:
        return batches.get(reward.coupon)
    return CouponBatch.model_construct(
        id=f"reward:{reward.id}",
        title=reward.title or reward.id,
        stock=reward.stock or 0,
        per_member=reward.per_member or 1,
        valid_for=reward.valid_for,
        expires=reward.expires,
        code_prefix="",
    )


async def exchange_points(
    conn: AsyncConnection,
    reward: Reward,
    batch: CouponBatch,
    member_id: str,
    *,
    now: datetime,
    tz: Any,
    playbook_id: str = "",
) -> Exchanged | Refusal:
    """The voucher and the debit in one savepoint: both, or (with the reason) neither. The stock row's conditional
    UPDATE, the coupons' per-member key and the guarded debit decide, so concurrent exchanges cannot oversell."""
    title = reward.title or batch.title
    try:
        async with savepoint(conn):
            issued = await issue(conn, batch, member_id, now=now, tz=tz, playbook_id=playbook_id)
            if not isinstance(issued, Issued):
                raise _Refused(issued)
            left = await add_points(
                conn, member_id, -reward.cost, at=now, reason=f"积分兑换：{title}", playbook_id=playbook_id
            )
            if left is None:
                raise _Refused("short")
            row = {"member_id": member_id, "reward_id": reward.id, "code": issued.code, "cost": reward.cost}
            await conn.execute(_exchanges.insert().values(**row, at=now, playbook_id=playbook_id))
    except _Refused as refused:
        return refused.refusal
    except IntegrityError:  # the member's own exchange of the same reward, at the same moment, took the last seq
        return "limit"
    return Exchanged(issued.code, issued.expires_at, left)


# -- what the member typed: a number from the list, a title or an id

MAX_ASKED = 60  # characters: longer is no reward's name, and is not worth folding
_NUMBER = re.compile(r"^第?([0-9]{1,6})(?:号|个)?$")


def pick(catalogue: list[tuple[Reward, str]], asked: str) -> Reward | str:
    """The reward the member means, or why none: `2` (its number in the list), a title or an id, in any width,
    case or spacing. Never a guess: a part of a title is not enough to spend points on."""
    text = fold(asked)
    if not text or len(text) > MAX_ASKED:
        return "没有找到这个奖品"
    number = _NUMBER.match(text)
    if number:
        n = int(number[1])
        if 1 <= n <= len(catalogue):
            return catalogue[n - 1][0]
        return f"奖品只有 {len(catalogue)} 个，没有第 {n} 个" if catalogue else "现在还没有可兑换的奖品"
    key = fold_words(text)
    for reward, title in catalogue if key else ():
        if key in (fold_words(title), fold_words(reward.id)):
            return reward
    return "没有找到这个奖品"


def _title(reward: Reward, batches: dict[str, Any]) -> str:
    if reward.title:
        return reward.title
    batch = batches.get(reward.coupon or "")
    return batch.title if batch is not None else reward.id


async def _reason(conn: AsyncConnection, refusal: Refusal, reward: Reward, batch: CouponBatch, member_id: str) -> str:
    title = reward.title or batch.title
    if refusal == "short":
        have = await balance(conn, member_id)
        return f"积分不足，「{title}」要 {reward.cost} 分，你现在有 {have} 分，还差 {max(1, reward.cost - have)} 分"
    if refusal == "sold_out":
        return f"「{title}」已兑完"
    if refusal == "batch_expired":
        return f"「{title}」的兑换已结束"
    if reward.coupon is not None:
        return f"你已经领过「{title}」了（每人限 {batch.per_member} 张）"
    return f"你已经兑换过「{title}」了（每人限 {batch.per_member} 次）"


class ExchangeParams(Params):
    reward: TextField
    to: str = "member"


@action(
    "exchange",
    schema=ExchangeParams,
    primary="reward",
    member_directed=True,
    refs={"reward": "rewards"},
    sets={"exchange": frozenset({"code", "title", "cost", "balance", "expires", "none"})},
)
async def exchange(ctx: RunContext, p: ExchangeParams) -> None:
    """Spend points on a reward: a voucher code to show at the till. `reward` is an id, or a template of what the
    member typed (`{{ message.args | join(' ') }}`: a number from the list, a title or an id). `exchange.none`
    says why not (积分不足…, 已兑完, 已兑换过, 没有找到这个奖品), and then nothing was taken."""
    member = ctx.target(p.to)
    batches = ctx.resources("coupons")
    catalogue = [(reward, _title(reward, batches)) for reward in ctx.resources("rewards").values()]
    found = pick(catalogue, await ctx.render(p.reward))
    out: dict[str, Any] = {"code": "", "title": "", "cost": 0, "balance": 0, "expires": "", "none": ""}
    ctx.vars["exchange"] = out
    if isinstance(found, str):
        out["none"] = found
        return
    out.update(title=_title(found, batches), cost=found.cost)
    batch = voucher_batch(found, batches)
    if batch is None:  # checked at load; a hot reload could still swap the set mid-run
        out["none"] = f"「{out['title']}」的兑换已结束"
        return
    tz = ctx.config.tz
    result = await exchange_points(ctx.conn, found, batch, member.id, now=ctx.now(), tz=tz, playbook_id=ctx.playbook.id)
    if isinstance(result, Exchanged):
        out.update(code=result.code, balance=result.balance, expires=local_text(result.expires_at, tz))
        ctx.changed(member.id)
    else:
        out["none"] = await _reason(ctx.conn, result, found, batch, member.id)
        out["balance"] = await balance(ctx.conn, member.id)


@action("catalogue", schema=Nothing, sets={"catalogue": frozenset({"rewards"})})
async def catalogue(ctx: RunContext, p: Nothing) -> None:
    """The rewards for `/兑换` to list, numbered as `exchange` reads a number: `catalogue.rewards`, each with
    `number`, `id`, `title`, `cost`, `left` and `status` (剩 12 份 / 已兑完 / 已结束)."""
    rewards = list(ctx.resources("rewards").values())
    batches = ctx.resources("coupons")
    keys = {reward.id: batch for reward in rewards if (batch := voucher_batch(reward, batches)) is not None}
    ids = [batch.id for batch in keys.values()]
    rows = await ctx.conn.execute(select(_stock.c.batch_id, _stock.c.issued).where(_stock.c.batch_id.in_(ids)))
    issued = {row.batch_id: row.issued for row in rows}
    now, tz = ctx.now(), ctx.config.tz
    listed = []
    for number, reward in enumerate(rewards, start=1):
        left, status = standing(keys.get(reward.id), issued, now, tz)
        entry = {"number": number, "id": reward.id, "title": _title(reward, batches), "cost": reward.cost}
        listed.append({**entry, "left": left, "status": status})
    ctx.vars["catalogue"] = {"rewards": listed}


def standing(batch: CouponBatch | None, issued: dict[str, int], now: datetime, tz: Any) -> tuple[int, str]:
    """How many vouchers are left and what the list says of the reward: 剩 12 份 / 已兑完 / 已结束."""
    ends = batch_expiry(batch, now, tz) if batch is not None else None
    ended = batch is None or (ends is not None and ends <= now)
    left = 0 if batch is None or ended else max(0, batch.stock - issued.get(batch.id, 0))
    return left, "已结束" if ended else f"剩 {left} 份" if left else "已兑完"


@console_read("rewards")
def rewards_panel(conn: Connection, scope: PanelScope) -> dict[str, Any]:
    """The console's 积分兑换: each reward with its cost, stock, exchanges, points taken and vouchers redeemed
    (rewards no playbook declares any more too), and the latest exchanges."""
    batches = scope.resources.get("coupons", {})
    declared = list(scope.resources.get("rewards", {}).values())
    keys = {reward.id: batch for reward in declared if (batch := voucher_batch(reward, batches)) is not None}
    issued = dict(conn.execute(select(_stock.c.batch_id, _stock.c.issued)).all())
    done = conn.execute(
        select(
            _exchanges.c.reward_id,
            func.count().label("exchanges"),
            func.sum(_exchanges.c.cost).label("points"),
            func.count(_coupons.c.redeemed_at).label("redeemed"),
        )
        .select_from(_exchanges.outerjoin(_coupons, _coupons.c.code == _exchanges.c.code))
        .group_by(_exchanges.c.reward_id)
    ).all()
    counts = {r.reward_id: r for r in done}
    rewards = []
    for reward in declared:
        batch = keys.get(reward.id)
        left, status = standing(batch, issued, scope.now, scope.config.tz)
        row = {"id": reward.id, "title": _title(reward, batches), "cost": reward.cost, "declared": True}
        stock = batch.stock if batch is not None else None
        rewards.append({**row, "stock": stock, "left": left, "status": status, **_counts(counts.get(reward.id))})
    for reward_id in sorted(set(counts) - {reward.id for reward in declared}):
        row = {"id": reward_id, "title": reward_id, "cost": None, "declared": False, "stock": None, "left": 0}
        rewards.append({**row, "status": "已下架", **_counts(counts[reward_id])})
    latest = conn.execute(
        select(_exchanges, _members.c.name, _coupons.c.redeemed_at)
        .outerjoin(_members, _members.c.id == _exchanges.c.member_id)
        .outerjoin(_coupons, _coupons.c.code == _exchanges.c.code)
        .order_by(_exchanges.c.at.desc(), _exchanges.c.id.desc())
        .limit(scope.limit)
    ).all()
    exchanges = [
        {
            "at": dialect.aware(r.at).isoformat(),
            "member_id": r.member_id,
            "member": r.name or r.member_id,
            "reward_id": r.reward_id,
            "code": r.code,
            "cost": r.cost,
            "redeemed": r.redeemed_at is not None,
        }
        for r in latest
    ]
    return {"rewards": rewards, "exchanges": exchanges}


def _counts(row: Any) -> dict[str, int]:
    if row is None:
        return {"exchanges": 0, "points": 0, "redeemed": 0}
    return {"exchanges": row.exchanges, "points": int(row.points or 0), "redeemed": row.redeemed}


# -- member.exchanges and the `exchanges` segment key

_COUNT = func.count()


def _exchanges_of(member_id: Any) -> Any:
    return select(_COUNT).select_from(_exchanges).where(_exchanges.c.member_id == member_id)


@member_field("exchanges")
async def member_exchanges(ctx: FieldContext, member_id: str) -> int:
    """How many times the member exchanged points for a reward."""
    return (await ctx.conn.execute(_exchanges_of(member_id))).scalar_one()


@segment_filter("exchanges")
def exchanges_clause(value: tuple[str, int], scope: SegmentScope) -> ColumnElement[bool]:
    """`exchanges: ">=3"`: a correlated count over the indexed member_id of reward_exchanges."""
    op, limit = value
    return COMPARE[op](_exchanges_of(_members.c.id).scalar_subquery(), limit)
