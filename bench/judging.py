"""Judging: the rows whose baseline is another row of the same run, their targets (issue 17's among them), and
the order of the table."""

from __future__ import annotations

from bench import analytics, rivals
from bench.report import Row, Target
from bench.sizes import Sizes


def judge(rows: dict[str, Row], sizes: Sizes) -> None:
    """Ratios and targets of the rows measured in this run; a comparison row is added per rival target."""
    small, main, large = sizes.playbook_counts
    path = rows.get(f"path_{main}")
    if path is not None:
        path.target = Target(">=", 10_000)
        versus = (("path_vs_noio", rows.get("noio"), "no-I/O pipeline"), ("path_vs_rivals", *_rival(rows)))
        for key, base, name in versus:
            copy = rows.setdefault(key, Row(key, f"full path, {main} playbooks, vs {name}", "msgs/s"))
            copy.samples, copy.error = path.samples, path.error
            _against(copy, base, name, Target(">=", 3 if key == "path_vs_rivals" else 0.1, "ratio"))
        if "path_mixed" in rows:
            _against(rows["path_mixed"], path, f"full path, {main} playbooks", None)
        if "path_worker" in rows:
            _against(rows["path_worker"], path, f"full path, {main} playbooks", Target(">=", 0.9, "ratio"))
    if f"path_{large}" in rows:
        _against(rows[f"path_{large}"], rows.get(f"path_{small}"), f"{small} playbooks", Target(">=", 0.8, "ratio"))
    if "pg_path_1" in rows:
        rows["pg_path_1"].target = Target(">=", 3_000)
    for key in ("pg_path_3", "pg_path_1_async"):
        if key in rows:
            _against(rows[key], rows.get("pg_path_1"), "1 process on PostgreSQL", None)
    if "pg_floor_pipelined" in rows:
        _against(rows["pg_floor_pipelined"], rows.get("pg_floor"), "the floor one by one", None)


def _rival(rows: dict[str, Row]) -> tuple[Row | None, str]:
    """The faster of opsdroid and errbot with 100 skills, as measured in this run (either alone if the other is
    missing); None if neither was."""
    measured = [(rows[f"{n}_100"], n) for n in rivals.NAMES if f"{n}_100" in rows]
    ran = [(row, n) for row, n in measured if row.median is not None]
    if ran:
        row, name = max(ran, key=lambda pair: pair[0].median or 0.0)
        return row, f"the faster rival with 100 skills ({name})"
    return (measured[0][0] if measured else None), "the faster of opsdroid and errbot with 100 skills"


def _against(row: Row, base: Row | None, name: str, target: Target | None) -> None:
    row.baseline, row.target, row.baseline_value, row.note = name, target, None, ""
    if base is None or base.median is None:
        why = "not measured" if base is None else base.error or "no samples"
        row.note = f"baseline {name}: {why}"
        return
    row.baseline_value = base.median


ORDER = [
    "noio",
    "sqlite_row_commit",
    "aiosqlite_row_commit",
    "sqlmodel_row_commit",
    "aiosqlite_executemany",
    "opsdroid_1",
    "opsdroid_100",
    "errbot_1",
    "errbot_100",
    "path_{main}",
    "path_vs_rivals",
    "path_vs_noio",
    "path_{small}",
    "path_{large}",
    "path_mixed",
    "path_worker",
    "pg_row_commit",
    "pg_path_1",
    "pg_path_3",
    "pg_path_1_async",
    "pg_floor",
    "pg_floor_pipelined",
    "latency_p50",
    "latency_p99",
    "claim_p99",
    "segment_count",
    "segment_rss",
    "segment_rows",
    "segment_birthday",
    "segment_rfm",
    "segment_pg_count",
    "segment_pg_rows",
    "check",
    "start",
    *(f"analytics_{k}" for k in (*analytics.FIGURES, "rss")),
]


def ordered(rows: dict[str, Row], sizes: Sizes) -> list[Row]:
    small, main, large = sizes.playbook_counts
    keys = [k.format(small=small, main=main, large=large) for k in ORDER]
    return [rows[k] for k in keys if k in rows] + [r for k, r in rows.items() if k not in keys]
