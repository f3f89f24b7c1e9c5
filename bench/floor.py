"""The statement floor: what SQLite alone takes for the full path's statements, with no bot around them.

The full path's statements (the hot ones with their parameters, savepoints, BEGIN and COMMIT) are recorded while
the real bot handles first check-ins, then replayed in the same order on a fresh copy of the same database through
the stdlib sqlite3 module, prepared, in the same transactions. The replay's rate is a ceiling no Python above it
can beat: the figure for what the schema and the statements per event cost, apart from the engine's own time.
Printed by `python -m bench --profile` with each statement's share.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.fullpath import drive, session, traced
from bot.playbook.library import PlaybookSet
from bot.store import hot, inline

Recorded = tuple[str, str, list[dict[str, Any]], bool]  # kind (one / many / raw), SQL, rows, fetch


@contextlib.contextmanager
def recording(engine: Any) -> Iterator[list[Recorded]]:
    """Every statement the SQLite driver runs while inside, in order: hot statements with their parameters (from
    bot/store/hot.py), savepoints (bot/store/inline.py), and the transaction's BEGIN and COMMIT (sqlite3's trace)."""
    found: list[Recorded] = []
    run_hot, run_raw = hot._sqlite, inline.InlineConnection._driver_sql

    def on_hot(conn: Any, statement: hot.Statement, rows: Any, fetch: bool) -> Any:
        found.append(("many" if len(rows) > 1 else "one", statement.sql, [dict(r) for r in rows], fetch))
        return run_hot(conn, statement, rows, fetch)

    def on_raw(self: inline.InlineConnection, sql: str) -> None:
        found.append(("raw", sql, [], False))
        run_raw(self, sql)

    def on_traced(sql: str) -> None:
        if sql.startswith(("BEGIN", "COMMIT")):
            found.append(("raw", sql, [], False))

    hot._sqlite, inline.InlineConnection._driver_sql = on_hot, on_raw  # type: ignore[assignment,method-assign]
    try:
        with traced(engine, on_traced):
            yield found
    finally:
        hot._sqlite, inline.InlineConnection._driver_sql = run_hot, run_raw  # type: ignore[method-assign]


def replay(database: Path, statements: list[Recorded]) -> dict[str, float]:
    """Seconds per kind of statement (its first three words), run on `database` as the bot ran them."""
    spent: dict[str, float] = defaultdict(float)
    connection = sqlite3.connect(database, isolation_level=None, cached_statements=512)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA temp_store=MEMORY")  # as the store's connections (bot/store/dialect.py)
        clock = time.perf_counter
        for kind, sql, rows, fetch in statements:
            start = clock()
            if kind == "many":
                connection.executemany(sql, rows)
            else:
                cursor = connection.execute(sql, rows[0]) if rows else connection.execute(sql)
                if fetch:
                    cursor.fetchall()
            spent[" ".join(sql.split()[:3])] += clock() - start
        if connection.in_transaction:
            connection.execute("COMMIT")
    finally:
        connection.close()
    return spent


async def statement_floor(playbooks: PlaybookSet, template: Path, seed: int, events: int) -> dict[str, Any]:
    """Events per second of the full path's statements replayed alone, and microseconds per event by statement."""
    async with session(playbooks, template, seed) as s:
        await drive(s, min(events, 50))  # warm: the first batch's one-time statements are not the path's
        with recording(s.bot.store.engine) as statements:
            await drive(s, events)
    with tempfile.TemporaryDirectory(prefix="qunguan-floor-") as tmp:
        copy = Path(tmp) / "floor.db"
        shutil.copyfile(template, copy)
        spent = replay(copy, statements)
    total = sum(spent.values())
    return {
        "events": events,
        "statements_per_event": round(sum(len(rows) or 1 for _k, _s, rows, _f in statements) / events, 2),
        "events_per_second": round(events / total) if total else 0,
        "us_per_event": {k: round(v / events * 1e6, 1) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])},
    }
