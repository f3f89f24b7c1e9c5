"""What every event writes before any playbook runs: seen-once mark, members (their friend flag too), rooms, and
each member's group messages per local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import Event, MemberRef, RoomRef
from bot.fleet import friendships
from bot.fleet.settings import SINGLE
from bot.store import dialect, hot
from bot.store.deferred import Deferred
from bot.store.tables import Member, NameChange, Room, RoomMember, SeenEvent, TopicChange

_members = Member.__table__
_rooms = Room.__table__
_room_members = RoomMember.__table__
_names = NameChange.__table__
_topics = TopicChange.__table__

# Every message runs these: on the driver, prepared once (bot/store/hot.py).
_SEEN = hot.insert("seen", SeenEvent.__table__, ["id", "at", "account"], conflict="DO NOTHING")
_TOUCH_MEMBER = hot.Statement("touch member", "UPDATE members SET last_active = :at WHERE id = :id AND name = :name")
_TOUCH_FRIEND = hot.Statement(
    "touch friend", "UPDATE members SET last_active = :at, friend = :friend WHERE id = :id AND name = :name"
)
_NAME = insert(_names)
_TOUCH_ROOM = hot.Statement("touch room", "UPDATE rooms SET last_active = :at WHERE id = :id AND topic = :topic")
_SAME_TOPIC = select(_rooms.c.id).where(_rooms.c.id == bindparam("r_id"), _rooms.c.topic == bindparam("r_topic"))
_ACTIVE_MEMBER = hot.Statement("active member", "UPDATE members SET last_active = :at WHERE id = :id")
_ACTIVE_ROOM = hot.Statement("active room", "UPDATE rooms SET last_active = :at WHERE id = :id")
_FRIEND = select(_members.c.friend).where(_members.c.id == bindparam("m_id"))
# A member first seen by a message was in the group before: since the bot's first sight of the group (its row).
# (The room's id twice: PostgreSQL gives one parameter one type, and the two columns' types differ.)
_PRESENT = hot.Statement(
    "present",
    "INSERT INTO room_members (room_id, member_id, joined_at, active)"
    " VALUES (:room, :member, (SELECT first_seen FROM rooms WHERE id = :first_room), :active) ON CONFLICT DO NOTHING",
)
_COUNTED = hot.Statement(
    "count message",
    "INSERT INTO message_days (member_id, day, messages) VALUES (:member, :day, 1)"
    " ON CONFLICT (member_id, day) DO UPDATE SET messages = message_days.messages + 1",
)
# PostgreSQL (hot.fuses): what every recorded event writes first, in one round trip. Each part only where the one
# before it found or wrote its row, so the columns say what the statements apart would have: the seen mark (the
# event is new); the member's row found current (same name; its last activity when `active`, its friend flag when
# said); then, with that row current, the day's message count (`counts`) and the membership (`present`, only where
# the group's row is there: its first sight is the member's joined_at), which the last column says.
_SEEN_TOUCH = hot.Statement(
    "seen, touch member, count message and present",
    "WITH seen AS (INSERT INTO seen_events (id, at, account) VALUES (:id, :at, :account)"
    " ON CONFLICT DO NOTHING RETURNING 1),"
    " touched AS (UPDATE members SET last_active = CASE WHEN :active THEN :at ELSE last_active END,"
    " friend = COALESCE(:friend, friend) WHERE id = :member AND name = :name"
    " AND EXISTS (SELECT 1 FROM seen) RETURNING 1),"
    " counted AS (INSERT INTO message_days (member_id, day, messages)"
    " SELECT :member, CAST(:day AS date), 1 WHERE :counts AND EXISTS (SELECT 1 FROM touched)"
    " ON CONFLICT (member_id, day) DO UPDATE SET messages = message_days.messages + 1 RETURNING 1),"
    " present AS (INSERT INTO room_members (room_id, member_id, joined_at, active)"
    " SELECT :room, :member, first_seen, true FROM rooms"
    " WHERE id = :first_room AND :present AND EXISTS (SELECT 1 FROM touched)"
    " ON CONFLICT DO NOTHING RETURNING 1)"
    " SELECT (SELECT count(*) FROM seen), (SELECT count(*) FROM touched),"
    " EXISTS (SELECT 1 FROM rooms WHERE id = :first_room)",
)
_ACTIVE_COUNTED = hot.Statement(
    "active member and count message", f"WITH counted AS ({_COUNTED.sql} RETURNING 1) {_ACTIVE_MEMBER.sql}"
)
_COUNTED_PRESENT = hot.Statement(
    "count message and present",
    f"WITH counted AS ({_COUNTED.sql} RETURNING 1) {_PRESENT.sql}",
)


@dataclass(frozen=True)
class Seen:
    """What `mark_seen_touching` did: `first`, the event is new; `touched`, the member's row was current and is
    touched; `counted`, the day's message count is done too, and `present`, the membership."""

    first: bool
    touched: bool = False
    counted: bool = False
    present: bool = False


async def mark_seen(conn: AsyncConnection, event_id: str, at: datetime, *, account: str | None = None) -> bool:
    """True the first time an event id is seen; False for a redelivery. In a fleet, `account` saw it."""
    return await hot.execute(conn, _SEEN, {"id": event_id, "at": at, "account": account}) == 1


def touches_member(event: Event) -> bool:
    """Whether `mark_seen_touching` may keep the member's row current: a member the platform named."""
    return event.member is not None and bool(event.member.name)


async def mark_seen_touching(
    conn: AsyncConnection, event: Event, at: datetime, *, today: date, activity: bool, account: str | None = None
) -> Seen:
    """`mark_seen` and, when the event is new, the member's "still that name" (active now, with `activity`), and
    for a group message the day's count (with `activity`) and the membership: one round trip on PostgreSQL
    (hot.fuses); elsewhere only the seen mark. `record(seen=...)` then leaves out what was done. Only for an event
    `touches_member` allows."""
    member, room = event.member, event.room
    assert member is not None
    if not hot.fuses(conn):
        return Seen(await mark_seen(conn, event.id, at, account=account))
    counts = activity and room is not None and event.kind == "message"
    present = room is not None and event.membership == "present"
    params = {
        "id": event.id,
        "at": at,
        "account": account,
        "member": member.id,
        "name": member.name,
        "friend": member.friend,
        "active": activity and event.active,
        "counts": counts,
        "day": today,
        "present": present,
        "room": room.id if room is not None else None,
        "first_room": room.id if room is not None else None,
    }
    row = await hot.fetchone(conn, _SEEN_TOUCH, params)
    assert row is not None
    touched = row[1] == 1
    return Seen(row[0] == 1, touched, counted=counts and touched, present=present and touched and bool(row[2]))


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
        params = {"id": member.id, "name": member.name, "at": at, "friend": member.friend}
        same = await hot.execute(conn, _TOUCH_FRIEND, params)
    elif seen:
        same = await hot.execute(conn, _TOUCH_MEMBER, {"id": member.id, "name": member.name, "at": at})
    else:
        same = (
            await conn.execute(
                update(_members)
                .where(_members.c.id == member.id, _members.c.name == member.name)
                .values(name=member.name, **friend)
            )
        ).rowcount
    if same:
        return
    row = {"id": member.id, "name": member.name, "first_seen": at, **seen, **friend}
    if not (await conn.execute(dialect.insert_ignore(conn, _members), row)).rowcount:
        await conn.execute(
            update(_members).where(_members.c.id == member.id).values(name=member.name, **seen, **friend)
        )
    await conn.execute(_NAME, {"member_id": member.id, "name": member.name, "at": at})


async def upsert_room(
    conn: AsyncConnection,
    room: RoomRef,
    at: datetime,
    *,
    by: MemberRef | None = None,
    touch: bool = True,
    later: Deferred | None = None,
) -> None:
    """Keep the room row current; a new topic is also kept in room_topics (with who changed it, if known).
    `touch`: the group was active now (`last_active`); a fleet's accounts that do not speak for it leave that.
    `later` (a batch's): once an event of the batch found the row current, the batch's later events do not look
    again, and the group's last activity is written once, the latest, before the commit (nothing reads it
    meanwhile but the console)."""
    touched = {"last_active": at} if touch else {}
    if later is not None and room.topic:
        if touch:
            later.put(_ACTIVE_ROOM, room.id, {"id": room.id, "at": at})
        if later.topic(room.id) == room.topic:
            return
    if not room.topic:
        values = {"id": room.id, "first_seen": at, "last_active": at}
        if touch:
            await conn.execute(dialect.upsert(conn, _rooms, values, ["id"], touched))
        else:
            await conn.execute(dialect.insert_ignore(conn, _rooms), values)
        return
    if touch:
        same = await hot.execute(conn, _TOUCH_ROOM, {"id": room.id, "topic": room.topic, "at": at})
    else:
        same = (await conn.execute(_SAME_TOPIC, {"r_id": room.id, "r_topic": room.topic})).first() is not None
    if later is not None:
        later.found(room.id, room.topic)
    if same:
        return
    row = {"id": room.id, "topic": room.topic, "first_seen": at, "last_active": at}
    await conn.execute(dialect.upsert(conn, _rooms, row, ["id"], {"topic": room.topic, **touched}))
    await conn.execute(
        insert(_topics).values(room_id=room.id, topic=room.topic, by_member_id=by.id if by else None, at=at)
    )


async def record(
    conn: AsyncConnection,
    event: Event,
    at: datetime,
    *,
    today: date,
    activity: bool = True,
    later: Deferred | None = None,
    seen: Seen | None = None,
) -> None:
    """Keep members, rooms and room membership current from what the event says about itself (bot/events.py);
    a group message counts for its member's local day `today` (private ones are no group activity).
    `activity=False`: membership only; in a fleet the group's speaker alone counts activity (`record_activity`).
    `seen`: what `mark_seen_touching` did already (the member's row touched, the count, the membership)."""
    member, room = event.member, event.room
    seen = seen or Seen(True)
    counts = activity and room is not None and event.kind == "message" and not seen.counted
    # PostgreSQL: the message's count goes with the membership statement at the end, in one round trip
    with_present = counts and hot.fuses(conn) and event.membership == "present"
    if member is not None:
        if not seen.touched:
            await upsert_member(conn, member, at, active=activity and event.active)
        if counts and not with_present:
            await count_message(conn, member.id, today)
    for other in (event.inviter, event.by):
        if other is not None:
            await upsert_member(conn, other, at, active=False)
    if room is not None:
        await upsert_room(conn, room, at, by=event.by, touch=activity, later=later)
    if member is None or room is None or event.membership is None or seen.present:
        return
    where = {"room_id": room.id, "member_id": member.id}
    if event.membership == "present":  # no join seen: in the group since the bot first saw it (days_in_room)
        params = {"room": room.id, "first_room": room.id, "member": member.id, "active": True}
        if with_present:
            await hot.execute(conn, _COUNTED_PRESENT, {**params, "day": today})
        else:
            await hot.execute(conn, _PRESENT, params)
    elif event.membership == "joined":
        inviter = event.inviter.id if event.inviter else None
        row = {**where, "joined_at": at, "inviter_id": inviter, "active": True}
        changes = {"joined_at": at, "left_at": None, "active": True, **({"inviter_id": inviter} if inviter else {})}
        await conn.execute(dialect.upsert(conn, _room_members, row, ["room_id", "member_id"], changes))
    else:  # left
        await mark_left(conn, room.id, member.id, at)


async def record_activity(conn: AsyncConnection, event: Event, at: datetime, *, today: date, later: Deferred) -> None:
    """What `record(activity=False)` left out: the member's and the group's last activity and the member's
    messages that day; in a fleet only the group's speaker writes it, so it is counted once. The member's two go
    in one round trip on PostgreSQL; the group's once per group, with the rest of the batch's (`later`)."""
    member, room = event.member, event.room
    if member is not None and event.active:
        counts = room is not None and event.kind == "message"
        if counts and hot.fuses(conn):
            await hot.execute(conn, _ACTIVE_COUNTED, {"id": member.id, "at": at, "member": member.id, "day": today})
        else:
            await hot.execute(conn, _ACTIVE_MEMBER, {"id": member.id, "at": at})
            if counts:
                await count_message(conn, member.id, today)
    if room is not None:
        later.put(_ACTIVE_ROOM, room.id, {"id": room.id, "at": at})


async def count_message(conn: AsyncConnection, member_id: str, day: date) -> None:
    """One more message of the member's on that local day: one statement."""
    await hot.execute(conn, _COUNTED, {"member": member_id, "day": day})


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
