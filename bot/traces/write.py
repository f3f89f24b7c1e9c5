"""Writing an event's traces in the event's own transaction: one multi-row INSERT when it reached a stage, one
counter (`trace_counts`, per local day and room) when it did not. A rolled-back event leaves neither."""

from __future__ import annotations

import functools
import json
from datetime import date, datetime

from sqlalchemy import Insert, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console.tables import Trace, TraceCount
from bot.events import Event
from bot.traces.recorder import Recorder

MAX_TEXT = 2000  # characters of the member's message a trace keeps

_traces = Trace.__table__
_counts = TraceCount.__table__


async def write(conn: AsyncConnection, event: Event, now: datetime, day: date, recorder: Recorder) -> None:
    room = event.room
    if not recorder.runs:
        await conn.execute(_counted(conn.dialect.name), {"day": day, "room_id": room.id if room else ""})
        return
    member = event.member
    text = getattr(event, "text", "") if event.kind == "message" else ""
    common = {
        "at": now,
        "event_key": event.id,
        "kind": event.kind,
        "room_id": room.id if room else None,
        "member_id": member.id if member else None,
        "text": text[:MAX_TEXT],
    }
    rows = [
        {
            **common,
            "stage": run.stage,
            "name": run.name,
            "outcome": run.outcome,
            "summary": run.summary,
            "steps": json.dumps(run.steps_json(), ensure_ascii=False, default=str),
        }
        for run in recorder.runs
    ]
    await conn.execute(insert(_traces).values(rows))


@functools.cache
def _counted(dialect_name: str) -> Insert:
    """The chatter counter's upsert, built once per backend (building costs more than running it)."""
    module = postgresql if dialect_name == "postgresql" else sqlite
    stmt = module.insert(_counts).values(day=bindparam("day"), room_id=bindparam("room_id"), events=1)
    return stmt.on_conflict_do_update(index_elements=["day", "room_id"], set_={"events": _counts.c.events + 1})
