"""Command line of the bench. Run by hand (minutes), never by the test suite except at a tiny size."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import floor, fullpath, report, runner
from bench.sizes import FULL, QUICK, TINY, Sizes
from bot import eventloop

DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description="Qunguan speed figures against the issue's targets."
    )
    p.add_argument("--runs", type=int, default=3, help="runs per figure; the table shows median, min and max")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (about a minute or two)")
    size.add_argument("--tiny", action="store_true", help="smoke-test sizes: checks the code paths, not the speed")
    p.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results (default {DEFAULT_JSON})"
    )
    p.add_argument(
        "--only", default=",".join(runner.GROUPS), help=f"comma-separated groups: {', '.join(runner.GROUPS)}"
    )
    p.add_argument("--seed", type=int, default=7, help="seed of every generated playbook, member and message")
    p.add_argument("--profile", action="store_true", help="also profile the full path (cProfile) and print the top")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    return p.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> Sizes:
    return TINY if args.tiny else QUICK if args.quick else FULL


def run(args: argparse.Namespace, console: Console | None = None) -> dict[str, Any]:
    """Measure, show and write; returns the JSON document."""
    console = console or report.console()
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(runner.GROUPS))
    if unknown:
        raise SystemExit(f"unknown group(s): {', '.join(unknown)}; choose from {', '.join(runner.GROUPS)}")
    sizes = sizes_of(args)
    load_before = runner.load()
    rows = runner.collect(sizes, runs=args.runs, seed=args.seed, groups=groups, console=console)
    meta = runner.meta(sizes, runs=args.runs, seed=args.seed, groups=groups)
    meta["load_average"] = {"before": load_before, "after": runner.load()}  # a busy machine explains odd figures
    extra: dict[str, Any] = {}
    if args.profile:
        extra["profile"] = profile(sizes, args.seed, console)
    title = f"Qunguan bench ({sizes.name}, {args.runs} run(s), commit {meta['commit']}, {meta['machine']})"
    report.show(rows, title, console)
    if args.markdown:
        console.print(report.markdown(rows), markup=False, highlight=False, soft_wrap=True)
    report.write_json(args.json, {**meta, **extra}, rows)
    console.print(f"wrote {args.json}")
    return {"meta": meta, "rows": [r.as_json() for r in rows], **extra}


def profile(sizes: Sizes, seed: int, console: Console) -> dict[str, Any]:
    """Where one event's time goes: statements and transactions per event, what SQLite alone takes for them
    (bench/floor.py), and cProfile's top functions."""
    main = sizes.playbook_counts[1]
    console.log(f"profile: full path, {main} playbooks, under cProfile")
    with tempfile.TemporaryDirectory(prefix="qunguan-bench-") as tmp:
        template = asyncio.run(fullpath.make_template(Path(tmp), sizes.path_members, seed))
        playbooks = fullpath.load_playbooks(main)
        census = eventloop.run(fullpath.census(playbooks, template, seed, max(sizes.path_events // 10, 20)))
        found = eventloop.run(fullpath.profile(playbooks, template, seed, events=max(sizes.path_events // 10, 50)))
        alone = eventloop.run(floor.statement_floor(playbooks, template, seed, max(sizes.path_events // 4, 100)))
    console.print(f"[bold]per event:[/] {census}")
    console.print(
        f"[bold]the same statements replayed on sqlite3 alone:[/] {alone['events_per_second']:,} events/s"
        f" (a ceiling for this schema); µs per event: {alone['us_per_event']}"
    )
    console.print(f"[bold]event loop waiting on the database thread:[/] {found['wait_share']:.0%} of wall time")
    for order in ("cumulative", "tottime"):
        console.print(f"[bold]top by {order}[/] ({found['events']} events in {found['seconds']} s)")
        console.print(found[order], markup=False, highlight=False, soft_wrap=True)
    return {"census": census, "statement_floor": alone, **found}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv if argv is not None else sys.argv[1:])
    run(args)
