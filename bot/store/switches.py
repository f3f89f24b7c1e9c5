"""Playbooks staff switched on or off from WeChat (/启用, /停用); kept in the database so a restart keeps them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import dialect
from bot.store.tables import PlaybookSwitch

_switches = PlaybookSwitch.__table__


async def load_switches(conn: AsyncConnection) -> dict[str, bool]:
    return {r.playbook_id: r.enabled for r in await conn.execute(select(_switches))}


async def set_switch(conn: AsyncConnection, playbook_id: str, enabled: bool, by: str, at: datetime) -> None:
    row = {"playbook_id": playbook_id, "enabled": enabled, "by_member_id": by, "at": at}
    await conn.execute(
        dialect.upsert(conn, _switches, row, ["playbook_id"], {"enabled": enabled, "by_member_id": by, "at": at})
    )
