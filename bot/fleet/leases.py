"""One speaker per group: the account whose lease on the group has not expired acts on its events and sends
to it; the other accounts in the group only keep membership and hold the events (bot/fleet/held.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.fleet.tables import SpeakerLease
from bot.store.dialect import aware

_leases = SpeakerLease.__table__


async def speaker_of(conn: AsyncConnection, room_id: str, now: datetime) -> str | None:
    """The account speaking for the group now; None when nobody holds a lease that has not expired."""
    row = (
        await conn.execute(select(_leases.c.account, _leases.c.expires_at).where(_leases.c.room_id == room_id))
    ).first()
    if row is None or aware(row.expires_at) <= now:
        return None
    return str(row.account)
