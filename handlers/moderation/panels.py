"""Moderation in the web console's 群管理 page: the moderation log (newest first, by member or action) and the
blacklist, worded as /违规 and /黑名单 word them (bot/console/panels.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, or_, select

from bot.console.panels import PanelScope, console_read
from bot.store import dialect
from handlers.moderation.blacklist import Blacklisted
from handlers.moderation.commands import ACTIONS
from handlers.moderation.log import ModerationEntry

_log = ModerationEntry.__table__
_blacklist = Blacklisted.__table__


def _at(value: Any) -> str | None:
    return dialect.aware(value).isoformat() if value is not None else None


@console_read("moderation_log")
def moderation_log(conn: Connection, scope: PanelScope) -> dict[str, Any]:
    """`filters`: member (an id, or a part of the name), action (warn, remove, ...)."""
    where = []
    member, action = scope.filters.get("member"), scope.filters.get("action")
    if member:
        where.append(or_(_log.c.member_id == member, _log.c.member_name.contains(member, autoescape=True)))
    if action:
        where.append(_log.c.action == action)
    total = conn.scalar(select(func.count()).select_from(_log).where(*where)) or 0
    query = select(_log).where(*where).order_by(_log.c.at.desc(), _log.c.id.desc())
    rows = conn.execute(query.limit(scope.limit).offset(scope.offset)).all()
    return {
        "total": total,
        "actions": ACTIONS,
        "rows": [
            {
                "id": r.id,
                "at": _at(r.at),
                "action": r.action,
                "action_text": ACTIONS.get(r.action, r.action),
                "member_id": r.member_id,
                "member": r.member_name or r.member_id,
                "room": r.room_topic or r.room_id or "",
                "reason": r.reason,
                "message_kind": r.message_kind,
                "message_text": r.message_text,
                "message_url": r.message_url,
                "by": f"店员 {r.staff_id}" if r.staff_id else f"剧本 {r.playbook_id}" if r.playbook_id else "自动",
                "expires_at": _at(r.expires_at),
                "cleared_at": _at(r.cleared_at),
            }
            for r in rows
        ],
    }


@console_read("blacklist")
def blacklist(conn: Connection, scope: PanelScope) -> dict[str, Any]:
    total = conn.scalar(select(func.count()).select_from(_blacklist)) or 0
    query = select(_blacklist).order_by(_blacklist.c.at.desc(), _blacklist.c.member_id)
    rows = conn.execute(query.limit(scope.limit).offset(scope.offset)).all()
    return {
        "total": total,
        "rows": [
            {
                "member_id": r.member_id,
                "member": r.member_name or r.member_id,
                "reason": r.reason,
                "by": r.by,
                "at": _at(r.at),
            }
            for r in rows
        ],
    }
