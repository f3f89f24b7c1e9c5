"""The bench's code paths at a tiny size: every figure gets a row with numbers, the table and the JSON agree.

Speed itself is never judged here (`python -m bench` is run by hand); these only keep the bench runnable.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import cli, compare, rivals  # noqa: E402
from bench.report import Row, Target  # noqa: E402
from bench.runner import Collector, judge  # noqa: E402
from bench.sizes import TINY  # noqa: E402

# Everything but the rivals: their child processes take seconds to start and may not be installed.
GROUPS = "baseline,path,latency,segment,startup"
small, main, large = TINY.playbook_counts
MEASURED = {
    "noio",
    "sqlite_row_commit",
    "aiosqlite_row_commit",
    "sqlmodel_row_commit",
    "aiosqlite_executemany",
    f"path_{main}",
    f"path_{small}",
    f"path_{large}",
    "path_mixed",
    "path_worker",
    "latency_p50",
    "latency_p99",
    "segment_count",
    "segment_rss",
    "segment_rows",
    "check",
    "start",
}


@pytest.mark.slow
def test_a_tiny_run_has_a_numeric_row_per_figure_in_the_table_and_the_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    screen = io.StringIO()
    args = cli.parse(["--tiny", "--runs", "1", "--json", str(out), "--only", GROUPS])
    cli.run(args, console=Console(file=screen, width=250))

    saved = json.loads(out.read_text("utf-8"))
    rows = {r["id"]: r for r in saved["rows"]}
    assert set(rows) >= MEASURED
    for key in MEASURED:
        row = rows[key]
        assert row["error"] is None, (key, row["error"])
        assert len(row["samples"]) == 1, key
        assert isinstance(row["median"], float | int) and row["min"] <= row["median"] <= row["max"], key
        assert row["label"] in screen.getvalue(), key
    for key in ("noio", f"path_{main}", f"path_{large}"):  # judged against a baseline measured in the run
        assert isinstance(rows[key]["ratio"], float), key
    for key in ("latency_p99", "segment_count", "check", "start", f"path_{large}"):
        assert rows[key]["met"] in (True, False), key
    # The rivals were not run: the comparisons with them say so instead of judging.
    versus = rows[f"path_{main}_vs_opsdroid"]
    assert versus["met"] is None and "not measured" in versus["note"]
    census = rows[f"path_{main}"]["detail"]["census"]
    assert census["statements_per_event"] > 0 and census["transactions_per_event"] > 0
    assert saved["meta"]["sizes"]["name"] == "tiny"


def test_a_rival_that_cannot_run_becomes_a_row_that_says_why() -> None:
    assert "error" in rivals.child("nosuch", 1, 10, 1, 0)

    c = Collector(TINY, 1, 0, 1, Console(file=io.StringIO()))
    c.rows[f"path_{main}"] = Row(f"path_{main}", "full path", "msgs/s", samples=[100.0, 120.0, 110.0])
    c.rows["noio"] = Row("noio", "no-I/O", "msgs/s", samples=[150_000.0])
    c.rows["opsdroid_100"] = Row("opsdroid_100", "opsdroid", "msgs/s", error="not installed (opsdroid)")
    c.rows["errbot_100"] = Row("errbot_100", "errbot", "msgs/s", samples=[50.0])
    judge(c)

    assert c.rows[f"path_{main}"].ratio == 110.0 / 150_000.0
    assert c.rows[f"path_{main}"].met is False
    assert c.rows[f"path_{main}_vs_opsdroid"].met is None
    assert "not installed" in c.rows[f"path_{main}_vs_opsdroid"].note
    assert c.rows[f"path_{main}_vs_errbot"].met is True
    assert Target("<=", 25).holds(25) and not Target(">=", 2, "ratio").holds(1.9)


def test_compare_judges_qunguan_figures_by_how_much_worse_they_are_and_only_shows_the_machine_rows() -> None:
    """`python -m bench.compare REF`: a rate 25% lower or a latency 25% higher fails; 15% passes."""
    meta = {
        "path_100": {"label": "full path", "unit": "msgs/s", "group": "path"},
        "latency_p99": {"label": "p99", "unit": "ms", "group": "latency"},
        "start": {"label": "start", "unit": "s", "group": "startup"},
        "noio": {"label": "no-I/O", "unit": "msgs/s", "group": "baseline"},
    }
    samples = {
        "ref": {"path_100": [1000.0, 1000.0], "latency_p99": [10.0], "start": [2.0], "noio": [100.0]},
        "head": {"path_100": [740.0, 760.0], "latency_p99": [11.5], "start": [2.6], "noio": [10.0]},
    }
    rows = {r["id"]: r for r in compare.compare(samples, meta, slower=0.20)}
    assert rows["path_100"]["ok"] is False and round(rows["path_100"]["worse_by"], 2) == 0.25
    assert rows["latency_p99"]["ok"] is True and round(rows["latency_p99"]["worse_by"], 2) == 0.15
    assert rows["start"]["ok"] is False
    assert rows["noio"]["ok"] is None  # the machine's own figure: shown, never judged
    assert [compare.group_of(k) for k in ("path_mixed", "latency_p50", "segment_rss", "check", "noio")] == [
        "path",
        "latency",
        "segment",
        "startup",
        "baseline",
    ]
