"""A group's events under a key that does not depend on the account that saw them (group, sender, text and
time to the second for a message; group, member, kind and time for a join or a leave): every account in the
group sees the same event with its own message id, and the key is how they agree it is one.

The speaker marks the key done in the transaction that acts on the event; the other accounts keep the event
itself (JSON, bot/deadletters.py's form) for `fleet.hold`, so that whoever takes over acts on exactly those the
old speaker never committed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deadletters import decode, encode
from bot.events import Event
from bot.fleet import leases
from bot.fleet.tables import HeldEvent, SpeakerLease
from bot.store import hot

_held = HeldEvent.__table__
_leases = SpeakerLease.__table__

# Every group event of a fleet runs one of these: on the driver, prepared once (bot/store/hot.py).
_DONE = hot.insert(
    "held done",
    _held,
    ["key", "room_id", "at", "account", "event", "done"],
    conflict="(key) DO UPDATE SET done = :done, event = '' WHERE NOT held_events.done",
)
# PostgreSQL (hot.fuses): the speaker's lease taken or extended (leases.speak) and the event's key marked done (`done`)
# in one round trip, the key only when the lease is this account's: (speaks, done now).
_SPEAK_DONE = hot.Statement(
    "speak and held done",
    f"WITH spoke AS ({leases.SPEAK.sql} RETURNING 1),"
    " marked AS (INSERT INTO held_events (key, room_id, at, account, event, done)"
    " SELECT :key, :room_id, :at, :account, '', true WHERE EXISTS (SELECT 1 FROM spoke)"
    " ON CONFLICT (key) DO UPDATE SET done = true, event = '' WHERE NOT held_events.done RETURNING 1)"
    " SELECT (SELECT count(*) FROM spoke), (SELECT count(*) FROM marked)",
)
_HOLD = hot.insert("hold", _held, ["key", "room_id", "at", "account", "event", "done"], conflict="DO NOTHING")


def key(event: Event) -> str:
    """The event's key, the same on every account that saw it."""
    room, member = event.room, event.member
    what = getattr(event, "text", None) if event.kind == "message" else getattr(event.room, "topic", "")
    parts = [
        event.kind,
        room.id if room else "",
        member.id if member else "",
        what if event.kind in ("message", "rename") else "",
        int(event.at.timestamp()),
    ]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


async def done(conn: AsyncConnection, code: str, event: Event, account: str) -> bool:
    """The speaker acts on the event: its key is done. False when it was done already (the speaker before, or
    this one through another account's copy): then nobody acts on it again."""
    assert event.room is not None
    values = {"key": code, "room_id": event.room.id, "at": event.at, "account": account, "done": True}
    return await hot.execute(conn, _DONE, values) == 1


async def speak_done(
    conn: AsyncConnection, code: str, event: Event, account: str, now: datetime, lease: timedelta
) -> tuple[bool, bool]:
    """Whether `account` speaks for the event's group (leases.speak) and, if it does, whether the key is done now
    (`done`): one round trip on PostgreSQL."""
    assert event.room is not None
    room_id = event.room.id
    if not hot.fuses(conn):
        speaks = await leases.speak(conn, room_id, account, now, lease)
        return speaks, speaks and await done(conn, code, event, account)
    values = {"room_id": room_id, "account": account, "since": now, "expires_at": now + lease}
    row = await hot.fetchone(conn, _SPEAK_DONE, {**values, "key": code, "at": event.at})
    assert row is not None
    return row[0] == 1, row[1] == 1


async def hold(conn: AsyncConnection, code: str, event: Event, account: str) -> None:
    """Keep the event for a takeover, unless its key is known already (done, or held by another account)."""
    assert event.room is not None
    row = {
        "key": code,
        "room_id": event.room.id,
        "at": event.at,
        "account": account,
        "event": json.dumps(encode(event), ensure_ascii=False),
        "done": False,
    }
    await hot.execute(conn, _HOLD, row)


async def undone(conn: AsyncConnection, room_id: str) -> list[tuple[str, Event]]:
    """(key, event) of the group's held events nobody acted on, oldest first."""
    query = (
        select(_held.c.key, _held.c.event)
        .where(_held.c.room_id == room_id, _held.c.done.is_(False))
        .order_by(_held.c.at, _held.c.key)
    )
    return [(str(row.key), decode(json.loads(row.event))) for row in await conn.execute(query)]


async def missed(conn: AsyncConnection, account: str, before: datetime, now: datetime) -> list[tuple[str, Event]]:
    """(key, event) of the events held before `before` in the groups the account speaks for that it never acted
    on: its own copy never came (WeChat delivers to each account on its own), oldest first."""
    query = (
        select(_held.c.key, _held.c.event)
        .join(_leases, _leases.c.room_id == _held.c.room_id)
        .where(_leases.c.account == account, _leases.c.expires_at > now, _held.c.done.is_(False), _held.c.at < before)
        .order_by(_held.c.at, _held.c.key)
    )
    return [(str(row.key), decode(json.loads(row.event))) for row in await conn.execute(query)]


async def prune(conn: AsyncConnection, before: datetime) -> int:
    """Forget events older than `fleet.hold`: a takeover after that no longer acts on them."""
    return (await conn.execute(delete(_held).where(_held.c.at < before))).rowcount
