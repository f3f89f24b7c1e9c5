"""What the send governor's breaker is doing, kept in the `settings` table so the web console sees it even when
it runs in another process (`qunguan console`) than the bot that sends (bot/outbox). Written only when it
changes: a pause, the slow restart, back to normal. In a fleet each account has its own breaker, under its own key."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.fleet.settings import SINGLE
from bot.governor import Status
from bot.store import dialect
from bot.store.tables import Setting

KEY = "sending.breaker"
_settings = Setting.__table__


def key(account: str) -> str:
    """The settings key of an account's breaker: 'sending.breaker' outside a fleet, 'sending.breaker.shop-a'."""
    return KEY if account == SINGLE else f"{KEY}.{account}"


async def publish(conn: AsyncConnection, status: Status, known: Status | None, account: str = SINGLE) -> Status:
    """Store `status` unless it is what was stored last (`known`); returns what is stored now."""
    if status == known:
        return status
    until = status.paused_until.isoformat() if status.paused_until is not None else None
    value = {"breaker": status.breaker, "until": until, "why": status.why, "trips": status.trips}
    await conn.execute(delete(_settings).where(_settings.c.key == key(account)))
    await conn.execute(
        insert(_settings).values(key=key(account), value=json.dumps({**value, "slow_left": status.slow_left}))
    )
    return status


def read(conn: Connection, now: datetime, account: str = SINGLE) -> dict[str, Any]:
    """The account's breaker as last stored (a pause whose end is past counts as over: the bot may be stopped)."""
    raw = conn.execute(select(_settings.c.value).where(_settings.c.key == key(account))).scalar()
    state: dict[str, Any] = json.loads(raw) if raw else {"breaker": "closed", "until": None, "why": None}
    until = datetime.fromisoformat(state["until"]) if state.get("until") else None
    paused = state["breaker"] == "open" and until is not None and dialect.aware(until) > now
    return {
        "paused": paused,
        "until": until.isoformat() if paused and until is not None else None,
        "why": state.get("why") if paused else None,
        "slow": state["breaker"] == "slow" or (state["breaker"] == "open" and not paused),
        "trips": state.get("trips", 0),
    }
