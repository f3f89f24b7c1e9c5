"""Rows the bot no longer needs: event ids kept to drop redeliveries, finished outbox messages, and members'
message counts of days long past.

They grow by a row per event, message or member and day; a busy shop would carry millions after a year.
Deleted in chunks (a day of message counts at a time), each its own short transaction, so events keep flowing
in between.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Table, and_, delete, func, select

from bot.store.database import Store
from bot.store.tables import MessageDay, OutboxMessage, SeenEvent

SEEN_FOR = timedelta(days=30)  # platforms redeliver within minutes or hours; a month is ample
OUTBOX_FOR = timedelta(days=90)  # finished messages stay a while for "did the bot send it?" questions
MESSAGE_DAYS_FOR = timedelta(days=90)  # member.messages_30d reads 30; a margin for a longer window later
FINISHED = ("sent", "failed", "expired", "unknown")  # never pending or sending: those still have work to do
CHUNK = 5000

_seen = SeenEvent.__table__
_outbox = OutboxMessage.__table__
_message_days = MessageDay.__table__


async def prune(store: Store, now: datetime) -> int:
    """Delete what is past keeping; returns how many rows went."""
    old_events = _seen.c.at < now - SEEN_FOR
    old_messages = and_(_outbox.c.state.in_(FINISHED), _outbox.c.created_at < now - OUTBOX_FOR)
    removed = await _delete(store, _seen, old_events) + await _delete(store, _outbox, old_messages)
    return removed + await _delete_days(store, (now - MESSAGE_DAYS_FOR).date())


async def _delete(store: Store, table: Table, old: ColumnElement[bool]) -> int:
    removed = 0
    while True:
        async with store.unit() as conn:
            ids = [row[0] for row in await conn.execute(select(table.c.id).where(old).limit(CHUNK))]
            if ids:
                await conn.execute(delete(table).where(table.c.id.in_(ids)))
        removed += len(ids)
        if len(ids) < CHUNK:
            return removed
        await asyncio.sleep(0)  # events waiting for the store go first


async def _delete_days(store: Store, before: date) -> int:
    """Message counts of local days before `before`, the oldest day first, one day per transaction."""
    removed = 0
    while True:
        async with store.unit() as conn:
            oldest = (await conn.execute(select(func.min(_message_days.c.day)))).scalar()
            if oldest is None or oldest >= before:
                return removed
            removed += (await conn.execute(delete(_message_days).where(_message_days.c.day == oldest))).rowcount
        await asyncio.sleep(0)
