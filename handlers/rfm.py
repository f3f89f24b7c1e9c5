"""RFM (最近消费时间、消费频率、消费金额): members split by recency and value, read from the per-member order summary
of handlers/orders.py in one SQL query.

Recent: the last order less than `recent_days` whole days ago (`member.last_order_days < recent_days`).
High value: at least `frequency` orders, or at least `monetary` yuan spent. Either threshold may be a quantile
(`p80`: the value at the 80th percentile of the members who ordered, so `>= p80` is about their top fifth, ties
included); members who never ordered do not count in it, or a shop where few order would call everyone valuable.

    重要价值用户  recent and high       重要发展用户  recent, not high
    一般保持用户  not recent but high   潜在用户      neither (also every member who never ordered)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, get_args

from pydantic import BeforeValidator, Field, WithJsonSchema
from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console.panels import PanelScope, console_read
from bot.context import FieldContext
from bot.playbook.types import Params
from bot.registry import config_section, member_field, segment_filter
from bot.store import dialect
from bot.store.tables import Member
from handlers.orders import MemberOrders, yuan
from handlers.segments import RfmClass, SegmentScope

VALUABLE, DEVELOPING, KEEPING, POTENTIAL = get_args(RfmClass)
_QUANTILE = re.compile(r"p([1-9][0-9]?)")


def _threshold(value: object) -> object:
    """A positive number, or a quantile `p1`..`p99`."""
    if isinstance(value, str) and _QUANTILE.fullmatch(value.strip().lower()):
        return value.strip().lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"must be a number like 500 or a quantile from p1 to p99 like p80; got '{value}'")


Threshold = Annotated[
    int | float | str,
    BeforeValidator(_threshold),
    WithJsonSchema(
        {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": "^p[1-9][0-9]?$"}]}
    ),
]


@config_section("rfm")
class RfmSection(Params):
    """`rfm: {recent_days: 30, frequency: 3, monetary: 500}`: recent = an order within `recent_days`; high value =
    `frequency` orders or `monetary` yuan, each a number or a quantile of the members who ordered (`p80`)."""

    recent_days: int = Field(30, ge=1, le=3650)
    frequency: Threshold = 3
    monetary: Threshold = 500


_summary = MemberOrders.__table__
_members = Member.__table__


def _quantile(column: Any, percent: int) -> ColumnElement[Any]:
    """The value at `percent` of the members who ordered, lowest first (None when nobody did): an index walk."""
    skip = select((func.count() * percent) // 100).select_from(_summary).correlate(None).scalar_subquery()
    return select(column).order_by(column).limit(1).offset(skip).correlate(None).scalar_subquery()


def _bar(setting: int | float | str, column: Any, scale: int) -> ColumnElement[Any] | int:
    if isinstance(setting, str):
        return _quantile(column, int(setting[1:]))
    return round(setting * scale)


@dataclass(frozen=True)
class Rules:
    """The two tests of RFM over the summary table's columns (NULL, never true, for a member without a row)."""

    recent: ColumnElement[bool]
    high: ColumnElement[bool]
    frequency: ColumnElement[Any] | int
    monetary_cents: ColumnElement[Any] | int

    @classmethod
    def of(cls, scope: SegmentScope) -> Rules:
        cfg = scope.config.section(RfmSection)
        s = _summary.c
        frequency = _bar(cfg.frequency, s.orders, 1)
        monetary = _bar(cfg.monetary, s.spent_cents, 100)
        recent = s.last_order_at > scope.now - timedelta(days=cfg.recent_days)
        return cls(recent, or_(s.orders >= frequency, s.spent_cents >= monetary), frequency, monetary)

    def of_class(self, name: str) -> ColumnElement[bool]:
        return {
            VALUABLE: and_(self.recent, self.high),
            DEVELOPING: and_(self.recent, ~self.high),
            KEEPING: and_(~self.recent, self.high),
        }[name]

    def classify(self) -> ColumnElement[str]:
        """The class of a member row outer-joined to its summary row."""
        return case(
            (and_(self.recent, self.high), VALUABLE),
            (self.recent, DEVELOPING),
            (self.high, KEEPING),
            else_=POTENTIAL,
        )


@segment_filter("rfm")
def rfm_clause(value: list[str], scope: SegmentScope) -> ColumnElement[bool]:
    """Classes with an order are an IN over the few summary rows that match; 潜在用户 is everyone else."""
    rules = Rules.of(scope)
    ids = _members.c.id
    picked: list[ColumnElement[bool]] = []
    ordered = [rules.of_class(name) for name in value if name != POTENTIAL]
    if ordered:
        picked.append(ids.in_(select(_summary.c.member_id).where(or_(*ordered))))
    if POTENTIAL in value:
        picked.append(ids.not_in(select(_summary.c.member_id).where(or_(rules.recent, rules.high))))
    return or_(*picked)


def _classified(rules: Rules) -> Select[Any]:
    return select(rules.classify().label("rfm")).select_from(
        _members.outerjoin(_summary, _summary.c.member_id == _members.c.id)
    )


@member_field("rfm")
async def member_rfm(ctx: FieldContext, member_id: str) -> str:
    """重要价值用户 / 重要发展用户 / 一般保持用户 / 潜在用户, by config.yaml's `rfm:` thresholds."""
    rules = Rules.of(SegmentScope.at(ctx.now, ctx.config))
    found = (await ctx.conn.execute(_classified(rules).where(_members.c.id == member_id))).scalar()
    return found or POTENTIAL


def _table_queries(scope: SegmentScope, members: ColumnElement[bool]) -> tuple[Rules, Select[Any], Select[Any]]:
    """The class counts of `members` (one query) and the thresholds as numbers (quantiles worked out)."""
    rules = Rules.of(scope)
    query = _classified(rules).where(members).subquery()
    counts = select(query.c.rfm, func.count()).group_by(query.c.rfm)
    return rules, counts, select(rules.frequency, rules.monetary_cents)


async def rfm_table(conn: AsyncConnection, scope: SegmentScope, members: ColumnElement[bool]) -> list[str]:
    """/统计's lines: how many of `members` are in each class (one query), and the thresholds that were used."""
    _rules, counts, bars = _table_queries(scope, members)
    found = dict((await conn.execute(counts)).all())
    frequency, monetary = (await conn.execute(bars)).one()
    return _lines(scope, found, frequency, monetary)


def _lines(scope: SegmentScope, counts: dict[str, int], frequency: int | None, monetary: int | None) -> list[str]:
    cfg = scope.config.section(RfmSection)
    table = "｜".join(f"{name.removesuffix('用户')} {counts.get(name, 0)}" for name in get_args(RfmClass))

    def bar(setting: int | float | str, value: int | None, fixed: str, share: str) -> str:
        if not isinstance(setting, str):
            return fixed
        top = f"前 {100 - int(setting[1:])}%"
        return f"{share}{top}（还没有订单）" if value is None else f"{fixed}（{top}）"

    orders = bar(cfg.frequency, frequency, f"≥{frequency} 单", "单数")
    spent = bar(cfg.monetary, monetary, f"累计 ≥{yuan(monetary or 0)}", "累计消费")
    return [
        f"会员价值（RFM，不含店员）：{table}",
        f"RFM 标准：近 {cfg.recent_days} 天内有消费；{orders}或{spent}",
    ]


@console_read("rfm")
def rfm_panel(conn: Connection, scope: PanelScope) -> dict[str, Any]:
    """The console's RFM table: members (not staff) per class with the thresholds as /统计 words them, and the
    members who spent most, with their class."""
    segment_scope = SegmentScope.at(scope.now, scope.config)
    roles = scope.config.staff
    customers = _members.c.id.not_in([*roles.owner, *roles.admin, *roles.staff])
    rules, counts, bars = _table_queries(segment_scope, customers)
    found = dict(conn.execute(counts).all())
    frequency, monetary = conn.execute(bars).one()
    s = _summary.c
    top = conn.execute(
        select(_members.c.id, _members.c.name, s.orders, s.spent_cents, s.last_order_at, rules.classify().label("rfm"))
        .select_from(_members.join(_summary, s.member_id == _members.c.id))
        .where(customers)
        .order_by(s.spent_cents.desc(), _members.c.id)
        .limit(scope.limit)
    ).all()
    return {
        "classes": [{"name": name, "count": found.get(name, 0)} for name in get_args(RfmClass)],
        "lines": _lines(segment_scope, found, frequency, monetary),
        "members": [
            {
                "member_id": r.id,
                "member": r.name or r.id,
                "orders": r.orders,
                "spent": yuan(r.spent_cents),
                "last_order_at": dialect.aware(r.last_order_at).isoformat(),
                "rfm": r.rfm,
            }
            for r in top
        ],
    }
