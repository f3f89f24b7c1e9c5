"""The moderation log: every warning, removal and blacklisting, with the message that triggered it and the
playbook or staff member behind it. Live warnings are its `warn` rows not expired and not cleared (/撤销)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from bot.context import FieldContext
from bot.events import MemberRef, MessageEvent, RoomRef
from bot.registry import member_field
from bot.store.housekeeping import keeps_texts

KEPT = 500  # characters of a triggering message's text kept in the log


class ModerationEntry(SQLModel, table=True):
    """One moderation action: who, what, where, why, on which message, by which playbook or staff member."""

    __tablename__ = "moderation_log"
    __table_args__ = (Index("ix_moderation_log_member", "member_id", "action"), Index("ix_moderation_log_at", "at"))
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    action: str  # warn | remove | blacklist | rejoin (a blacklisted member removed again) | unblacklist | undo
    member_id: str
    member_name: str = ""
    room_id: str | None = None
    room_topic: str = ""
    reason: str = ""
    message_kind: str | None = None  # the triggering message's kind, text and url (none for a staff command)
    message_text: str | None = None
    message_url: str | None = None
    playbook_id: str | None = None  # the playbook that acted, or
    staff_id: str | None = None  # the staff member who did
    expires_at: datetime | None = None  # a warning's end
    cleared_at: datetime | None = None  # a warning cleared by /撤销


_log = ModerationEntry.__table__
keeps_texts(_log, "at", "message_text", "message_url")  # blanked after privacy.keep_texts; the row stays


async def record(
    conn: AsyncConnection,
    action: str,
    member: MemberRef,
    *,
    at: datetime,
    room: RoomRef | None = None,
    reason: str = "",
    message: object = None,
    playbook_id: str | None = None,
    staff_id: str | None = None,
    expires_at: datetime | None = None,
) -> None:
    said = message if isinstance(message, MessageEvent) else None
    await conn.execute(
        _log.insert().values(
            at=at,
            action=action,
            member_id=member.id,
            member_name=member.name,
            room_id=room.id if room else None,
            room_topic=room.topic if room else "",
            reason=reason,
            message_kind=said.content if said else None,
            message_text=said.text[:KEPT] if said else None,
            message_url=said.url if said else None,
            playbook_id=playbook_id,
            staff_id=staff_id,
            expires_at=expires_at,
        )
    )


def _live(member_id: str, now: datetime) -> list[object]:
    return [
        _log.c.member_id == member_id,
        _log.c.action == "warn",
        _log.c.expires_at > now,
        _log.c.cleared_at.is_(None),
    ]


async def live_warnings(conn: AsyncConnection, member_id: str, now: datetime) -> int:
    """The member's warnings not expired and not cleared, across all the shop's groups (spammers hop groups)."""
    return (await conn.execute(select(func.count()).select_from(_log).where(*_live(member_id, now)))).scalar_one()


async def clear_warnings(conn: AsyncConnection, member_id: str, now: datetime) -> int:
    done = await conn.execute(update(_log).where(*_live(member_id, now)).values(cleared_at=now))
    return done.rowcount


@member_field("warnings")
async def member_warnings(ctx: FieldContext, member_id: str) -> int:
    """Live warnings (`warn`), across all groups."""
    return await live_warnings(ctx.conn, member_id, ctx.now)
