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

from bench import claim, cli, compare, fullpath, rivals  # noqa: E402
from bench.judging import judge  # noqa: E402
from bench.report import Row, Target  # noqa: E402
from bench.sizes import TINY  # noqa: E402

# Everything but the rivals: their child processes take seconds to start and may not be installed.
GROUPS = "baseline,path,latency,claim,segment,startup"
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
    "claim_p99",
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
    for key in ("noio", "path_vs_noio", f"path_{large}", "path_worker"):  # against a baseline measured in the run
        assert isinstance(rows[key]["ratio"], float), key
    for key in ("latency_p99", "claim_p99", "segment_count", "check", "start", f"path_{main}", f"path_{large}"):
        assert rows[key]["met"] in (True, False), key
    # The rivals were not run: the comparison with them says so instead of judging.
    versus = rows["path_vs_rivals"]
    assert versus["met"] is None and "not measured" in versus["note"]
    # As in production: every event was handled, wrote its rows and its log line (through bot.logs, to a file).
    for key in (f"path_{main}", f"path_{large}", "path_worker", "latency_p99"):
        (run,) = rows[key]["detail"]["runs"]
        assert run["unhandled"] == 0 and run["log_lines"] >= run["events"] == run["outbox_rows"] > 0, key
    (burst,) = rows["claim_p99"]["detail"]["runs"]
    assert (burst["members"], burst["stock"]) == (TINY.claim_members, TINY.claim_stock)
    assert burst["log_lines"] > burst["members"]  # the staff's /发券 and every claim
    census = rows[f"path_{main}"]["detail"]["census"]
    assert census["statements_per_event"] > 0 and census["transactions_per_event"] > 0
    assert saved["meta"]["sizes"]["name"] == "tiny"


def test_the_full_path_is_judged_against_the_faster_rival_and_a_rival_that_cannot_run_says_why() -> None:
    assert "error" in rivals.child("nosuch", 1, 10, 1, 0)

    rows = {
        f"path_{main}": Row(f"path_{main}", "full path", "msgs/s", samples=[100.0, 120.0, 110.0]),
        "noio": Row("noio", "no-I/O", "msgs/s", samples=[150_000.0]),
        "opsdroid_100": Row("opsdroid_100", "opsdroid", "msgs/s", error="not installed (opsdroid)"),
        "errbot_100": Row("errbot_100", "errbot", "msgs/s", samples=[30.0]),
    }
    judge(rows, TINY)
    assert rows[f"path_{main}"].met is False  # below 10,000 msgs/s
    assert rows["path_vs_noio"].ratio == 110.0 / 150_000.0
    versus = rows["path_vs_rivals"]
    assert versus.ratio == 110.0 / 30.0 and versus.met is True  # the one rival measured
    assert "errbot" in (versus.baseline or "")

    rows["opsdroid_100"] = Row("opsdroid_100", "opsdroid", "msgs/s", samples=[40.0])
    judge(rows, TINY)
    assert versus.ratio == 110.0 / 40.0 and versus.met is False  # 3x the faster of the two
    assert "opsdroid" in (versus.baseline or "")

    for name in ("opsdroid", "errbot"):
        rows[f"{name}_100"] = Row(f"{name}_100", name, "msgs/s", error=f"not installed ({name})")
    judge(rows, TINY)
    assert versus.met is None and "not installed" in versus.note
    assert Target("<=", 25).holds(25) and not Target(">=", 3, "ratio").holds(2.9)


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


def test_a_claim_burst_that_is_not_first_come_first_served_exactly_fails_instead_of_counting() -> None:
    senders, ids = [f"m{i}" for i in range(5)], [f"claim-{i}" for i in range(5)]
    won = "抢到了！满100减10券已放进你的券包"
    fair = {
        "unhandled": 0,
        "decided": [("m0", "won"), ("m1", "won"), ("m2", "late"), ("m3", "late"), ("m4", "late")],
        "coupon_members": ["m1", "m0"],
        "replies": [("claim-1", won), ("claim-0", won), ("claim-2", "满100减10券已抢完，下次早点来哦～")],
    }
    assert claim.exactness(fair, senders, ids, stock=2) is None

    unfair = {
        "a late member won": {"decided": [("m0", "won"), ("m1", "late"), ("m2", "won"), *fair["decided"][3:]]},
        "a claim not decided": {"decided": fair["decided"][:4]},
        "a coupon to another": {"coupon_members": ["m0", "m3"]},
        "a third coupon": {"coupon_members": ["m0", "m1", "m2"]},
        "a winner not answered": {"replies": fair["replies"][1:]},
        "已抢完 twice": {"replies": [*fair["replies"], ("claim-3", "满100减10券已抢完，下次早点来哦～")]},
        "a claim held": {"unhandled": 1},
    }
    for why, changed in unfair.items():
        assert claim.exactness({**fair, **changed}, senders, ids, stock=2) is not None, why


def test_every_bench_playbook_set_holds_the_shipped_moderation_and_the_drop_loads_with_it() -> None:
    ids = {p.id for p in fullpath.load_playbooks(main).playbooks}
    assert {"daily-checkin", "anti-flood", "banned-words"} <= ids and len(ids) == main
    assert {p.id for p in claim.load_playbooks(main, stock=3).playbooks} == ids | {claim.BATCH}
