"""The statement floor (bench/floor.py) at a tiny size: the replay does the full path's work on its own copy of the
database (every check-in and ledger row the bot wrote, written again), so its rate is that of the real statements.

Speed itself is never judged here (`python -m bench --profile` is run by hand)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import floor, fullpath  # noqa: E402

EVENTS = 30


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def _record(template: Path) -> list[floor.Recorded]:
    async with fullpath.session(fullpath.load_playbooks(5), template, seed=1) as s:
        with floor.recording(s.bot.store.engine) as statements:
            await fullpath.drive(s, EVENTS)
    return statements


def test_the_replay_writes_every_check_in_and_ledger_row_the_bot_wrote_in_the_same_transactions(
    tmp_path: Path,
) -> None:
    template = asyncio.run(fullpath.make_template(tmp_path, 200, seed=1))
    statements = asyncio.run(_record(template))
    kinds = [sql.split()[0] for _kind, sql, _rows, _fetch in statements]
    assert kinds.count("BEGIN") >= 1 and kinds.count("BEGIN") == kinds.count("COMMIT")
    copy = tmp_path / "copy.db"
    shutil.copyfile(template, copy)
    before = _count(copy, "checkins"), _count(copy, "points_ledger"), _count(copy, "outbox")

    spent = floor.replay(copy, statements)

    after = _count(copy, "checkins"), _count(copy, "points_ledger"), _count(copy, "outbox")
    assert [b + EVENTS for b in before] == list(after)  # one check-in, ledger entry and reply per event
    assert {"INSERT INTO checkins", "INSERT INTO points_ledger", "INSERT INTO outbox"} <= set(spent)
