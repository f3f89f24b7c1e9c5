"""The bench's PostgreSQL rows at a tiny size: the full path with one process and with three (one account each, on
disjoint groups of one database), its statements alone (one by one and pipelined), and the segment query on a
PostgreSQL copy of the members, cached as a dump.

Speed is never judged here (`python -m bench --only fleet,segment_pg` is run by hand).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from backends import missing
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import cli, pg, segment  # noqa: E402
from bench.workload import create_database, fill_members  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def binaries() -> None:
    """Skipped on a developer's machine without PostgreSQL; fails under CI=true."""
    try:
        pg.bindir()
    except pg.Unavailable as exc:
        missing(str(exc))


@pytest.fixture
def server(binaries: None) -> Iterator[pg.Server]:
    started = pg.Server.start()
    yield started
    started.stop()


@pytest.mark.usefixtures("binaries")
def test_a_tiny_run_measures_one_and_three_processes_and_the_segment_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    screen = io.StringIO()
    cli.run(
        cli.parse(["--tiny", "--runs", "1", "--json", str(out), "--only", "fleet,segment_pg"]),
        Console(file=screen, width=250),
    )

    rows = {r["id"]: r for r in json.loads(out.read_text("utf-8"))["rows"]}
    measured = ("pg_row_commit", "pg_path_1", "pg_path_3", "pg_path_1_async", "pg_floor", "pg_floor_pipelined")
    for key in (*measured, "segment_pg_count", "segment_pg_rows"):
        assert rows[key]["error"] is None and len(rows[key]["samples"]) == 1 and rows[key]["median"] > 0, rows[key]
    (one,) = rows["pg_path_1"]["detail"]["runs"]
    (three,) = rows["pg_path_3"]["detail"]["runs"]
    (lazy,) = rows["pg_path_1_async"]["detail"]["runs"]
    assert (one["synchronous_commit"], three["synchronous_commit"], lazy["synchronous_commit"]) == ("on", "on", "off")
    assert list(one["per_process"]) == ["default"]
    assert sorted(three["per_process"]) == ["shop-a", "shop-b", "shop-c"]
    assert all(n > 0 for n in three["per_process"].values())
    assert three["outbox_by_account"] == three["per_process"]  # each account speaks for its own groups
    assert one["outbox_by_account"] == {"default": one["events"]}
    for run in (one, three, lazy):  # every event of every process committed its reply, check-in and ledger entry
        assert run["events"] == run["outbox_rows"] == run["checkin_rows"] == run["ledger_rows"] > 0
    assert isinstance(rows["pg_path_3"]["ratio"], float)  # three processes against one
    for key in ("pg_floor", "pg_floor_pipelined"):  # the statements alone wrote one check-in and entry per event
        (floor,) = rows[key]["detail"]["runs"]
        assert floor["events"] == floor["checkin_rows"] == floor["ledger_rows"] > 0, floor
    assert isinstance(rows["pg_floor_pipelined"]["ratio"], float)  # pipelined against one by one
    (count,) = rows["segment_pg_count"]["detail"]["runs"]
    (fetched,) = rows["segment_pg_rows"]["detail"]["runs"]
    assert 0 < count["members"] == fetched["members"] < 2_000
    table = screen.getvalue()
    for label in ("full path on PostgreSQL, 1 process", "full path on PostgreSQL, 3 processes", "on PostgreSQL: count"):
        assert label in table


def test_copied_members_leave_the_bot_room_to_insert_after_the_copied_ids(tmp_path: Path, server: pg.Server) -> None:
    db = tmp_path / "members.db"
    asyncio.run(create_database(db))
    filled = fill_members(db, 500, now=datetime.now(UTC), seed=7)
    url = server.create("copy")
    copied = asyncio.run(pg.copy_sqlite(db, url))
    assert copied["members"] == 500 and copied["nudges"] == filled["nudges"] > 0

    async def insert_nudge() -> int:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return await conn.fetchval(
                "INSERT INTO nudges (member_id, playbook_id, holdout, at) VALUES ('m', 'p', false, now()) RETURNING id"
            )
        finally:
            await conn.close()

    assert asyncio.run(insert_nudge()) == filled["nudges"] + 1


def test_the_segment_database_is_dumped_once_and_restored_with_its_now_and_the_same_answer(
    tmp_path: Path, server: pg.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg, "CACHE", tmp_path / "results")
    url, now, built = segment.pg_database(server, tmp_path, 2_000, 7, cache=True)
    first = segment.measure(url, now, "count")
    assert (tmp_path / "results" / "segment-pg-2000-7.dump").exists() and "build_seconds" in built
    server.drop("segment")

    url, again, restored = segment.pg_database(server, tmp_path, 2_000, 7, cache=True)
    assert again == now and "restore_seconds" in restored
    assert segment.measure(url, again, "count")["members"] == first["members"] > 0
