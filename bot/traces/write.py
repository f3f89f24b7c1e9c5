"""Writing an event's traces in the event's own transaction: one INSERT of all its rows, or with a batch's other
events' rows before its commit (`later`, bot/store/deferred.py). A rolled-back event leaves none."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.console.tables import Trace
from bot.events import Event
from bot.store import hot
from bot.store.deferred import Deferred
from bot.traces.recorder import Recorder

MAX_TEXT = 2000  # characters of the member's message a trace keeps
# json.dumps(steps, ensure_ascii=False, default=str) with its encoder built once, not once per run: the same bytes
_STEPS = json.JSONEncoder(ensure_ascii=False, default=str).encode

_INSERT = hot.insert(
    "trace",
    Trace.__table__,
    ["at", "event_key", "kind", "room_id", "member_id", "text", "stage", "name", "outcome", "summary", "steps"],
)


async def write(
    conn: AsyncConnection, event: Event, now: datetime, recorder: Recorder, *, later: Deferred | None = None
) -> None:
    if not recorder.runs:
        return
    room, member = event.room, event.member
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
            "steps": _STEPS(run.steps_json()),
        }
        for run in recorder.runs
    ]
    if later is not None:
        later.add(_INSERT, rows)
    else:
        await hot.executemany(conn, _INSERT, rows)
