"""Which accounts are in which groups: recorded from each account's own events, read to choose who may take
over a group and who sends to a group no speaker holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.fleet.tables import AccountRoom
from bot.store.dialect import upsert

_rooms = AccountRoom.__table__


async def seen_in(conn: AsyncConnection, account: str, room_id: str, now: datetime) -> None:
    values = {"account": account, "room_id": room_id, "seen_at": now}
    await conn.execute(upsert(conn, _rooms, values, ["account", "room_id"], {"seen_at": now}))


async def left(conn: AsyncConnection, account: str, room_id: str) -> None:
    """The account is no longer in the group (removed, or the group dissolved)."""
    await conn.execute(_rooms.delete().where(_rooms.c.account == account, _rooms.c.room_id == room_id))


async def accounts_in(conn: AsyncConnection, room_id: str) -> list[str]:
    """The accounts in the group, most recently seen there first."""
    query = select(_rooms.c.account).where(_rooms.c.room_id == room_id).order_by(_rooms.c.seen_at.desc())
    return [str(name) for name in (await conn.execute(query)).scalars()]
