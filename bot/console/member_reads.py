"""What the console's 会员 pages read: member search and one member's whole card (groups, stage, tags, points
ledger, check-ins, coupons, warnings, opt-out, inviter and invitees, recent traces). Plain functions of a sync
Connection, run off the event loop by `console.reader.run`.

The abilities declare their own tables (handlers/): they are found here by name in the metadata, as
bot/forget.py finds them, so bot/ does not import handlers/. A table an ability does not bring reads as empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, or_, select
from sqlmodel import SQLModel

from bot.config import Config
from bot.console.tables import Trace
from bot.staff_actions import MEMBER_COLUMNS
from bot.store.dialect import aware
from bot.store.tables import Member, OptOut, Room, RoomMember

FOUND = 50  # members a search lists
LEDGER = 50  # ledger entries, check-ins, coupons, moderation rows and traces a member page shows (latest)
STAGES = {"new": "引入期", "growing": "成长期", "active": "成熟期", "dormant": "休眠期", "churned": "流失期"}
_members = Member.__table__
_rooms = Room.__table__
_room_members = RoomMember.__table__
_opt_outs = OptOut.__table__
_traces = Trace.__table__


def iso(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value is not None else None


def _table(name: str) -> Table | None:
    return SQLModel.metadata.tables.get(name)


def _like(text: str) -> str:
    """`text` as a LIKE pattern that matches it anywhere, its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(conn: Connection, q: str | None) -> list[dict[str, Any]]:
    """Members whose name or WeChat id contains `q` (no `q`: the latest active), most recently active first."""
    m = _members.c
    groups = (
        select(func.count())
        .where(_room_members.c.member_id == m.id, _room_members.c.active.is_(True))
        .scalar_subquery()
    )
    query = select(m.id, m.name, m.points, m.last_active, groups.label("groups"))
    if q:
        pattern = _like(q)
        query = query.where(or_(m.name.like(pattern, escape="\\"), m.id.like(pattern, escape="\\")))
    query = query.order_by(m.last_active.is_(None), m.last_active.desc(), m.id).limit(FOUND)
    return [
        {"id": r.id, "name": r.name, "points": r.points, "last_active": iso(r.last_active), "groups": r.groups}
        for r in conn.execute(query)
    ]


def member(conn: Connection, member_id: str, config: Config, now: datetime) -> dict[str, Any] | None:
    """One member's card; None for an id the shop has never seen."""
    m = _members.c
    lifecycle = MEMBER_COLUMNS.get("lifecycle")
    stage = [lifecycle(now.astimezone(config.tz), config).label("stage")] if lifecycle is not None else []
    columns = [m.id, m.name, m.points, m.first_seen, m.last_active, m.friend, *stage]
    found = conn.execute(select(*columns).where(m.id == member_id)).first()
    if found is None:
        return None
    opted = conn.execute(select(_opt_outs.c.at).where(_opt_outs.c.member_id == member_id)).scalar()
    return {
        "id": found.id,
        "name": found.name,
        "points": found.points,
        "first_seen": iso(found.first_seen),
        "last_active": iso(found.last_active),
        "friend": found.friend,
        "stage": STAGES.get(getattr(found, "stage", "") or "", ""),
        "opted_out": iso(opted),
        "groups": _groups(conn, member_id),
        "invitees": _invitees(conn, member_id),
        "tags": _tags(conn, member_id),
        "ledger": _ledger(conn, member_id),
        "checkins": _checkins(conn, member_id),
        "coupons": _coupons(conn, member_id, now),
        "moderation": _moderation(conn, member_id, now),
        "traces": _recent_traces(conn, member_id),
    }


def _names(conn: Connection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {r.id: r.name for r in conn.execute(select(_members.c.id, _members.c.name).where(_members.c.id.in_(ids)))}


def _groups(conn: Connection, member_id: str) -> list[dict[str, Any]]:
    """Every group the member was seen in, with who invited them there (as WeChat said)."""
    rm = _room_members.c
    rows = conn.execute(
        select(rm.room_id, _rooms.c.topic, rm.joined_at, rm.left_at, rm.active, rm.inviter_id)
        .select_from(_room_members.outerjoin(_rooms, _rooms.c.id == rm.room_id))
        .where(rm.member_id == member_id)
        .order_by(rm.joined_at.desc())
    ).all()
    names = _names(conn, {r.inviter_id for r in rows if r.inviter_id})
    return [
        {
            "room_id": r.room_id,
            "topic": r.topic or "",
            "joined_at": iso(r.joined_at),
            "left_at": iso(r.left_at),
            "active": bool(r.active),
            "inviter": {"id": r.inviter_id, "name": names.get(r.inviter_id, "")} if r.inviter_id else None,
        }
        for r in rows
    ]


def _invitees(conn: Connection, member_id: str) -> list[dict[str, Any]]:
    """Whom the member brought into a group (inviting yourself is nobody)."""
    rm = _room_members.c
    rows = conn.execute(
        select(rm.member_id, _members.c.name, _rooms.c.topic, rm.joined_at)
        .select_from(_room_members.outerjoin(_members, _members.c.id == rm.member_id))
        .outerjoin(_rooms, _rooms.c.id == rm.room_id)
        .where(rm.inviter_id == member_id, rm.member_id != member_id)
        .order_by(rm.joined_at.desc())
        .limit(LEDGER)
    )
    return [
        {"id": r.member_id, "name": r.name or "", "topic": r.topic or "", "joined_at": iso(r.joined_at)} for r in rows
    ]


def _tags(conn: Connection, member_id: str) -> list[str]:
    tags = _table("member_tags")
    if tags is None:
        return []
    return [r.tag for r in conn.execute(select(tags.c.tag).where(tags.c.member_id == member_id).order_by(tags.c.tag))]


def _latest(conn: Connection, name: str, member_id: str, order: str) -> list[Any]:
    table = _table(name)
    if table is None:
        return []
    query = select(table).where(table.c.member_id == member_id)
    return list(conn.execute(query.order_by(table.c[order].desc(), *table.primary_key.columns).limit(LEDGER)))


def _ledger(conn: Connection, member_id: str) -> list[dict[str, Any]]:
    return [
        {"at": iso(r.at), "delta": r.delta, "balance": r.balance, "reason": r.reason, "playbook": r.playbook_id}
        for r in _latest(conn, "points_ledger", member_id, "id")
    ]


def _checkins(conn: Connection, member_id: str) -> list[dict[str, Any]]:
    return [
        {"day": r.day.isoformat(), "streak": r.streak, "points": r.points}
        for r in _latest(conn, "checkins", member_id, "day")
    ]


def _coupons(conn: Connection, member_id: str, now: datetime) -> list[dict[str, Any]]:
    def state(r: Any) -> str:
        if r.redeemed_at is not None:
            return "redeemed"
        return "expired" if r.expires_at is not None and aware(r.expires_at) <= now else "usable"

    return [
        {
            "code": r.code,
            "title": r.title,
            "batch": r.batch_id,
            "issued_at": iso(r.issued_at),
            "expires_at": iso(r.expires_at),
            "redeemed_at": iso(r.redeemed_at),
            "state": state(r),
        }
        for r in _latest(conn, "coupons", member_id, "issued_at")
    ]


def _moderation(conn: Connection, member_id: str, now: datetime) -> dict[str, Any]:
    """The member's moderation log (warnings, removals, blacklisting) and how many warnings are live."""
    log = _table("moderation_log")
    if log is None:
        return {"live_warnings": 0, "entries": []}
    rows = _latest(conn, "moderation_log", member_id, "at")
    live = select(func.count()).where(
        log.c.member_id == member_id, log.c.action == "warn", log.c.expires_at > now, log.c.cleared_at.is_(None)
    )
    return {
        "live_warnings": conn.execute(live).scalar_one(),
        "entries": [
            {
                "at": iso(r.at),
                "action": r.action,
                "reason": r.reason,
                "topic": r.room_topic,
                "by": r.staff_id or r.playbook_id or "",
                "expires_at": iso(r.expires_at),
                "cleared_at": iso(r.cleared_at),
            }
            for r in rows
        ],
    }


def _recent_traces(conn: Connection, member_id: str) -> list[dict[str, Any]]:
    t = _traces.c
    rows = conn.execute(
        select(t.id, t.at, t.room_id, t.stage, t.name, t.outcome, t.summary)
        .where(t.member_id == member_id)
        .order_by(t.at.desc(), t.id.desc())
        .limit(LEDGER)
    )
    return [
        {
            "id": r.id,
            "at": iso(r.at),
            "room_id": r.room_id,
            "stage": r.stage,
            "name": r.name,
            "outcome": r.outcome,
            "summary": r.summary,
        }
        for r in rows
    ]
