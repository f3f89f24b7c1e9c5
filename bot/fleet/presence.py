"""Each account says it is alive: one row per account, written on every heartbeat and when its status changes
(logged out, refused by WeChat, stopped). `qunguan fleet`, the console and the alerts read it."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import case
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.fleet.tables import AccountPresence
from bot.store.dialect import upsert

_presence = AccountPresence.__table__
STATUSES = ("online", "offline", "logged_out", "refused")
GONE = ("logged_out", "refused")  # why the account went away: a later clean stop does not hide it


async def beat(conn: AsyncConnection, account: str, now: datetime, *, started_at: datetime) -> None:
    """The account's process is alive at `now`: online again after a stop, unless WeChat logged it out."""
    values = {
        "account": account,
        "status": "online",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": started_at,
        "heartbeat_at": now,
    }
    update = {
        "heartbeat_at": now,
        "host": values["host"],
        "pid": values["pid"],
        "started_at": started_at,
        "status": case((_presence.c.status == "offline", "online"), else_=_presence.c.status),
    }
    await conn.execute(upsert(conn, _presence, values, ["account"], update))


async def mark(conn: AsyncConnection, account: str, status: str, now: datetime, *, reason: str = "") -> None:
    """The account's status changed: online again, stopped (offline), logged out or refused, with WeChat's words."""
    if status not in STATUSES:
        raise ValueError(f"unknown account status {status!r}")
    values = {"account": account, "status": status, "reason": reason, "started_at": now, "heartbeat_at": now}
    update: dict[str, object] = {"status": status, "reason": reason}
    if status == "offline":
        gone = _presence.c.status.in_(GONE)
        update = {
            "status": case((gone, _presence.c.status), else_=status),
            "reason": case((gone, _presence.c.reason), else_=""),
        }
    await conn.execute(upsert(conn, _presence, values, ["account"], update))
