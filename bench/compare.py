"""This checkout against another commit, measured in one run of the machine: `python -m bench.compare REF`.

The machine is shared and its speed drifts by 2x between runs, so two benches taken at different times say
little about a change. Here the other commit is checked out beside this one (a git worktree) and the two run
in turns, ABBA, one bench run at a time each, with the same sizes and seeds, in the same virtualenv. Each
figure's median over the turns is compared; a figure of Qunguan's own (full path, latency, segment query,
start-up) more than `--slower` worse than REF fails the comparison (exit 1). Rows that measure the machine or
the rivals (baselines, rivals) are shown as a gauge of the noise, not judged.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent.parent
JUDGED = ("path", "latency", "segment", "startup")  # groups whose rows are Qunguan's own figures


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    p.add_argument("ref", help="the commit to compare with (a hash, a branch, a tag)")
    p.add_argument("--rounds", type=int, default=2, help="ABBA rounds: each side runs the bench 2 x rounds times")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the bench's smaller sizes")
    size.add_argument("--tiny", action="store_true", help="smoke-test sizes: checks this script, not the speed")
    p.add_argument("--only", default=",".join(JUDGED), help="bench groups to run (default: the judged ones)")
    p.add_argument("--slower", type=float, default=0.20, help="how much worse a judged figure may be (0.20 = 20%%)")
    p.add_argument("--json", type=Path, default=HERE / "bench" / "compare.json", help="where to write the result")
    return p.parse_args(argv)


def checkout(ref: str, into: Path) -> Path:
    """REF beside this checkout, as a detached git worktree (removed afterwards)."""
    folder = into / "ref"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(folder), ref], cwd=HERE, check=True)
    return folder


def bench_once(source: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One bench run of the code in `source`: that folder first on the import path, the same interpreter."""
    command = [sys.executable, "-m", "bench", "--runs", "1", "--only", args.only, "--json", str(out)]
    if args.quick or args.tiny:
        command.append("--quick" if args.quick else "--tiny")
    env = {**os.environ, "PYTHONPATH": str(source)}
    subprocess.run(command, cwd=source, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text("utf-8"))


def lower_is_better(unit: str) -> bool:
    return not unit.endswith("/s")


def worse_by(ref: float, head: float, unit: str) -> float:
    """How much worse `head` is than `ref`, as a share of `ref` (negative: better)."""
    return (head - ref) / ref if lower_is_better(unit) else (ref - head) / ref


def compare(samples: dict[str, dict[str, list[float]]], meta: dict[str, dict[str, Any]], slower: float) -> list[dict]:
    rows = []
    for key, row in meta.items():
        ref, head = samples["ref"].get(key, []), samples["head"].get(key, [])
        if not ref or not head:
            continue
        r, h = statistics.median(ref), statistics.median(head)
        change = worse_by(r, h, row["unit"]) if r else 0.0
        judged = row["group"] in JUDGED
        rows.append(
            {
                "id": key,
                "label": row["label"],
                "unit": row["unit"],
                "ref": r,
                "head": h,
                "worse_by": change,
                "judged": judged,
                "ok": (change <= slower) if judged else None,
            }
        )
    return rows


def group_of(row_id: str) -> str:
    if row_id.startswith(("path_", "latency_")):
        return row_id.split("_", 1)[0]
    if row_id.startswith(("segment", "check", "start")):
        return "segment" if row_id.startswith("segment") else "startup"
    return "baseline"


def show(rows: list[dict], ref: str, console: Console) -> None:
    table = Table(title=f"this checkout vs {ref} (medians over the turns)")
    for name, justify in (("figure", "left"), (ref, "right"), ("this", "right"), ("unit", "left"), ("", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        verdict = f"{row['worse_by']:+.0%} worse" if row["worse_by"] > 0 else f"{-row['worse_by']:.0%} better"
        mark = "" if row["ok"] is None else ("[green]ok[/]" if row["ok"] else "[red]too slow[/]")
        table.add_row(row["label"], f"{row['ref']:,.4g}", f"{row['head']:,.4g}", row["unit"], f"{verdict} {mark}")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    console = Console()
    samples: dict[str, dict[str, list[float]]] = {"ref": {}, "head": {}}
    meta: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="qunguan-compare-") as tmp:
        base = Path(tmp)
        other = checkout(args.ref, base)
        try:
            order = [("ref", other), ("head", HERE), ("head", HERE), ("ref", other)] * args.rounds
            for turn, (side, source) in enumerate(order, 1):
                console.log(f"turn {turn}/{len(order)}: {side} ({source})")
                result = bench_once(source, args, base / f"{side}-{turn}.json")
                for row in result["rows"]:
                    if row["median"] is not None:
                        samples[side].setdefault(row["id"], []).append(row["median"])
                        meta.setdefault(row["id"], {**row, "group": group_of(row["id"])})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=HERE, check=False)
    rows = compare(samples, meta, args.slower)
    show(rows, args.ref, console)
    args.json.write_text(json.dumps({"ref": args.ref, "rounds": args.rounds, "rows": rows}, indent=2), "utf-8")
    failed = [r for r in rows if r["ok"] is False]
    limit = f"{args.slower:.0%}"
    console.print(f"{len(failed)} figure(s) more than {limit} worse than {args.ref}" if failed else "none worse")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
