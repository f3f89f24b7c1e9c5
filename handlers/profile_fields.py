"""会员资料字段: typed fields a playbook declares under `fields:` (birthday, text, number), set from what a member
typed by `set_field` (validated: a bad value is refused with a Chinese answer and nothing is stored), read as
`member.<id>` in texts, `expr` and scenario `check:`, and the `birthday: today` segment (one indexed query)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import ColumnElement, Connection, Index, func, select
from sqlmodel import Field as Column
from sqlmodel import SQLModel

from bot.console.panels import PanelScope, console_read
from bot.context import FieldContext, RunContext, RunError
from bot.playbook.types import Params, TextField
from bot.registry import REGISTRY, action, resource, segment_filter
from bot.store import dialect
from bot.store.tables import Member
from bot.textnorm import fold
from handlers.birthday import BadValue, birthdays_on, parse_birthday, spoken
from handlers.segments import SegmentScope

BIRTHDAY = "birthday"  # the field `birthday: today` segments read
MAX_TEXT = 200  # characters: a value is indexed with its field


class ProfileValue(SQLModel, table=True):
    """A member's value of one declared field, normalised (a birthday is MM-DD). The (field, value) index makes
    `birthday: today` one index range over a million members."""

    __tablename__ = "profile_values"
    __table_args__ = (Index("ix_profile_values_field_value", "field_id", "value", "member_id"),)
    member_id: str = Column(primary_key=True)
    field_id: str = Column(primary_key=True)
    value: str
    at: datetime


_values = ProfileValue.__table__
_members = Member.__table__


class ProfileField(Params):
    """One field under `fields:`: `{id: birthday, type: birthday, title: 生日}`, `{id: city, type: text,
    max_length: 20}`, `{id: kids, type: number, min: 0, max: 10}`."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["birthday", "text", "number"]
    title: str | None = None  # what answers call it; the id when not given
    max_length: int | None = Field(None, ge=1, le=MAX_TEXT)  # text only; 50 when not given
    min: Decimal | None = None  # number only
    max: Decimal | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProfileField:
        if self.id in REGISTRY.member_scope():
            raise ValueError(f"'{self.id}' is already a member field (member.{self.id}): give this field another id")
        if self.id == BIRTHDAY and self.type != "birthday":
            raise ValueError("the id 'birthday' is for a field of type birthday ('birthday: today' segments read it)")
        if self.max_length is not None and self.type != "text":
            raise ValueError("'max_length' is for fields of type text")
        if (self.min is not None or self.max is not None) and self.type != "number":
            raise ValueError("'min' and 'max' are for fields of type number")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is more than 'max'")
        return self

    @property
    def label(self) -> str:
        return self.title or self.id


async def load_value(ctx: FieldContext, member_id: str, entry: ProfileField) -> Any:
    """`member.<id>`: the stored value as its type reads (a number is a number), None when never set."""
    query = select(_values.c.value).where(_values.c.member_id == member_id, _values.c.field_id == entry.id)
    stored = (await ctx.conn.execute(query)).scalar()
    if stored is None or entry.type != "number":
        return stored
    number = Decimal(stored)
    return int(number) if number == number.to_integral_value() else float(number)


resource("fields", schema=ProfileField, form="list", noun="member field", member_field=load_value)


def _shown(number: Decimal) -> str:
    return format(number.normalize(), "f")


_NUMBER = re.compile(r"^[+-]?\d{1,12}(?:\.\d{1,6})?$")


def _number(entry: ProfileField, text: str) -> str | BadValue:
    folded = fold(text).replace(",", "")
    if not _NUMBER.match(folded):
        return BadValue("请写一个数字，例如 3")
    number = Decimal(folded)
    if entry.min is not None and number < entry.min:
        return BadValue(f"不能小于 {_shown(entry.min)}")
    if entry.max is not None and number > entry.max:
        return BadValue(f"不能大于 {_shown(entry.max)}")
    return _shown(number)


_HIDDEN = ("Cc", "Cf")  # control and format characters


def _text(entry: ProfileField, text: str) -> str | BadValue:
    """Kept as typed, but for control and format characters (newlines, bidi marks) and runs of spaces."""
    kept = " ".join("".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _HIDDEN).split())
    limit = entry.max_length or 50
    if not kept:
        return BadValue("内容不能为空")
    if len(kept) > limit:
        return BadValue(f"太长了，最多 {limit} 个字")
    return kept


def parse_value(entry: ProfileField, typed: str) -> str | BadValue:
    """The value to store (normalised), or why it is refused."""
    if entry.type == "birthday":
        return parse_birthday(typed)
    if entry.type == "number":
        return _number(entry, typed)
    return _text(entry, typed)


class SetFieldParams(Params):
    field: str
    value: TextField
    to: str = "member"


@action(
    "set_field",
    schema=SetFieldParams,
    member_directed=True,
    refs={"field": "fields"},
    sets={"field": frozenset({"id", "title", "value", "text", "error"})},
)
async def set_field(ctx: RunContext, p: SetFieldParams) -> None:
    """Store a member's value of a declared field from what they typed (`value: "{{ message.groups.date }}"`).
    `field.error` says in Chinese why a value is refused (nothing is stored), else it is empty; `field.value` is
    the stored form (a birthday as MM-DD) and `field.text` how members read it (12月25日)."""
    member = ctx.target(p.to)
    entry = ctx.resource("fields", p.field)
    if entry is None:  # checked at load; a hot reload could still swap the set mid-run
        raise RunError(f"member field '{p.field}' is not declared")
    result = parse_value(entry, await ctx.render(p.value))
    view = {"id": entry.id, "title": entry.label, "value": "", "text": "", "error": ""}
    if isinstance(result, BadValue):
        ctx.vars["field"] = {**view, "error": result.error}
        return
    row = {"member_id": member.id, "field_id": entry.id, "value": result, "at": ctx.now()}
    await ctx.conn.execute(
        dialect.upsert(ctx.conn, _values, row, ("member_id", "field_id"), {"value": result, "at": row["at"]})
    )
    shown = spoken(result) if entry.type == "birthday" else result
    ctx.vars["field"] = {**view, "value": result, "text": shown}
    ctx.changed(member.id)


@segment_filter("birthday")
def birthday_today(value: str, scope: SegmentScope) -> ColumnElement[bool]:
    """`birthday: today`: members whose `birthday` field falls on the shop's local day (Feb 29 on Feb 28 in
    other years); one index range on (field, value), not a scan of members."""
    days = birthdays_on(scope.local_today)
    born = select(_values.c.member_id).where(_values.c.field_id == BIRTHDAY, _values.c.value.in_(days))
    return _members.c.id.in_(born)


TYPES = {"birthday": "生日", "text": "文字", "number": "数字"}


@console_read("profile_fields")
def profile_fields_panel(conn: Connection, scope: PanelScope) -> dict[str, Any]:
    """The console's 会员资料: each declared field (its type and limits) with how many members filled it in, and
    fields stored but no longer declared."""
    counts = dict(conn.execute(select(_values.c.field_id, func.count()).group_by(_values.c.field_id)).all())
    declared: dict[str, ProfileField] = scope.resources.get("fields", {})
    rows = []
    for entry in declared.values():
        limits = f"最多 {entry.max_length or 50} 字" if entry.type == "text" else ""
        if entry.type == "number" and (entry.min is not None or entry.max is not None):
            low = _shown(entry.min) if entry.min is not None else "…"
            limits = f"{low} 到 {_shown(entry.max) if entry.max is not None else '…'}"
        row = {"id": entry.id, "title": entry.label, "type": TYPES[entry.type], "limits": limits}
        rows.append({**row, "declared": True, "filled": counts.get(entry.id, 0)})
    for field_id in sorted(set(counts) - set(declared)):
        row = {"id": field_id, "title": field_id, "type": "", "limits": "", "declared": False}
        rows.append({**row, "filled": counts[field_id]})
    return {"fields": rows}
