"""A segment query over a big membership, timed in a fresh process so its peak RSS is the query's own.

`python -m bench.segment DB NOW MODE [NAME]` opens the database with the bot's Store, builds the query of the
segment NAME (one of SEGMENTS, default `dormant`) with handlers.segments.segment_query and prints time and peak
RSS as JSON. MODE `count` counts the segment (every member is judged, nothing is held); `rows` fetches the whole
segment as (id, name) rows.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import proc

SEGMENTS: dict[str, dict[str, Any]] = {
    "dormant": {"lifecycle": "dormant", "not_nudged_days": 30},
    "birthday": {"birthday": "today"},
    "rfm": {"rfm": "重要价值用户"},
}


async def _query(db: str, now: datetime, mode: str, name: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bot.config import Config
    from bot.registry import load_abilities
    from bot.store import Store
    from handlers.segments import Segment, SegmentScope, segment_query

    load_abilities()  # the SQL of birthday and rfm is declared by their abilities
    store = await Store.open(db)
    try:
        query = segment_query(Segment.model_validate(SEGMENTS[name]), scope=SegmentScope.at(now, Config()))
        async with store.unit() as conn:
            start = time.perf_counter()
            if mode == "count":
                found = await conn.scalar(select(func.count()).select_from(query.subquery())) or 0
            else:
                found = len((await conn.execute(query)).all())
            elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return {"seconds": elapsed, "members": found}


def _peak_rss_mb() -> float:
    """ru_maxrss is in KiB on Linux (bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(db: Path, now: datetime, mode: str, name: str = "dormant", timeout: float = 600) -> dict[str, Any]:
    return proc.run_json(["-m", "bench.segment", str(db), now.isoformat(), mode, name], timeout=timeout)


if __name__ == "__main__":
    _db, _now, _mode = sys.argv[1:4]
    _name = sys.argv[4] if len(sys.argv) > 4 else "dormant"
    result = asyncio.run(_query(_db, datetime.fromisoformat(_now), _mode, _name))
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))
