"""Generic conditions of `if:`: role, time, once, cooldown, expr."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BeforeValidator, field_validator
from sqlalchemy import update

from bot.context import RunContext, RunError
from bot.playbook.types import Duration, ExprField, LocalTime, Params, Weekday
from bot.registry import condition
from bot.store import dialect
from bot.store.tables import Cooldown, OnceMark
from bot.traces.recorder import seen, variables


def as_text(value: object) -> object:
    """A YAML number where text is meant (`text: 666`, `tag: 618`) is the digits as written."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def as_list(value: object) -> object:
    """One item or a list of them; numbers become text."""
    if isinstance(value, list):
        return [as_text(item) for item in value]
    value = as_text(value)
    return [value] if isinstance(value, str) else value


Role = Literal["owner", "admin", "staff", "member"]


class RoleParams(Params):
    roles: Annotated[list[Role], BeforeValidator(as_list)]


@condition("role", schema=RoleParams, primary="roles")
async def role(ctx: RunContext, p: RoleParams) -> bool:
    """The sender's role from config.yaml, by WeChat id."""
    member = ctx.member
    if member is None:
        seen(ctx, "（没有成员）")
        return False
    have = ctx.config.role_of(member.id) or "member"
    seen(ctx, have)
    return have in p.roles


class TimeParams(Params):
    between: list[LocalTime] | None = None
    weekdays: Annotated[list[Weekday], BeforeValidator(as_list)] | None = None

    @field_validator("between")
    @classmethod
    def _pair(cls, value: list[time] | None) -> list[time] | None:
        if value is not None and len(value) != 2:
            raise ValueError('must be two times like ["09:00", "22:00"]')
        return value


@condition("time", schema=TimeParams)
async def time_window(ctx: RunContext, p: TimeParams) -> bool:
    """Local time inside `between` (which may cross midnight) and on one of `weekdays`."""
    # A window that crosses midnight belongs to the day it starts on: with `weekdays: [fri]`,
    # `between: ["22:00", "02:00"]` is Friday night, so Saturday 01:00 is inside and Friday 01:00 is not.
    now = ctx.local_now()
    day = now.weekday()
    if p.between is not None:
        start, end = p.between
        current = now.time().replace(tzinfo=None)
        if start <= end:
            if not start <= current < end:
                return False
        elif current < end:
            day = (day - 1) % 7  # the small hours of the night that started yesterday
        elif current < start:
            return False
    return p.weekdays is None or day in p.weekdays


class OnceParams(Params):
    per: Literal["day", "week", "month", "year", "ever"] = "ever"
    scope: Literal["member", "room"] = "member"


def _scope_key(ctx: RunContext, scope: str) -> str:
    if scope == "room":
        if ctx.room is None:
            raise RunError("scope 'room' needs a group event")
        return f"room:{ctx.room.id}"
    member = ctx.member
    if member is None:
        return f"room:{ctx.room.id}" if ctx.room else "global"
    return f"member:{member.id}"


@condition("once", schema=OnceParams, claims=True)
async def once(ctx: RunContext, p: OnceParams) -> bool:
    """At most once per member (or room) per local day, ISO week, calendar month or year, or ever: a unique key
    decides. Inside `for_each` the member is the one the segment reached (a birthday greeting once a year)."""
    local = ctx.local_now()
    period = {
        "day": local.date().isoformat(),
        "week": "{}-W{:02d}".format(*local.isocalendar()[:2]),
        "month": f"{local.year}-{local.month:02d}",
        "year": str(local.year),
        "ever": "ever",
    }[p.per]
    row = {
        "playbook_id": ctx.playbook.id,
        "scope_key": _scope_key(ctx, p.scope),
        "period": period,
        "at": ctx.now(),
    }
    result = await ctx.conn.execute(dialect.insert_ignore(ctx.conn, OnceMark.__table__), row)
    seen(ctx, period)
    return result.rowcount == 1


class CooldownParams(Params):
    span: Duration


@condition("cooldown", schema=CooldownParams, primary="span", claims=True)
async def cooldown(ctx: RunContext, p: CooldownParams) -> bool:
    """At most once per room (per member in private chats) within the span."""
    table = Cooldown.__table__
    key = f"room:{ctx.room.id}" if ctx.room else _scope_key(ctx, "member")
    now = ctx.now()
    renewed = await ctx.conn.execute(
        update(table)
        .where(table.c.playbook_id == ctx.playbook.id, table.c.scope_key == key, table.c.last_at <= now - p.span)
        .values(last_at=now)
    )
    if renewed.rowcount == 1:
        return True
    row = {"playbook_id": ctx.playbook.id, "scope_key": key, "last_at": now}
    inserted = await ctx.conn.execute(dialect.insert_ignore(ctx.conn, table), row)
    return inserted.rowcount == 1


class ExprParams(Params):
    expr: ExprField


@condition("expr", schema=ExprParams, primary="expr")
async def expr(ctx: RunContext, p: ExprParams) -> bool:
    """A sandboxed expression over the run's variables, e.g. member.points >= 100."""
    held = await ctx.evaluate(p.expr)
    if ctx.trace is not None:
        seen(ctx, variables(ctx, p.expr.refs))
    return held
