"""The fleet at a glance, as `qunguan fleet` and the console's 账号 page show it: per account, online or not, its
last heartbeat, the groups it speaks for, its queue, what it sent today against its own limit, and whether its
send governor is paused. Plain reads on a sync connection (the console runs them off the event loop; the command
on a read-only connection)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from bot.config import Config
from bot.fleet.accounts import run_as
from bot.fleet.tables import AccountPresence, SpeakerLease
from bot.outbox import status
from bot.outbox.rows import TABLE
from bot.outbox.views import SENT, local_midnight
from bot.store.dialect import aware
from bot.store.tables import Room

STATUS_TEXT = {
    "online": "在线",
    "silent": "没有心跳",
    "offline": "已停止",
    "logged_out": "已掉线",
    "refused": "无法登录",
    "never": "未启动过",
}
_presence = AccountPresence.__table__
_leases = SpeakerLease.__table__
_rooms = Room.__table__


def board(conn: Connection, config: Config, now: datetime) -> list[dict[str, Any]]:
    """Every account config.yaml names or the database has heard from, in name order."""
    seen = {row.account: row for row in conn.execute(select(_presence)).all()}
    names = sorted(set(config.accounts) | set(seen))
    midnight = local_midnight(now, config.tz)
    sent = _per_account(conn, select(TABLE.c.account, func.count()).where(SENT, TABLE.c.sent_at >= midnight))
    queued = _per_account(conn, select(TABLE.c.account, func.count()).where(TABLE.c.state == "pending"))
    speaks = _speaks_for(conn, now)
    return [
        _account(name, seen.get(name), config, now, speaks.get(name, []), queued.get(name, 0), sent.get(name, 0))
        | {"governor": status.read(conn, now, name)}  # each account's own breaker and pause
        for name in names
    ]


def _account(
    name: str, row: Any, config: Config, now: datetime, rooms: list[dict[str, str]], queued: int, sent: int
) -> dict[str, Any]:
    limit = (
        run_as(config.shop, name).sending.daily_limit if name in config.accounts else config.shop.sending.daily_limit
    )
    heartbeat = aware(row.heartbeat_at) if row is not None else None
    state = "never" if row is None else str(row.status)
    if state == "online" and heartbeat is not None and heartbeat <= now - config.fleet.lease:
        state = "silent"
    return {
        "account": name,
        "online": state == "online",
        "status": state,
        "status_text": STATUS_TEXT.get(state, state),
        "reason": row.reason if row is not None else "",
        "host": row.host if row is not None else "",
        "pid": row.pid if row is not None else None,
        "heartbeat_at": heartbeat.isoformat() if heartbeat is not None else None,
        "heartbeat_ago": int((now - heartbeat).total_seconds()) if heartbeat is not None else None,
        "groups": len(rooms),
        "rooms": rooms,
        "queue": queued,
        "sent_today": sent,
        "daily_limit": limit,
    }


def _per_account(conn: Connection, query: Any) -> dict[str, int]:
    return {str(account): int(count) for account, count in conn.execute(query.group_by(TABLE.c.account)).all()}


def _speaks_for(conn: Connection, now: datetime) -> dict[str, list[dict[str, str]]]:
    """The groups each account holds a live speaker lease on, by topic."""
    query = (
        select(_leases.c.account, _leases.c.room_id, _leases.c.expires_at, _rooms.c.topic)
        .join(_rooms, _rooms.c.id == _leases.c.room_id, isouter=True)
        .order_by(_rooms.c.topic, _leases.c.room_id)
    )
    found: dict[str, list[dict[str, str]]] = {}
    for row in conn.execute(query).all():
        if aware(row.expires_at) > now:
            found.setdefault(str(row.account), []).append({"room_id": row.room_id, "topic": row.topic or row.room_id})
    return found
