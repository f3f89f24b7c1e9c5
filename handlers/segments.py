"""Lifecycle stages, segments compiled to one SQL query, and `for_each` fan-out with a measured holdout."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

import sqlmodel
from pydantic import BeforeValidator, Field, StrictBool, WithJsonSchema, model_validator
from sqlalchemy import ColumnElement, Index, Select, and_, case, exists, func, insert, or_, select

from bot.config import Config
from bot.context import FieldContext, RunContext
from bot.events import MemberRef
from bot.playbook.types import BLANK, DIGIT, Params, one_or_list, trimmed
from bot.registry import MEMBER, REGISTRY, action, config_section, member_field
from bot.runner import StepFailed, run_steps
from bot.staff_actions import member_column
from bot.store.activity import known_rooms
from bot.store.savepoint import savepoint
from bot.store.tables import Member, OptOut, RoomMember
from handlers.tags import Names, TagsCondition, tags_clause

log = logging.getLogger("qunguan.segments")


@config_section("lifecycle")
class LifecycleSection(Params):
    """Days that move a member between 引入期/成长期/成熟期/休眠期/流失期."""

    new_days: int = Field(7, ge=1)
    active_days: int = Field(30, ge=1)
    dormant_days: int = Field(14, ge=1)
    churned_days: int = Field(60, ge=1)


class Nudge(sqlmodel.SQLModel, table=True):
    """A member reached by a `for_each` fan-out (or kept back as holdout, so the effect can be measured)."""

    __tablename__ = "nudges"
    __table_args__ = (Index("ix_nudges_member_at", "member_id", "at"),)
    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    member_id: str
    playbook_id: str
    holdout: bool = False
    at: datetime


_members = Member.__table__
_room_members = RoomMember.__table__
_nudges = Nudge.__table__
_opt_outs = OptOut.__table__

Stage = Literal["new", "growing", "active", "dormant", "churned"]
CHINESE: dict[str, Stage] = {
    "引入期": "new",
    "成长期": "growing",
    "成熟期": "active",
    "休眠期": "dormant",
    "流失期": "churned",
}


def _stage_rules(now: datetime, cfg: LifecycleSection) -> list[tuple[Stage, ColumnElement[bool], ColumnElement[bool]]]:
    """The lifecycle, first rule that holds wins: (stage, rule, the rule's negation). One definition serves
    `member.lifecycle` and segments. Negations are spelled out with the cheap time comparisons first: SQLite
    tests terms in order, so over a million members the correlated EXISTS run only for rows still in range."""
    m = _members.c
    last_seen = func.coalesce(m.last_active, m.first_seen)
    memberships = exists().where(_room_members.c.member_id == m.id)
    in_a_room = exists().where(_room_members.c.member_id == m.id, _room_members.c.active.is_(True))
    left_all = and_(memberships, ~in_a_room)
    churned_at = now - timedelta(days=cfg.churned_days)
    dormant_at = now - timedelta(days=cfg.dormant_days)
    new_from = now - timedelta(days=cfg.new_days)
    active_before = now - timedelta(days=cfg.active_days)
    return [
        ("churned", or_(left_all, last_seen < churned_at), and_(last_seen >= churned_at, ~left_all)),
        ("dormant", last_seen < dormant_at, last_seen >= dormant_at),
        ("new", m.first_seen >= new_from, m.first_seen < new_from),
        ("active", m.first_seen < active_before, m.first_seen >= active_before),
        ("growing", m.id.is_not(None), m.id.is_(None)),
    ]


def lifecycle_is(stages: list[Stage], now: datetime, cfg: LifecycleSection) -> ColumnElement[bool]:
    """Members in any of `stages`: each stage is its rule and not any earlier rule."""
    rules = _stage_rules(now, cfg)
    picked = []
    for i, (stage, rule, _negation) in enumerate(rules):
        if stage in stages:
            picked.append(and_(rule, *(negation for _, _, negation in rules[:i])))
    return or_(*picked)


@member_column("lifecycle")
def lifecycle_column(now: datetime, config: Config) -> ColumnElement[str]:
    """The stage of each `members` row as SQL (the console's member page reads it off the event loop)."""
    rules = _stage_rules(now, config.section(LifecycleSection))
    return case(*((rule, name) for name, rule, _negation in rules), else_="growing")


@member_field("lifecycle")
async def member_lifecycle(ctx: FieldContext, member_id: str) -> str:
    """new / growing / active / dormant / churned (引入期/成长期/成熟期/休眠期/流失期), from activity and config."""
    stage = lifecycle_column(ctx.local_now(), ctx.config)
    found = (await ctx.conn.execute(select(stage).where(_members.c.id == member_id))).scalar()
    return found or "new"


# -- segments

_COMPARISON = re.compile(r"^\s*(>=|<=|>|<|==|=)?\s*(-?\d+)\s*$")
COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


def _comparison(value: object) -> tuple[str, int]:
    """`">=14"`, `"<7"`, `100` (a bare number means at least)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number or a comparison like '>=14'; got {value}")
    match = _COMPARISON.match(str(value))
    if not match:
        raise ValueError(f"must be a number or a comparison like '>=14' or '<7'; got '{value}'")
    op = {None: ">=", "=": "=="}.get(match[1], match[1])
    return op, int(match[2])


_COMPARISON_TEXT = {"type": "string", "pattern": trimmed(f"(>=|<=|>|<|==|=)?{BLANK}*-?{DIGIT}+")}
Comparison = Annotated[
    tuple[str, int],
    BeforeValidator(_comparison),
    WithJsonSchema({"anyOf": [{"type": "integer"}, _COMPARISON_TEXT], "examples": [">=14", "<7", 100]}),
]


def _stages(value: object) -> object:
    items = value if isinstance(value, list) else [value]
    return [CHINESE.get(str(item), item) for item in items]


_STAGE_NAMES = one_or_list({"enum": [*get_args(Stage), *CHINESE]})


def _tags(value: object) -> object:
    return {"any": value} if isinstance(value, (list, str)) else value


RfmClass = Literal["重要价值用户", "重要发展用户", "一般保持用户", "潜在用户"]
_RFM_NAMES = one_or_list({"enum": list(get_args(RfmClass))})


class Segment(Params):
    """Who a fan-out reaches; every given filter must hold.

    The keys after `staff` read an ability's data: their SQL is declared beside it with
    `bot.registry.segment_filter` (profile fields, orders and RFM, behaviour counters)."""

    lifecycle: Annotated[list[Stage], BeforeValidator(_stages), _STAGE_NAMES] | None = None
    inactive_days: Comparison | None = None
    joined_days: Comparison | None = None
    points: Comparison | None = None
    tags: Annotated[TagsCondition, BeforeValidator(_tags, json_schema_input_type=TagsCondition | Names)] | None = None
    not_nudged_days: int | None = Field(None, ge=1)
    rooms: Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] | None = None
    staff: StrictBool = False  # owners, admins and staff of config.yaml are left out unless this says true
    birthday: Literal["today"] | None = None
    orders: Comparison | None = None
    spent: Comparison | None = None
    last_order_days: Comparison | None = None
    rfm: Annotated[list[RfmClass], BeforeValidator(lambda v: [v] if isinstance(v, str) else v), _RFM_NAMES] | None = (
        None
    )
    checkins: Comparison | None = None
    claims: Comparison | None = None
    quiz_wins: Comparison | None = None
    exchanges: Comparison | None = None
    invitees: Comparison | None = None
    messages_30d: Comparison | None = None


_BUILT_IN = frozenset(
    {"lifecycle", "inactive_days", "joined_days", "points", "tags", "not_nudged_days", "rooms", "staff"}
)
EXTENDED = tuple(name for name in Segment.model_fields if name not in _BUILT_IN)  # SQL from segment_filter


@dataclass(frozen=True)
class SegmentScope:
    """What a segment filter's SQL may depend on: the time (UTC and the shop's local day) and config.yaml."""

    now: datetime
    local_today: date
    config: Config

    @classmethod
    def at(cls, now: datetime, config: Config) -> SegmentScope:
        return cls(now, now.astimezone(config.tz).date(), config)


def _days_ago(op: str, days: int, column: Any, now: datetime) -> ColumnElement[bool]:
    """`inactive_days >= 14` is `column <= now - 14d`: comparing days since is comparing times reversed."""
    flipped = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "=="}[op]
    if flipped == "==":
        day_start = now - timedelta(days=days + 1)
        return and_(column > day_start, column <= now - timedelta(days=days))
    return COMPARE[flipped](column, now - timedelta(days=days))


def segment_query(
    seg: Segment,
    *,
    scope: SegmentScope,
    room_ids: list[str] | None = None,
    skip_nudged: tuple[str, datetime] | None = None,
    staff: Collection[str] = (),
) -> Select[Any]:
    """Member id and name of everyone in the segment who has not opted out: one query, indexes doing the work.

    `skip_nudged` (playbook id, since) leaves out members that playbook already reached since then; `staff`
    (ids) are left out unless the segment says `staff: true`.
    """
    m = _members.c
    now = scope.now
    where: list[ColumnElement[bool]] = []  # column tests first: SQLite runs the subqueries only where they hold
    if seg.lifecycle is not None:
        where.append(lifecycle_is(seg.lifecycle, now, scope.config.section(LifecycleSection)))
    if seg.inactive_days is not None:
        where.append(_days_ago(*seg.inactive_days, func.coalesce(m.last_active, m.first_seen), now))
    if seg.joined_days is not None:
        where.append(_days_ago(*seg.joined_days, m.first_seen, now))
    if seg.points is not None:
        op, limit = seg.points
        where.append(COMPARE[op](m.points, limit))
    for name in EXTENDED:
        value = getattr(seg, name)
        if value is not None:
            where.append(REGISTRY.segment_filters[name](value, scope))
    if seg.tags is not None:
        where.append(tags_clause(m.id, seg.tags))
    if seg.not_nudged_days is not None:
        since = now - timedelta(days=seg.not_nudged_days)
        where.append(~exists().where(_nudges.c.member_id == m.id, _nudges.c.at >= since))
    if skip_nudged is not None:
        playbook_id, since = skip_nudged
        where.append(
            ~exists().where(_nudges.c.member_id == m.id, _nudges.c.playbook_id == playbook_id, _nudges.c.at >= since)
        )
    if room_ids is not None:
        where.append(
            exists().where(
                _room_members.c.member_id == m.id,
                _room_members.c.room_id.in_(room_ids),
                _room_members.c.active.is_(True),
            )
        )
    if staff and not seg.staff:
        where.append(m.id.not_in(list(staff)))
    where.append(~exists().where(_opt_outs.c.member_id == m.id))
    return select(m.id, m.name).where(*where).order_by(m.id)


# -- for_each


def in_holdout(playbook_id: str, member_id: str, share: float) -> bool:
    """A stable, evenly spread pick: the same member is in (or out of) a playbook's control group every time,
    so a holdout member stays unnudged across runs and results can be reproduced."""
    digest = hashlib.sha256(f"{playbook_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# `10%`, or a share as pydantic reads a float: `0.1`, "0.1", false
_SHARE = {
    "anyOf": [
        {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        {"type": "string", "pattern": trimmed(f"[+-]?(?:{DIGIT}|[._])+(?:[eE][+-]?[0-9_]+)?(?:{BLANK}*%)?")},
        {"const": False},
    ],
    "examples": ["10%"],
}


def _share(value: object) -> object:
    """`holdout: 10%` or `0.1`."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100
    return value


class ForEachParams(Params):
    segment: Segment
    limit: int = Field(100, ge=1, le=10_000)
    holdout: Annotated[
        float,
        BeforeValidator(_share),
        Field(ge=0, lt=1),
        WithJsonSchema(_SHARE),
    ] = 0.0

    @model_validator(mode="after")
    def _some_filter(self) -> ForEachParams:
        if not self.segment.model_fields_set:
            raise ValueError("'segment' needs at least one filter, like {lifecycle: dormant}")
        return self


async def run_segment(ctx: RunContext, seg: Segment, *, skip_nudged: tuple[str, datetime] | None = None) -> Select[Any]:
    """The segment as a run reaches it: in a run that has a group (a schedule runs once per group), that group's
    members unless the segment names `rooms`; staff left out unless it says `staff: true`."""
    if seg.rooms is not None:
        room_ids = [r.id for r in await known_rooms(ctx.conn) if ctx.selects(seg.rooms, r)]
    else:  # a schedule runs once per group: each run reaches that group's members
        room_ids = [ctx.room.id] if ctx.room is not None else None
    roles = ctx.config.staff
    return segment_query(
        seg,
        scope=SegmentScope.at(ctx.now(), ctx.config),
        room_ids=room_ids,
        skip_nudged=skip_nudged,
        staff={*roles.owner, *roles.admin, *roles.staff},
    )


@action("for_each", schema=ForEachParams, body="do", sets={"member": MEMBER})
async def for_each(ctx: RunContext, p: ForEachParams) -> None:
    """Run `do` for each member of the segment (up to `limit`), recording a nudge for each; a `holdout` share
    is recorded but left alone, so nudged members can be compared with similar ones who were not.

    In a run that has a group (a schedule runs once per group), the segment is that group's members unless
    it names `rooms`; one playbook reaches a member at most once per local day.
    """
    call = ctx.call
    assert call is not None
    body = call.body
    now = ctx.now()
    # A member in two groups is still reached once a day by one playbook.
    today = ctx.local_now().replace(hour=0, minute=0, second=0, microsecond=0)
    query = await run_segment(ctx, p.segment, skip_nudged=(ctx.playbook.id, today))
    rows = (await ctx.conn.execute(query.limit(p.limit))).all()
    previous = ctx.member
    reached = kept = failed = 0
    try:
        for row in rows:
            holdout = in_holdout(ctx.playbook.id, row.id, p.holdout)
            await ctx.conn.execute(
                insert(_nudges).values(member_id=row.id, playbook_id=ctx.playbook.id, holdout=holdout, at=now)
            )
            if holdout:
                kept += 1
                continue
            ctx.set_member("member", MemberRef(row.id, row.name))
            try:
                async with savepoint(ctx.conn):
                    before = len(ctx.outgoing)
                    try:
                        await run_steps(ctx, body)
                    except BaseException:
                        del ctx.outgoing[before:]
                        raise
                reached += 1
            except StepFailed as exc:
                failed += 1
                pb = ctx.playbook
                log.error("playbook %s (%s): for_each member %s failed at %s", pb.id, pb.path, row.id, exc)
    finally:
        ctx.set_member("member", previous)
    log.info(
        "playbook %s: for_each reached %d, held out %d, failed %d (segment of %d)",
        ctx.playbook.id,
        reached,
        kept,
        failed,
        len(rows),
    )
