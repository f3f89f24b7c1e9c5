"""Each account says it is alive: one row per account, written on every heartbeat and when its status changes
(logged out, refused by WeChat, stopped). `qunguan fleet`, the console and the alerts read it."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.fleet.tables import AccountPresence
from bot.store.dialect import upsert

_presence = AccountPresence.__table__
STATUSES = ("online", "offline", "logged_out", "refused")


async def beat(conn: AsyncConnection, account: str, now: datetime, *, started_at: datetime) -> None:
    """The account's process is alive at `now` (and online unless a status change said otherwise)."""
    values = {
        "account": account,
        "status": "online",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": started_at,
        "heartbeat_at": now,
    }
    update = {"heartbeat_at": now, "host": values["host"], "pid": values["pid"], "started_at": started_at}
    await conn.execute(upsert(conn, _presence, values, ["account"], update))


async def mark(conn: AsyncConnection, account: str, status: str, now: datetime, *, reason: str = "") -> None:
    """The account's status changed: online again, stopped (offline), logged out or refused, with WeChat's words."""
    if status not in STATUSES:
        raise ValueError(f"unknown account status {status!r}")
    values = {"account": account, "status": status, "reason": reason, "started_at": now, "heartbeat_at": now}
    await conn.execute(upsert(conn, _presence, values, ["account"], {"status": status, "reason": reason}))
