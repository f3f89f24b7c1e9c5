"""Scheduled playbooks fire once per group across a fleet: every process's scheduler makes the same ticks, and the
one whose tick claims (playbook, group, due time) in the tick's own transaction acts on it; a group with a live
speaker is left to the speaker's tick."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import ScheduledTick
from bot.fleet.leases import speaker_of
from bot.fleet.tables import ScheduleFire
from bot.store.dialect import insert_ignore

_fires = ScheduleFire.__table__


async def claim(conn: AsyncConnection, tick: ScheduledTick, account: str, now: datetime) -> bool:
    """True for the one process of the fleet that acts on the tick; False: another did, or its speaker will.

    A process back after being down runs a fire it missed (the scheduler's grace): the key makes that a no-op."""
    if tick.room is None:
        return True
    speaker = await speaker_of(conn, tick.room.id, now)
    if speaker is not None and speaker != account:
        return False
    row = {"playbook_id": tick.playbook_id, "room_id": tick.room.id, "due_at": tick.at, "account": account}
    return (await conn.execute(insert_ignore(conn, _fires), row)).rowcount == 1
