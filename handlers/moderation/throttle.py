"""Alert throttling: a member posting ads by the hundred costs staff one `alert:` per playbook, group and member
every THROTTLE, not one per ad; the next alert that goes says how many were held back. Kept in a table, so a
restart or a second process does not reopen the flood."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from bot.store import dialect

THROTTLE = timedelta(minutes=10)


class AlertSent(SQLModel, table=True):
    """When a playbook last alerted staff about a member in a group, and how many alerts it held back since."""

    __tablename__ = "alert_throttle"
    playbook_id: str = Field(primary_key=True)
    room_id: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True)
    at: datetime
    held_back: int = 0


_table = AlertSent.__table__


async def held_back(conn: AsyncConnection, playbook_id: str, room_id: str, member_id: str, now: datetime) -> int | None:
    """None: an alert went about this member here lately, hold this one back (counted). Else the alert goes:
    how many were held back since the last one."""
    key = (_table.c.playbook_id == playbook_id) & (_table.c.room_id == room_id) & (_table.c.member_id == member_id)
    last = (await conn.execute(select(_table.c.at, _table.c.held_back).where(key))).first()
    if last is None:
        row = {"playbook_id": playbook_id, "room_id": room_id, "member_id": member_id, "at": now, "held_back": 0}
        await conn.execute(dialect.insert_ignore(conn, _table), row)
        return 0
    if now - dialect.aware(last.at) < THROTTLE:
        await conn.execute(update(_table).where(key).values(held_back=_table.c.held_back + 1))
        return None
    await conn.execute(update(_table).where(key).values(at=now, held_back=0))
    return int(last.held_back)
