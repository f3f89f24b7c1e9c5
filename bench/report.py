"""Rows of the bench report: one per figure, judged against its baseline and target, shown as a table and JSON.

Targets are ratios measured in one run wherever the issue says so, because the machine is shared and noisy:
absolute rates move with the machine, ratios of two figures taken minutes apart mostly do not.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Target:
    """`on="ratio"`: the ratio to the baseline must pass; `on="value"`: the median itself."""

    op: Literal[">=", "<="]
    value: float
    on: Literal["ratio", "value"] = "value"

    def holds(self, x: float) -> bool:
        return x >= self.value if self.op == ">=" else x <= self.value

    def text(self, unit: str) -> str:
        sign = "≥" if self.op == ">=" else "≤"
        if self.on == "ratio":
            return f"{sign} {self.value:g}x"
        return f"{sign} {self.value:,g} {unit}"


@dataclass
class Row:
    """One figure: its samples (one per run), what it is compared with, and the goal."""

    id: str
    label: str
    unit: str
    samples: list[float] = field(default_factory=list)
    baseline: str | None = None  # what the ratio is taken against (a row id, or "reference: ...")
    baseline_value: float | None = None
    target: Target | None = None
    note: str = ""
    error: str | None = None  # why there are no samples (not installed, crashed, skipped)
    higher_is_better: bool = True
    detail: dict[str, Any] = field(default_factory=dict)  # extra facts for the JSON (sizes, checks, ...)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def low(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def high(self) -> float | None:
        return max(self.samples) if self.samples else None

    @property
    def ratio(self) -> float | None:
        median = self.median
        if median is None or not self.baseline_value:
            return None
        return median / self.baseline_value

    @property
    def met(self) -> bool | None:
        """None when there is no target or nothing to judge."""
        if self.target is None:
            return None
        x = self.ratio if self.target.on == "ratio" else self.median
        return None if x is None else self.target.holds(x)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "unit": self.unit,
            "samples": self.samples,
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "baseline": self.baseline,
            "baseline_value": self.baseline_value,
            "ratio": self.ratio,
            "target": None
            if self.target is None
            else {"op": self.target.op, "value": self.target.value, "on": self.target.on},
            "met": self.met,
            "note": self.note,
            "error": self.error,
            "detail": self.detail,
        }


def fmt(x: float | None) -> str:
    """Three significant digits, thousands separated: rates and milliseconds alike stay readable."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    size = abs(x)
    if size >= 1000:
        return f"{x:,.0f}"
    if size >= 100:
        return f"{x:.0f}"
    if size >= 10:
        return f"{x:.1f}"
    if size >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _verdict(row: Row) -> str:
    if row.error is not None or (row.target is not None and row.met is None):
        return "n/a"
    return {None: "", True: "met", False: "NOT MET"}[row.met]


def _label(row: Row) -> str:
    """The figure's name, with why it cannot be judged or what to keep in mind when reading it."""
    if row.error is not None:
        return f"{row.label} — {row.error}"
    return f"{row.label} — {row.note}" if row.note else row.label


def table(rows: Sequence[Row], title: str) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    t.add_column("figure", justify="left", min_width=40, ratio=1)
    for name, justify in (
        ("median", "right"),
        ("min", "right"),
        ("max", "right"),
        ("unit", "left"),
        ("baseline", "left"),
        ("ratio", "right"),
        ("target", "left"),
        ("", "left"),
    ):
        t.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        verdict = _verdict(row)
        style = {"met": "green", "NOT MET": "bold red", "n/a": "yellow"}.get(verdict, "")
        t.add_row(
            _label(row),
            fmt(row.median),
            fmt(row.low),
            fmt(row.high),
            row.unit,
            row.baseline or "",
            "" if row.ratio is None else f"{fmt(row.ratio)}x",
            row.target.text(row.unit) if row.target else "",
            f"[{style}]{verdict}[/]" if style else verdict,
        )
    return t


def markdown(rows: Sequence[Row]) -> str:
    """The same table as Markdown, for the README."""
    lines = [
        "| figure | median | min | max | unit | baseline | ratio | target | |",
        "|---|--:|--:|--:|---|---|--:|---|---|",
    ]
    for row in rows:
        label = _label(row)
        ratio = "" if row.ratio is None else f"{fmt(row.ratio)}x"
        target = row.target.text(row.unit) if row.target else ""
        cells = [label, fmt(row.median), fmt(row.low), fmt(row.high), row.unit, row.baseline or "", ratio, target]
        lines.append("| " + " | ".join(cells) + f" | {_verdict(row)} |")
    return "\n".join(lines)


def console() -> Console:
    """Wide enough for the table when the output is a file or a pipe (rich would assume 80 columns)."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=170)


def show(rows: Sequence[Row], title: str, out: Console | None = None) -> None:
    (out or console()).print(table(rows, title))


def write_json(path: Path, meta: dict[str, Any], rows: Sequence[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "rows": [r.as_json() for r in rows]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
