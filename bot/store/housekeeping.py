"""Rows the bot no longer needs: event ids kept to drop redeliveries, finished outbox messages, members'
message counts of days long past, and the console's login links and sessions past their time; and what members
typed, blanked (the row stays) after `privacy.keep_texts`.

They grow by a row per event, message or member and day; a busy shop would carry millions after a year.
Deleted in chunks (a day of message counts at a time), each its own short transaction, so events keep flowing
in between.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Table, and_, delete, func, or_, select, update

from bot.console.tables import ConsoleLink, ConsoleSession
from bot.store.database import Store
from bot.store.tables import MessageDay, OutboxMessage, SeenEvent

SEEN_FOR = timedelta(days=30)  # platforms redeliver within minutes or hours; a month is ample
OUTBOX_FOR = timedelta(days=90)  # finished messages stay a while for "did the bot send it?" questions
MESSAGE_DAYS_FOR = timedelta(days=90)  # member.messages_30d reads 30; a margin for a longer window later
FINISHED = ("sent", "failed", "expired", "unknown")  # never pending or sending: those still have work to do
KEEP_TEXTS = timedelta(days=30)  # config.yaml's privacy.keep_texts (bot/privacy.py) by default
LINKS_FOR = timedelta(days=1)  # past its 10 minutes, a link is kept a day: "already used" reads better than "unknown"
CHUNK = 5000

_seen = SeenEvent.__table__
_outbox = OutboxMessage.__table__
_message_days = MessageDay.__table__
_links = ConsoleLink.__table__
_sessions = ConsoleSession.__table__


@dataclass(frozen=True)
class KeptTexts:
    """Columns of a table holding what a member typed, and the column saying when it was written."""

    table: Table
    at: str
    columns: tuple[str, ...]


TEXTS: list[KeptTexts] = []


def keeps_texts(table: Table, at: str, *columns: str) -> None:
    """Declare columns of what members typed (beside the table, as handlers/moderation/log.py does): pruning
    blanks them after `privacy.keep_texts` and `qunguan forget` at once."""
    TEXTS.append(KeptTexts(table, at, columns))


async def prune(store: Store, now: datetime, keep_texts: timedelta = KEEP_TEXTS) -> int:
    """Delete what is past keeping and blank old texts; returns how many rows went or were blanked."""
    old_events = _seen.c.at < now - SEEN_FOR
    old_messages = and_(_outbox.c.state.in_(FINISHED), _outbox.c.created_at < now - OUTBOX_FOR)
    removed = await _delete(store, _seen, old_events) + await _delete(store, _outbox, old_messages)
    stamp = now.timestamp()  # the console's tables keep Unix seconds of the bot's Clock
    removed += await _delete(store, _links, _links.c.expires < stamp - LINKS_FOR.total_seconds())
    removed += await _delete(store, _sessions, _sessions.c.expires < stamp)
    removed += await _blank_texts(store, now - keep_texts)
    return removed + await _delete_days(store, (now - MESSAGE_DAYS_FOR).date())


async def _blank_texts(store: Store, before: datetime) -> int:
    blanked = 0
    for kept in TEXTS:
        table = kept.table
        filled = or_(*(table.c[name].is_not(None) for name in kept.columns))
        async with store.unit() as conn:
            done = await conn.execute(
                update(table).where(table.c[kept.at] < before, filled).values({name: None for name in kept.columns})
            )
        blanked += done.rowcount
    return blanked


async def _delete(store: Store, table: Table, old: ColumnElement[bool]) -> int:
    (key,) = table.primary_key.columns  # every table pruned here has a one-column key
    removed = 0
    while True:
        async with store.unit() as conn:
            ids = [row[0] for row in await conn.execute(select(key).where(old).limit(CHUNK))]
            if ids:
                await conn.execute(delete(table).where(key.in_(ids)))
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
