"""`qunguan test`: run scenario files (bot/scenario.py) against the playbooks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, PlaybooksOption, echo_problems, read_config, read_playbooks, say
from bot.i18n import problem_text
from bot.playbook.library import SCENARIO_DIR, display_path
from bot.textnorm import printable


def _scenario_home(paths: list[Path]) -> Path | None:
    """The playbooks folder that scenario paths belong to (the parent of their `tests/`)."""
    for path in paths:
        resolved = path.resolve()
        if resolved.is_dir() and (resolved / SCENARIO_DIR).is_dir():
            return resolved
        for parent in [resolved, *resolved.parents]:
            if parent.name == SCENARIO_DIR:
                return parent.parent
    return None


def test(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="scenario files or folders (default: PLAYBOOKS/tests)")
    ] = None,
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
) -> None:
    """Run scenario files against the playbooks: one line per scenario, then a summary."""
    from bot.scenario import Result, run_files, scenario_files

    cfg = read_config(config)
    lang = cfg.language
    home = _scenario_home(paths or [])
    folder, loaded = read_playbooks(cfg, config, playbooks or home, "--playbooks" if playbooks else "the command line")
    if loaded.problems:
        echo_problems(loaded.problems, lang)
        say(f"{len(loaded.problems)} problem(s) in {display_path(folder)}: fix them before testing", lang, err=True)
        raise typer.Exit(1)
    targets = list(paths or [folder / SCENARIO_DIR])
    missing = [p for p in targets if not p.exists()]
    if missing:
        say(f"not found: {', '.join(map(str, missing))}", lang, err=True)
        raise typer.Exit(2)
    files = scenario_files(targets)
    if not files:
        say(f"no scenario files in {', '.join(map(str, targets))}", lang, err=True)
        raise typer.Exit(1)

    def report(result: Result) -> None:
        """Names and sent texts come from files and playbooks: shown escaped, one line each."""
        mark = typer.style("PASS", fg="green") if result.passed else typer.style("FAIL", fg="red")
        typer.echo(f"{mark} {printable(result.name)}  ({printable(str(result.path))})")
        for line in result.detail:
            typer.echo(f"     {printable(line)}")

    passed, failed, problems = asyncio.run(run_files(files, loaded, cfg, report))
    for problem in problems:
        typer.echo(f"{typer.style('FAIL', fg='red')} {printable(problem_text(problem, lang))}")
    typer.echo(f"{passed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
