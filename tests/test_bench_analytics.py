"""The analytics bench's code path at a tiny size: the database it builds holds the events it says, and each
figure the console's dashboard reads runs on it. Speed is never judged here (`python -m bench --only analytics`
is run by hand)."""

from __future__ import annotations

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
