"""Reading traces for the console (GET /api/traces): plain SQLAlchemy on a sync Connection, run off the event loop
by `console.reader.run`. A member or group is found by id or by its exact name or topic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, or_, select

from bot.console.tables import Trace
from bot.store.dialect import aware
from bot.store.tables import Member, Room

STAGES = ("playbook", "command", "moderation", "window")
OUTCOMES = ("ran", "skipped", "failed")

_traces = Trace.__table__
_members = Member.__table__
_rooms = Room.__table__


@dataclass(frozen=True)
class Filters:
    member: str | None = None  # a WeChat id or a name as shown
    room: str | None = None  # a group id or its topic
    playbook: str | None = None  # a playbook id, a command name, a rule
    stage: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    before: int | None = None  # the id of the oldest trace of the page before (paging backwards)
    limit: int = 100


def _named(column: ColumnElement[Any], value: str, by: Select[Any]) -> ColumnElement[bool]:
    return or_(column == value, column.in_(by))


def search(conn: Connection, f: Filters) -> dict[str, Any]:
    """The newest traces matching every filter given, `limit` of them, and whether there are more."""
    t = _traces
    query = _named_select().order_by(t.c.id.desc()).limit(f.limit + 1)
    if f.member:
        query = query.where(_named(t.c.member_id, f.member, select(_members.c.id).where(_members.c.name == f.member)))
    if f.room:
        query = query.where(_named(t.c.room_id, f.room, select(_rooms.c.id).where(_rooms.c.topic == f.room)))
    if f.playbook:
        query = query.where(t.c.name == f.playbook)
    if f.stage:
        query = query.where(t.c.stage == f.stage)
    if f.outcome:
        query = query.where(t.c.outcome == f.outcome)
    if f.since:
        query = query.where(t.c.at >= f.since)
    if f.until:
        query = query.where(t.c.at < f.until)
    if f.before:
        query = query.where(t.c.id < f.before)
    rows = conn.execute(query).all()
    return {"traces": [_row(r) for r in rows[: f.limit]], "more": len(rows) > f.limit}


def one(conn: Connection, trace_id: int) -> dict[str, Any] | None:
    """A trace with its steps, in the order they happened; None when there is none (pruned)."""
    t = _traces
    query = _named_select(t.c.event_key, t.c.steps).where(t.c.id == trace_id)
    row = conn.execute(query).first()
    if row is None:
        return None
    return {**_row(row), "event": row.event_key, "steps": json.loads(row.steps or "[]")}


def _named_select(*more: Any) -> Select[Any]:
    """Traces with the member's name and the group's topic as the store knows them now."""
    t = _traces
    listed = [t.c[name] for name in ("id", "at", "kind", "room_id", "member_id", "stage", "name", "outcome")]
    return select(
        *listed,
        t.c.summary,
        t.c.text,
        *more,
        _members.c.name.label("member_name"),
        _rooms.c.topic.label("room_topic"),
    ).select_from(t.outerjoin(_members, _members.c.id == t.c.member_id).outerjoin(_rooms, _rooms.c.id == t.c.room_id))


def _row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": aware(row.at).isoformat(),
        "kind": row.kind,
        "room_id": row.room_id,
        "room": row.room_topic or "",
        "member_id": row.member_id,
        "member": row.member_name or "",
        "stage": row.stage,
        "name": row.name,
        "outcome": row.outcome,
        "summary": row.summary,
        "text": row.text or "",
    }
