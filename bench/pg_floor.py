"""The PostgreSQL floor: a known member's first check-in, its own statements only (bot/store/activity.py,
handlers/checkin.py, as the bot prepares them) on asyncpg, with no bot around them, on a copy of the bench's members.

One by one, as the bot sends them, each a round trip: the event's savepoint, the seen mark with the member's row,
the day's count and the membership, the playbook run's savepoint, the check-in with its points and ledger entry.
Pipelined: the same two statements for a whole batch, each sent for every event at once (asyncpg's `fetchmany`),
with no savepoints. The first bounds what the bot's design can reach on the bench's server; the second, what
sending a batch's statements together would. Both commit a batch at a time, as the bot does (bot/intake.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bot.intake import BATCH
from bot.store.activity import _SEEN_TOUCH
from handlers.checkin import _FUSED

# What bot/store/savepoint.py says to the server: an event's savepoint (with the one before it released), and a
# playbook run's inside it.
_EVENT = "RELEASE SAVEPOINT q1; SAVEPOINT q1"
_RUN = "SAVEPOINT q2"


def _arguments(members: list[asyncpg.Record], now: datetime) -> list[tuple[list[Any], list[Any]]]:
    """Per event, the two statements' positional arguments, as the bot would bind them."""
    today = now.date()
    seen_names, checkin_names = _SEEN_TOUCH.positional()[1], _FUSED.positional()[1]
    found = []
    for n, (member, name, room) in enumerate(members):
        seen = {
            **{"id": f"floor-{n}", "at": now, "account": None, "member": member, "name": name, "friend": None},
            **{"active": True, "counts": True, "day": today, "present": True, "room": room, "first_room": room},
        }
        checkin = {
            **{"member_id": member, "today": today, "yesterday": today - timedelta(days=1), "points": 5},
            **{"bonus_days": [], "bonus_points": [], "at": now, "reason": "签到", "playbook_id": "checkin"},
        }
        found.append(([seen[k] for k in seen_names], [checkin[k] for k in checkin_names]))
    return found


async def check_ins(url: str, events: int, *, pipelined: bool) -> tuple[float, dict[str, int]]:
    """Events a second, and what the database then holds (check-ins and ledger entries, one each per event)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        members = await conn.fetch(
            "SELECT m.id, m.name, r.room_id FROM members m JOIN room_members r ON r.member_id = m.id"
            " WHERE m.name <> '' ORDER BY m.id LIMIT $1",
            events,
        )
        calls = _arguments(list(members), datetime.now(UTC))
        seen_sql, checkin_sql = _SEEN_TOUCH.positional()[0], _FUSED.positional()[0]
        seen, checkin = await conn.prepare(seen_sql), await conn.prepare(checkin_sql)
        start = time.perf_counter()
        for first in range(0, len(calls), BATCH):
            batch = calls[first : first + BATCH]
            async with conn.transaction():
                if pipelined:
                    await conn.fetchmany(seen_sql, [s for s, _c in batch])
                    await conn.fetchmany(checkin_sql, [c for _s, c in batch])
                    continue
                await conn.execute("SAVEPOINT q1")
                for n, (s, c) in enumerate(batch):
                    if n:
                        await conn.execute(_EVENT)
                    await seen.fetch(*s)
                    await conn.execute(_RUN)
                    await checkin.fetch(*c)
        elapsed = time.perf_counter() - start
        counts = {
            "events": len(calls),
            "checkin_rows": await conn.fetchval("SELECT count(*) FROM checkins"),
            "ledger_rows": await conn.fetchval("SELECT count(*) FROM points_ledger"),
        }
    finally:
        await conn.close()
    if not counts["events"] == counts["checkin_rows"] == counts["ledger_rows"]:
        raise RuntimeError(f"not one check-in and one ledger entry per event: {counts}")
    return len(calls) / elapsed, counts
