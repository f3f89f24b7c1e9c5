"""What every event writes before any playbook runs: seen-once mark, members, rooms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import Event, MemberJoined, MemberLeft, MemberRef, MessageEvent, RoomRef
from bot.store import dialect
from bot.store.tables import Member, Room, RoomMember, SeenEvent

_members = Member.__table__
_rooms = Room.__table__
_room_members = RoomMember.__table__


async def mark_seen(conn: AsyncConnection, event_id: str, at: datetime) -> bool:
    """True the first time an event id is seen; False for a redelivery."""
    result = await conn.execute(dialect.insert_ignore(conn, SeenEvent.__table__, {"id": event_id, "at": at}))
    return result.rowcount == 1


async def upsert_member(conn: AsyncConnection, member: MemberRef, at: datetime, *, active: bool) -> None:
    values = {"id": member.id, "name": member.name, "first_seen": at}
    update_values: dict[str, object] = {"name": member.name} if member.name else {}
    if active:
        values["last_active"] = at
        update_values["last_active"] = at
    if not update_values:
        await conn.execute(dialect.insert_ignore(conn, _members, values))
        return
    await conn.execute(dialect.upsert(conn, _members, values, ["id"], update_values))


async def upsert_room(conn: AsyncConnection, room: RoomRef, at: datetime) -> None:
    values = {"id": room.id, "topic": room.topic, "first_seen": at, "last_active": at}
    changes: dict[str, object] = {"last_active": at}
    if room.topic:
        changes["topic"] = room.topic
    await conn.execute(dialect.upsert(conn, _rooms, values, ["id"], changes))


async def record(conn: AsyncConnection, event: Event, at: datetime) -> None:
    """Keep members, rooms and room membership current from what just happened."""
    if isinstance(event, MessageEvent):
        await upsert_member(conn, event.sender, at, active=True)
        if event.room is not None:
            await upsert_room(conn, event.room, at)
            row = {"room_id": event.room.id, "member_id": event.sender.id, "joined_at": at, "active": True}
            await conn.execute(dialect.insert_ignore(conn, _room_members, row))
    elif isinstance(event, MemberJoined):
        await upsert_member(conn, event.member, at, active=False)
        if event.inviter is not None:
            await upsert_member(conn, event.inviter, at, active=False)
        await upsert_room(conn, event.room, at)
        row = {
            "room_id": event.room.id,
            "member_id": event.member.id,
            "joined_at": at,
            "inviter_id": event.inviter.id if event.inviter else None,
            "active": True,
        }
        changes = {"joined_at": at, "left_at": None, "active": True}
        if event.inviter is not None:
            changes["inviter_id"] = event.inviter.id
        await conn.execute(dialect.upsert(conn, _room_members, row, ["room_id", "member_id"], changes))
    elif isinstance(event, MemberLeft):
        await upsert_member(conn, event.member, at, active=False)
        await upsert_room(conn, event.room, at)
        await conn.execute(
            update(_room_members)
            .where(_room_members.c.room_id == event.room.id, _room_members.c.member_id == event.member.id)
            .values(active=False, left_at=at)
        )


async def known_rooms(conn: AsyncConnection) -> list[RoomRef]:
    rows = await conn.execute(select(_rooms.c.id, _rooms.c.topic).order_by(_rooms.c.id))
    return [RoomRef(r.id, r.topic) for r in rows]
