"""The analytics bench's code path at a tiny size: the database it builds holds the events it says, and each
figure the console's dashboard reads runs on it. Speed is never judged here (`python -m bench --only analytics`
is run by hand)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import analytics  # noqa: E402


def test_the_big_shop_is_built_and_every_dashboard_figure_reads_it(tmp_path: Path) -> None:
    db, now, built = analytics.build(tmp_path, 2_000, 20_000, 7, cache=False)
    counts = built["counts"]
    assert counts["members"] == 2_000 and 19_000 <= counts["events"] <= 20_000
    assert all(counts[table] > 0 for table in analytics.SHARES)
    found = {name: analytics.figure(str(db), now, name)["result"] for name in analytics.FIGURES}
    assert found["stats"] > found["stats_room"] > 0  # one group of 20 has fewer events than all of them
    assert 0 < found["funnel"] < 2_000 and 0 < found["cohorts"] < 2_000
    assert found["nudges"][0] > 0  # winback and reactivation both nudged someone
    assert not db.is_relative_to(analytics.CACHE)  # only a full-size build is kept


def test_a_cached_build_gets_the_indexes_added_since_it_was_built(tmp_path: Path) -> None:
    db, _now, _built = analytics.build(tmp_path, 200, 2_000, 7, cache=False)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX ix_room_members_joins")  # as a build made before the index was declared
    analytics._up_to_date(db)
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE name = 'ix_room_members_joins'").fetchall()
    assert found == [("ix_room_members_joins",)]
