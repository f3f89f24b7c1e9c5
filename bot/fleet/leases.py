"""One speaker per group: the account whose lease on the group has not expired acts on its events and sends
to it; the other accounts in the group only keep membership and hold the events (bot/fleet/held.py).

Every change of a lease is one statement, so that two processes racing for it cannot both win: the database
serialises them on the lease's row, and the loser's statement, re-checked against the winner's row, changes
nothing (rowcount 0) on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.fleet.tables import AccountRoom, SpeakerLease
from bot.store import hot

_leases = SpeakerLease.__table__
_rooms = AccountRoom.__table__

# Every group event of a fleet runs these: on the driver, prepared once (bot/store/hot.py).
_SPEAKER = hot.Statement(
    "speaker", "SELECT account, expires_at FROM speaker_leases WHERE room_id = :room_id", times=(1,)
)
SPEAK = hot.insert(
    "speak",
    _leases,
    ["room_id", "account", "since", "expires_at"],
    conflict="(room_id) DO UPDATE SET expires_at = :expires_at WHERE speaker_leases.account = :account",
)


async def speaker_of(conn: AsyncConnection, room_id: str, now: datetime) -> str | None:
    """The account speaking for the group now; None when nobody holds a lease that has not expired."""
    row = await hot.fetchone(conn, _SPEAKER, {"room_id": room_id})
    if row is None or row[1] <= now:
        return None
    return str(row[0])


async def speak(conn: AsyncConnection, room_id: str, account: str, now: datetime, lease: timedelta) -> bool:
    """Whether `account` speaks for the group, decided in the event's own transaction: the group's first lease is
    taken, the account's own is extended; another account's, live or expired, is left alone (an expired one is
    taken over by the takeover duty, which also takes over what its holder left undone). On PostgreSQL the row
    stays locked until the event commits, so no takeover slips in between the check and the event's writes."""
    values = {"room_id": room_id, "account": account, "since": now, "expires_at": now + lease}
    return await hot.execute(conn, SPEAK, values) == 1


async def take_over(
    conn: AsyncConnection, room_id: str, account: str, old: str, now: datetime, lease: timedelta
) -> bool:
    """Take the group's lease from `old`, whose lease has expired (or was released); False when it was renewed
    or another account took it first."""
    result = await conn.execute(
        update(_leases)
        .where(_leases.c.room_id == room_id, _leases.c.account == old, _leases.c.expires_at <= now)
        .values(
            account=account,
            since=case((_leases.c.account == account, _leases.c.since), else_=now),
            expires_at=now + lease,
        )
    )
    return result.rowcount == 1


async def renew(conn: AsyncConnection, account: str, now: datetime, lease: timedelta) -> int:
    """Extend every lease the account holds (its heartbeat); how many it holds."""
    result = await conn.execute(update(_leases).where(_leases.c.account == account).values(expires_at=now + lease))
    return result.rowcount


async def release(conn: AsyncConnection, account: str, now: datetime, room_id: str | None = None) -> None:
    """Give the account's leases up (a clean stop; or one group, which the account left): they expire now, and
    the account stays named as their last holder, so that the next speaker takes over its unsent messages."""
    where = [_leases.c.account == account, *([_leases.c.room_id == room_id] if room_id is not None else [])]
    await conn.execute(update(_leases).where(*where, _leases.c.expires_at > now).values(expires_at=now))


async def expired_for(conn: AsyncConnection, account: str, now: datetime) -> list[tuple[str, str]]:
    """(group, last holder) of the groups the account is in whose lease has expired or was released."""
    query = (
        select(_leases.c.room_id, _leases.c.account)
        .join(_rooms, (_rooms.c.room_id == _leases.c.room_id) & (_rooms.c.account == account))
        .where(_leases.c.expires_at <= now)
        .order_by(_leases.c.room_id)
    )
    return [(str(row.room_id), str(row.account)) for row in await conn.execute(query)]
