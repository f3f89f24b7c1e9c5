"""`qunguan replay`: bring in the events of a dead-letter file (bot/replay.py), each once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, PlaybooksOption, echo_problems, on_database, read_config, read_playbooks, say
from bot.playbook.library import display_path
from bot.textnorm import printable


def replay(
    file: Annotated[Path | None, typer.Argument(help="dead-letter file (default: the one beside the database)")] = None,
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
    database: Annotated[str | None, typer.Option(help="database file (default: from config)")] = None,
) -> None:
    """Bring in the events the bot could not store (its dead-letter file): each acts once, in order."""
    from bot.deadletters import beside
    from bot.replay import DUPLICATE, FAILED, NOT_OURS, REPLAYED, replay_file

    cfg = read_config(config)
    database = database or cfg.database_path
    path = file or beside(database, cfg)
    if path is None:
        typer.echo(f"the database {database} is in memory: it has no dead-letter file", err=True)
        raise typer.Exit(2)
    if file is not None and not file.exists():
        typer.echo(f"no dead-letter file at {file}", err=True)
        raise typer.Exit(2)
    folder, loaded = read_playbooks(cfg, config, playbooks)
    if loaded.problems:
        echo_problems(loaded.problems, cfg.language)
        say(
            f"{len(loaded.problems)} problem(s) in {display_path(folder)}: nothing replayed, "
            "since those playbooks would miss the events",
            cfg.language,
            err=True,
        )
        raise typer.Exit(1)
    outcomes = on_database(replay_file(cfg, loaded, database, path))
    if outcomes is None:
        typer.echo(f"nothing to replay: no dead-letter file at {path}")
        return
    for outcome in outcomes:
        typer.echo(printable(outcome.line()))
    count = {result: sum(o.result == result for o in outcomes) for result in (REPLAYED, DUPLICATE, NOT_OURS, FAILED)}
    ignored = f", {count[NOT_OURS]} not for this bot" if count[NOT_OURS] else ""
    kept = f" (kept in {path} for the next replay)" if count[FAILED] or count[NOT_OURS] else ""
    typer.echo(
        f"{count[REPLAYED]} replayed, {count[DUPLICATE]} duplicate(s){ignored}, {count[FAILED]} failed again{kept}"
    )
    if count[FAILED] or count[NOT_OURS]:
        raise typer.Exit(1)
