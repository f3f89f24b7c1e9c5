"""The console's analytics on a big shop: the dashboard's figures (30 days, all groups and one group), the
funnel, cohort retention and nudges vs holdout, each timed in a fresh process so its peak RSS is its own.

The database: the members of `fill_members` (joined up to a year ago, nudged) and their events written with
one INSERT ... SELECT over a recursive counter per table (no Python per row): message days in the last 90 days,
check-ins over a year, coupons (40% redeemed), a quiz or a drop a day in each group with entries, and sent
messages (5% held five minutes, 2% expired). A full-size build is kept under bench/results/ (git-ignored),
named by its size, and reused (brought up to the current schema's tables and indexes first).

`python -m bench.analytics DB NOW FIGURE` prints {"seconds", "peak_rss_mb", "result"} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import proc
from bench.report import Target
from bench.segment import _peak_rss_mb
from bench.workload import ROOMS, create_database, fill_members, room, sql_time

if TYPE_CHECKING:
    from bench.runner import Collector

CACHE = Path(__file__).resolve().parent / "results"
FIGURES = {
    "stats": "dashboard, 30 days, all groups",
    "stats_room": "dashboard, 30 days, one group",
    "funnel": "funnel, joined in 30 days",
    "cohorts": "cohort retention, 8 weeks",
    "nudges": "nudges vs holdout, 90 days",
}
# Shares of the events beyond joins and `fill_members`'s nudges.
SHARES = {"message_days": 0.5, "checkins": 0.34, "coupons": 0.06, "window_entries": 0.04, "outbox": 0.06}
COUNTER = "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < :n - 1) "
MEMBER = "printf('wxid_%07d', {})"
AGO = "strftime('%Y-%m-%d %H:%M:%S', :now, '-' || ({}) || ' seconds') || '.000000'"


def _fill_events(path: Path, members: int, events: int, now: datetime) -> dict[str, int]:
    conn = sqlite3.connect(path)
    rest = events - members * 13 // 10  # joins, and the nudges: fill_members (0.2 per member) and ours (0.1)
    n = {table: int(rest * share) for table, share in SHARES.items()}
    now_text, today = now.strftime("%Y-%m-%d %H:%M:%S"), now.strftime("%Y-%m-%d")
    year = 365 * 86400
    statements = {
        "message_days": "INSERT OR IGNORE INTO message_days (member_id, day, messages) "
        f"SELECT {MEMBER.format('x * :m / :n')}, date(:today, '-' || ((x * 7 + x * :m / :n * 13) % 90) || ' days'),"
        " 1 + x % 5 FROM c",
        "checkins": "INSERT OR IGNORE INTO checkins (member_id, day, streak, points, at) "
        f"SELECT {MEMBER.format('x * :m / :n')}, d, 1, 5, d || ' 04:00:00.000000' FROM "
        "(SELECT x, date(:today, '-' || ((x * 11 + x * :m / :n * 17) % 365) || ' days') AS d FROM c)",
        "coupons": "INSERT INTO coupons (code, batch_id, title, member_id, seq, issued_at, playbook_id, redeemed_at) "
        f"SELECT printf('C%09d', x), 'b' || (x % 10), '券', {MEMBER.format('(x * 7919) % :m')}, x, at, '', "
        f"CASE WHEN x % 5 < 2 AND at < :late THEN {AGO.format(f'(x * 2654435761) % {year} - 86400')} END "
        f"FROM (SELECT x, {AGO.format(f'(x * 2654435761) % {year}')} AS at FROM c)",
        "window_entries": "INSERT OR IGNORE INTO window_entries (window_id, member_id, outcome, rank, at) "
        f"SELECT w.id, {MEMBER.format('(x * 104729) % :m')}, CASE WHEN x % 10 = 0 THEN 'won' ELSE 'late' END, x,"
        " w.opened_at FROM c JOIN windows w ON w.id = 1 + x % :windows",
        "outbox": "INSERT INTO outbox (dedup_key, kind, priority, event_id, playbook_id, room_id, room_topic,"
        " member_name, mentions, invite, text, created_at, not_before, state, attempts, sent_at) "
        "SELECT 'bench-' || x, 'notice', 1, 'e' || x, '', printf('room-%02d@chatroom', x % :rooms), '', '', '[]',"
        " 0, '',"
        " at, at, CASE WHEN x % 50 = 0 THEN 'expired' ELSE 'sent' END, 1, CASE WHEN x % 50 = 0 THEN NULL "
        "WHEN x % 20 = 0 THEN strftime('%Y-%m-%d %H:%M:%S', at, '+300 seconds') || '.000000' ELSE at END "
        f"FROM (SELECT x, {AGO.format(f'(x * 2246822519) % {year}')} AS at FROM c)",
    }
    late = sql_time(now - timedelta(days=1))
    counts: dict[str, int] = {}
    try:
        conn.execute("PRAGMA synchronous=OFF")
        windows = [
            (k, "quiz" if day % 2 else "claim", room(r).id, "bench", sql_time(now - timedelta(days=day, hours=r)))
            for k, (day, r) in enumerate(((d, r) for d in range(365) for r in range(ROOMS)), start=1)
        ]
        conn.executemany(
            "INSERT INTO windows (id, kind, room_id, playbook_id, opened_at, closes_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?, '{}')",
            [(*w, w[-1]) for w in windows],
        )
        extra = max(members // 10, 1)
        conn.execute(
            COUNTER + "INSERT INTO nudges (member_id, playbook_id, holdout, at) "
            f"SELECT {MEMBER.format('(x * 31) % :m')}, 'winback', x % 10 = 0,"
            f" {AGO.format('(x * 3266489917) % 5184000')} FROM c",
            {"n": extra, "m": members, "now": now_text},
        )
        for table, statement in statements.items():
            params = {"n": n[table], "m": members, "now": now_text, "today": today, "late": late}
            conn.execute(COUNTER + statement, {**params, "windows": len(windows), "rooms": ROOMS})
            counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        conn.commit()
        counts["nudges"] = conn.execute("SELECT count(*) FROM nudges").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return counts


def build(folder: Path, members: int, events: int, seed: int, *, cache: bool) -> tuple[Path, datetime, dict[str, Any]]:
    """The database (built, or the cached one of this size) and the `now` it was built for."""
    db = (CACHE if cache else folder) / f"analytics-{members}-{events}-{seed}.db"
    about = db.with_suffix(".json")
    if cache and db.exists() and about.exists():
        found = json.loads(about.read_text())
        _up_to_date(db)
        return db, datetime.fromisoformat(found["now"]), found
    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in (db, about, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    start = time.perf_counter()
    asyncio.run(create_database(db))
    counts = fill_members(db, members, now=now, seed=seed)
    counts |= _fill_events(db, members, events, now)
    counts["events"] = counts["room_members"] + sum(counts[t] for t in ("nudges", *SHARES))
    found = {"now": now.isoformat(), "counts": counts, "build_seconds": round(time.perf_counter() - start, 1)}
    about.write_text(json.dumps(found))
    return db, now, found


def _up_to_date(db: Path) -> None:
    """A cached build gets the tables and indexes added since it was built (as a schema step would), so the
    figures are timed against today's schema."""
    from sqlalchemy import create_engine

    from bot.store.migrations import add_missing

    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            add_missing(conn)
    finally:
        engine.dispose()


def figure(db: str, now: datetime, name: str) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from bot.analytics.cohorts import cohorts
    from bot.analytics.daily import daily
    from bot.analytics.funnel import funnel
    from bot.analytics.nudges import effects
    from bot.config import Config
    from bot.registry import load_abilities

    load_abilities()  # abilities declare the tables the figures read
    tz = Config().tz
    engine = create_engine(f"sqlite:///file:{db}?mode=ro&uri=true", connect_args={"uri": True})
    figures = {
        "stats": lambda conn: sum(map(sum, daily(conn, now, tz, 30).series.values())),
        "stats_room": lambda conn: sum(map(sum, daily(conn, now, tz, 30, [room(0).id]).series.values())),
        "funnel": lambda conn: funnel(conn, now - timedelta(days=30), now).joined,
        "cohorts": lambda conn: sum(c.members for c in cohorts(conn, now, tz, 8)),
        "nudges": lambda conn: [e.nudged for e in effects(conn, now - timedelta(days=90))],
    }
    with engine.connect() as conn:
        start = time.perf_counter()
        result = figures[name](conn)
        elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "result": result}


def group(c: Collector, folder: Path) -> None:
    s = c.sizes
    size = f"{s.analytics_members:,} members, {s.analytics_events:,} events"
    rows = {
        k: c.row(f"analytics_{k}", f"{label} ({size})", "s", target=Target("<=", 1)) for k, label in FIGURES.items()
    }
    rss = c.row("analytics_rss", "analytics: peak RSS of a fresh process (the largest)", "MB", target=Target("<=", 300))
    for row in (*rows.values(), rss):
        row.higher_is_better = False
    c.say(f"analytics: building (or reusing) {size}")
    try:
        db, now, built = build(folder, s.analytics_members, s.analytics_events, c.seed, cache=s.name == "full")
    except Exception as exc:
        for row in (*rows.values(), rss):
            row.error = f"database not built: {exc}"
        return
    rss.detail["database"] = built
    for run in range(c.runs):
        c.say(f"analytics: figures in fresh processes, run {run + 1}/{c.runs}")
        peak = 0.0
        for name, row in rows.items():
            result = proc.run_json(["-m", "bench.analytics", str(db), now.isoformat(), name], timeout=600)
            if "error" in result:
                row.error = result["error"]
                continue
            row.samples.append(result["seconds"])
            row.detail.setdefault("runs", []).append(result)
            peak = max(peak, result["peak_rss_mb"])
        rss.samples.append(peak)


if __name__ == "__main__":
    _db, _now, _name = sys.argv[1:4]
    measured = figure(_db, datetime.fromisoformat(_now), _name)
    measured["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(measured))
