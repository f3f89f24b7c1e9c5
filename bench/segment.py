"""A segment query over a big membership, timed in a fresh process so its peak RSS is the query's own.

`python -m bench.segment DB NOW MODE [NAME]` opens the database with the bot's Store, builds the query of the
segment NAME (one of SEGMENTS, default `dormant`) with handlers.segments.segment_query and prints time and peak
RSS as JSON. MODE `count` counts the segment (every member is judged, nothing is held); `rows` fetches the whole
segment as (id, name) rows. DB is a SQLite file or a PostgreSQL URL.

`pg_group`: the same query on a PostgreSQL copy of the same members (bench/pg.py: COPY from the SQLite build, then
VACUUM ANALYZE, as autovacuum would after a bulk load). A full-size copy is kept as a pg_dump under bench/results/
(git-ignored) with the `now` it was built for, and restored on the next run; delete it to build again.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import pg, proc

if TYPE_CHECKING:
    from bench.runner import Collector

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


def measure(db: Path | str, now: datetime, mode: str, name: str = "dormant", timeout: float = 600) -> dict[str, Any]:
    return proc.run_json(["-m", "bench.segment", str(db), now.isoformat(), mode, name], timeout=timeout)


def pg_database(
    server: pg.Server, folder: Path, members: int, seed: int, *, cache: bool
) -> tuple[str, datetime, dict[str, Any]]:
    """The members on the server as database `segment` (restored from the cached dump of this size, or built) and
    the `now` they were generated for."""
    from bench.workload import create_database, fill_customers, fill_members  # not in the measuring child

    dump = pg.CACHE / f"segment-pg-{members}-{seed}.dump"
    about = dump.with_suffix(".json")
    if cache and dump.exists() and about.exists():
        start = time.perf_counter()
        url = server.restore(dump, "segment")
        asyncio.run(pg.up_to_date(url))
        found = {**json.loads(about.read_text()), "restore_seconds": round(time.perf_counter() - start, 1)}
        return url, datetime.fromisoformat(found["now"]), found
    now = datetime.now(UTC).replace(microsecond=0)
    start = time.perf_counter()
    db = folder / f"segment-pg-{members}.db"
    asyncio.run(create_database(db))
    counts = fill_members(db, members, now=now, seed=seed) | fill_customers(db, members, now=now, seed=seed)
    url = server.create("segment")
    counts |= {f"copied_{k}": v for k, v in asyncio.run(pg.copy_sqlite(db, url)).items()}
    server.analyze("segment")
    db.unlink()
    found = {"now": now.isoformat(), "counts": counts, "build_seconds": round(time.perf_counter() - start, 1)}
    if cache:
        dump.parent.mkdir(parents=True, exist_ok=True)
        server.dump("segment", dump)
        about.write_text(json.dumps(found))
    return url, now, found


def pg_group(c: Collector, folder: Path) -> None:
    s = c.sizes
    seg = f"lifecycle: dormant, not_nudged_days: 30, {s.segment_members:,} members"
    count = c.row("segment_pg_count", f"segment query ({seg}) on PostgreSQL: count", "s", higher_is_better=False)
    rows = c.row("segment_pg_rows", "segment query on PostgreSQL: fetch the whole segment", "s", higher_is_better=False)
    c.say(f"segment_pg: starting a PostgreSQL server and loading {s.segment_members:,} members")
    try:
        server = pg.Server.start()
    except Exception as exc:
        count.error = rows.error = f"no PostgreSQL server: {exc}"
        return
    try:
        url, now, built = pg_database(server, folder, s.segment_members, c.seed, cache=s.name == "full")
        count.detail["database"] = built
        for run in range(c.runs):
            c.say(f"segment_pg: queries in fresh processes, run {run + 1}/{c.runs}")
            for mode, row in (("count", count), ("rows", rows)):
                result = measure(url, now, mode)
                if "error" in result:
                    row.error = result["error"]
                    continue
                row.samples.append(result["seconds"])
                row.detail.setdefault("runs", []).append(result)
    except Exception as exc:
        count.error = rows.error = f"{type(exc).__name__}: {exc}"
    finally:
        server.stop()


if __name__ == "__main__":
    _db, _now, _mode = sys.argv[1:4]
    _name = sys.argv[4] if len(sys.argv) > 4 else "dormant"
    result = asyncio.run(_query(_db, datetime.fromisoformat(_now), _mode, _name))
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))
