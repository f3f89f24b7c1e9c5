"""What every event writes before any playbook runs: seen-once mark, members (their friend flag too), rooms, and
each member's group messages per local day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Insert, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import Event, MemberRef, RoomRef
from bot.fleet import friendships
from bot.fleet.settings import SINGLE
from bot.store import dialect
from bot.store.tables import Member, MessageDay, NameChange, Room, RoomMember, SeenEvent, TopicChange

_members = Member.__table__
_rooms = Room.__table__
_room_members = RoomMember.__table__
_names = NameChange.__table__
_topics = TopicChange.__table__
_message_days = MessageDay.__table__

# Built once: every message runs these, and building a statement costs more than SQLite running it.
_SAME_MEMBER = (_members.c.id == bindparam("m_id")) & (_members.c.name == bindparam("m_name"))
_TOUCH_MEMBER = update(_members).where(_SAME_MEMBER).values(last_active=bindparam("m_at"))
_TOUCH_FRIEND = update(_members).where(_SAME_MEMBER).values(last_active=bindparam("m_at"), friend=bindparam("m_friend"))
_NAME = insert(_names)
_TOUCH_ROOM = (
    update(_rooms)
    .where(_rooms.c.id == bindparam("r_id"), _rooms.c.topic == bindparam("r_topic"))
    .values(last_active=bindparam("r_at"))
)
_SAME_TOPIC = select(_rooms.c.id).where(_rooms.c.id == bindparam("r_id"), _rooms.c.topic == bindparam("r_topic"))
_ACTIVE_MEMBER = update(_members).where(_members.c.id == bindparam("m_id")).values(last_active=bindparam("m_at"))
_ACTIVE_ROOM = update(_rooms).where(_rooms.c.id == bindparam("r_id")).values(last_active=bindparam("r_at"))
_FRIEND = select(_members.c.friend).where(_members.c.id == bindparam("m_id"))
# A member first seen by a message was in the group before: since the bot's first sight of the group (its row).
_FIRST_SIGHT = select(_rooms.c.first_seen).where(_rooms.c.id == bindparam("p_room")).scalar_subquery()
_PRESENT: dict[str, Insert] = {}
_COUNTED: dict[str, Insert] = {}


async def mark_seen(conn: AsyncConnection, event_id: str, at: datetime, *, account: str | None = None) -> bool:
    """True the first time an event id is seen; False for a redelivery. In a fleet, `account` saw it."""
    row = {"id": event_id, "at": at, **({"account": account} if account is not None else {})}
    result = await conn.execute(dialect.insert_ignore(conn, SeenEvent.__table__), row)
    return result.rowcount == 1


async def upsert_member(conn: AsyncConnection, member: MemberRef, at: datetime, *, active: bool) -> None:
    """Keep the member row current (with their friend flag, when the platform said it); a new display name is
    also kept in member_names. The common case (known member, same name) is one UPDATE."""
    seen = {"last_active": at} if active else {}
    friend = {"friend": member.friend} if member.friend is not None else {}
    if not member.name:  # the platform did not say: keep the name we know
        await conn.execute(dialect.insert_ignore(conn, _members), {"id": member.id, "first_seen": at, **seen, **friend})
        if seen or friend:
            await conn.execute(update(_members).where(_members.c.id == member.id).values(**seen, **friend))
        return
    if seen and friend:
        same = await conn.execute(
            _TOUCH_FRIEND, {"m_id": member.id, "m_name": member.name, "m_at": at, "m_friend": member.friend}
        )
    elif seen:
        same = await conn.execute(_TOUCH_MEMBER, {"m_id": member.id, "m_name": member.name, "m_at": at})
    else:
        same = await conn.execute(
            update(_members)
            .where(_members.c.id == member.id, _members.c.name == member.name)
            .values(name=member.name, **friend)
        )
    if same.rowcount:
        return
    row = {"id": member.id, "name": member.name, "first_seen": at, **seen, **friend}
    if not (await conn.execute(dialect.insert_ignore(conn, _members), row)).rowcount:
        await conn.execute(
            update(_members).where(_members.c.id == member.id).values(name=member.name, **seen, **friend)
        )
    await conn.execute(_NAME, {"member_id": member.id, "name": member.name, "at": at})


async def upsert_room(
    conn: AsyncConnection, room: RoomRef, at: datetime, *, by: MemberRef | None = None, touch: bool = True
) -> None:
    """Keep the room row current; a new topic is also kept in room_topics (with who changed it, if known).
    `touch`: the group was active now (`last_active`); a fleet's accounts that do not speak for it leave that."""
    touched = {"last_active": at} if touch else {}
    if not room.topic:
        values = {"id": room.id, "first_seen": at, "last_active": at}
        if touch:
            await conn.execute(dialect.upsert(conn, _rooms, values, ["id"], touched))
        else:
            await conn.execute(dialect.insert_ignore(conn, _rooms), values)
        return
    if touch:
        same = (await conn.execute(_TOUCH_ROOM, {"r_id": room.id, "r_topic": room.topic, "r_at": at})).rowcount
    else:
        same = (await conn.execute(_SAME_TOPIC, {"r_id": room.id, "r_topic": room.topic})).first() is not None
    if same:
        return
    row = {"id": room.id, "topic": room.topic, "first_seen": at, "last_active": at}
    await conn.execute(dialect.upsert(conn, _rooms, row, ["id"], {"topic": room.topic, **touched}))
    await conn.execute(
        insert(_topics).values(room_id=room.id, topic=room.topic, by_member_id=by.id if by else None, at=at)
    )


async def record(conn: AsyncConnection, event: Event, at: datetime, *, today: date, activity: bool = True) -> None:
    """Keep members, rooms and room membership current from what the event says about itself (bot/events.py);
    a group message counts for its member's local day `today` (private ones are no group activity).
    `activity=False`: membership only; in a fleet the group's speaker alone counts activity (`record_activity`)."""
    member, room = event.member, event.room
    if member is not None:
        await upsert_member(conn, member, at, active=activity and event.active)
        if activity and room is not None and event.kind == "message":
            await count_message(conn, member.id, today)
    for other in (event.inviter, event.by):
        if other is not None:
            await upsert_member(conn, other, at, active=False)
    if room is not None:
        await upsert_room(conn, room, at, by=event.by, touch=activity)
    if member is None or room is None or event.membership is None:
        return
    where = {"room_id": room.id, "member_id": member.id}
    if event.membership == "present":  # no join seen: in the group since the bot first saw it (days_in_room)
        name = conn.dialect.name
        present = _PRESENT.get(name)
        if present is None:
            present = _PRESENT[name] = dialect.insert_ignore(conn, _room_members).values(
                room_id=bindparam("p_room"), member_id=bindparam("p_member"), joined_at=_FIRST_SIGHT, active=True
            )
        await conn.execute(present, {"p_room": room.id, "p_member": member.id})
    elif event.membership == "joined":
        inviter = event.inviter.id if event.inviter else None
        row = {**where, "joined_at": at, "inviter_id": inviter, "active": True}
        changes = {"joined_at": at, "left_at": None, "active": True, **({"inviter_id": inviter} if inviter else {})}
        await conn.execute(dialect.upsert(conn, _room_members, row, ["room_id", "member_id"], changes))
    else:  # left
        await mark_left(conn, room.id, member.id, at)


async def record_activity(conn: AsyncConnection, event: Event, at: datetime, *, today: date) -> None:
    """What `record(activity=False)` left out: the member's and the group's last activity and the member's
    messages that day; in a fleet only the group's speaker writes it, so it is counted once."""
    member, room = event.member, event.room
    if member is not None and event.active:
        await conn.execute(_ACTIVE_MEMBER, {"m_id": member.id, "m_at": at})
        if room is not None and event.kind == "message":
            await count_message(conn, member.id, today)
    if room is not None:
        await conn.execute(_ACTIVE_ROOM, {"r_id": room.id, "r_at": at})


async def count_message(conn: AsyncConnection, member_id: str, day: date) -> None:
    """One more message of the member's on that local day: one statement, built once per database kind."""
    name = conn.dialect.name
    counted = _COUNTED.get(name)
    if counted is None:
        row = {"member_id": bindparam("d_member"), "day": bindparam("d_day"), "messages": 1}
        more = {"messages": _message_days.c.messages + 1}
        counted = _COUNTED[name] = dialect.upsert(conn, _message_days, row, ["member_id", "day"], more)
    await conn.execute(counted, {"d_member": member_id, "d_day": day})


async def mark_left(conn: AsyncConnection, room_id: str, member_id: str, at: datetime) -> None:
    """The member is out of the group (they left, or the bot removed them)."""
    await conn.execute(
        update(_room_members)
        .where(_room_members.c.room_id == room_id, _room_members.c.member_id == member_id)
        .values(active=False, left_at=at)
    )


async def friend_status(conn: AsyncConnection, member_id: str) -> bool | None:
    """Whether a member is the bot's friend, as the platform last said; None when it never said. In a fleet: a
    friend of some account of the shop (the outbox sends from one of them: bot/fleet/friendships.py)."""
    return (await conn.execute(_FRIEND, {"m_id": member_id})).scalar()


async def set_friend(
    conn: AsyncConnection,
    member_id: str,
    friend: bool,
    *,
    unless_known: bool = False,
    account: str = SINGLE,
    at: datetime | None = None,
) -> None:
    """Record the friend flag (`unless_known`: only where none is recorded, as for a late lookup that newer
    events may have overtaken); in a fleet, as `account`'s own, at `at`."""
    if account != SINGLE:
        assert at is not None, "a fleet account's friendship needs its time"
        await friendships.record(conn, account, member_id, friend, at, unless_known=unless_known)
        return
    where = [_members.c.id == member_id, *([_members.c.friend.is_(None)] if unless_known else [])]
    await conn.execute(update(_members).where(*where).values(friend=friend))


async def known_room(conn: AsyncConnection, room_id: str) -> RoomRef | None:
    row = (await conn.execute(select(_rooms.c.topic).where(_rooms.c.id == room_id))).first()
    return RoomRef(room_id, row.topic) if row is not None else None


async def known_rooms(conn: AsyncConnection) -> list[RoomRef]:
    rows = await conn.execute(select(_rooms.c.id, _rooms.c.topic).order_by(_rooms.c.id))
    return [RoomRef(r.id, r.topic) for r in rows]
