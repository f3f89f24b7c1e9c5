"""Rows the bot no longer needs: event ids kept to drop redeliveries, finished outbox messages, members'
message counts of days long past, a fleet's schedule fires (bot/fleet/fires.py), the console's login links and
sessions past their time, and traces beyond the newest `traces.keep` of each playbook (command, rule, window);
and what members typed, blanked (the row stays) after `privacy.keep_texts`.

They grow by a row per event, message or member and day; a busy shop would carry millions after a year.
Deleted in chunks (a day of message counts at a time), each its own short transaction, so events keep flowing
in between.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Table, and_, delete, func, or_, select, update

from bot.console.tables import ConsoleLink, ConsoleSession, Trace, TraceCount
from bot.fleet.tables import ScheduleFire
from bot.store.database import Store
from bot.store.tables import MessageDay, OutboxMessage, SeenEvent
from bot.traces.config import KEEP

SEEN_FOR = timedelta(days=30)  # platforms redeliver within minutes or hours; a month is ample
OUTBOX_FOR = timedelta(days=90)  # finished messages stay a while for "did the bot send it?" questions
MESSAGE_DAYS_FOR = timedelta(days=90)  # member.messages_30d reads 30; a margin for a longer window later
FINISHED = ("sent", "failed", "expired", "unknown")  # never pending or sending: those still have work to do
KEEP_TEXTS = timedelta(days=30)  # config.yaml's privacy.keep_texts (bot/privacy.py) by default
LINKS_FOR = timedelta(days=1)  # past its 10 minutes, a link is kept a day: "already used" reads better than "unknown"
CHUNK = 5000

_seen = SeenEvent.__table__
_fires = ScheduleFire.__table__
_outbox = OutboxMessage.__table__
_message_days = MessageDay.__table__
_links = ConsoleLink.__table__
_sessions = ConsoleSession.__table__
_traces = Trace.__table__
_trace_counts = TraceCount.__table__


@dataclass(frozen=True)
class KeptTexts:
    """Columns of a table holding what a member typed, and the column saying when it was written."""

    table: Table
    at: str
    columns: tuple[str, ...]

    def blank(self) -> dict[str, str | None]:
        """What a blanked text holds: NULL, or "" in a column that may not be NULL (traces.text)."""
        return {name: None if self.table.c[name].nullable else "" for name in self.columns}

    def filled(self) -> ColumnElement[bool]:
        return or_(
            *(
                self.table.c[name] != blank if blank is not None else self.table.c[name].is_not(None)
                for name, blank in self.blank().items()
            )
        )


TEXTS: list[KeptTexts] = []


def keeps_texts(table: Table, at: str, *columns: str) -> None:
    """Declare columns of what members typed (beside the table, as handlers/moderation/log.py does): pruning
    blanks them after `privacy.keep_texts` and `qunguan forget` at once."""
    TEXTS.append(KeptTexts(table, at, columns))


keeps_texts(_traces, "at", "text")


async def prune(store: Store, now: datetime, keep_texts: timedelta = KEEP_TEXTS, keep_traces: int = KEEP) -> int:
    """Delete what is past keeping and blank old texts; returns how many rows went or were blanked."""
    old_events = _seen.c.at < now - SEEN_FOR
    old_messages = and_(_outbox.c.state.in_(FINISHED), _outbox.c.created_at < now - OUTBOX_FOR)
    removed = await _delete(store, _seen, old_events) + await _delete(store, _outbox, old_messages)
    async with store.unit() as conn:  # a fire's key need only outlive the scheduler's catch-up of a missed time
        removed += (await conn.execute(delete(_fires).where(_fires.c.due_at < now - SEEN_FOR))).rowcount
    stamp = now.timestamp()  # the console's tables keep Unix seconds of the bot's Clock
    removed += await _delete(store, _links, _links.c.expires < stamp - LINKS_FOR.total_seconds())
    removed += await _delete(store, _sessions, _sessions.c.expires < stamp)
    removed += await _blank_texts(store, now - keep_texts)
    removed += await _prune_traces(store, keep_traces, (now - MESSAGE_DAYS_FOR).date())
    return removed + await _delete_days(store, (now - MESSAGE_DAYS_FOR).date())


async def _blank_texts(store: Store, before: datetime) -> int:
    blanked = 0
    for kept in TEXTS:
        table = kept.table
        async with store.unit() as conn:
            done = await conn.execute(
                update(table).where(table.c[kept.at] < before, kept.filled()).values(kept.blank())
            )
        blanked += done.rowcount
    return blanked


async def _prune_traces(store: Store, keep: int, counts_before: date) -> int:
    """Each playbook's (command's, rule's, window's) newest `keep` traces stay; chatter counts go with the message
    counts' days."""
    named = (_traces.c.stage, _traces.c.name)
    async with store.unit() as conn:
        crowded = (await conn.execute(select(*named).group_by(*named).having(func.count() > keep))).all()
        removed = (await conn.execute(delete(_trace_counts).where(_trace_counts.c.day < counts_before))).rowcount
    for stage, name in crowded:
        mine = and_(_traces.c.stage == stage, _traces.c.name == name)
        async with store.unit() as conn:
            newest = select(_traces.c.id).where(mine).order_by(_traces.c.id.desc())
            cutoff = (await conn.execute(newest.offset(keep).limit(1))).scalar()
        if cutoff is not None:
            removed += await _delete(store, _traces, and_(mine, _traces.c.id <= cutoff))
    return removed


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
