"""What every `qunguan` command shares: its --config and --playbooks options, reading config.yaml and the
playbooks folder (a problem is a clear message and exit 2, never a traceback), and lines in the operator's language.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot import logs
from bot.config import DEFAULT_CONFIG, Config, load_config
from bot.i18n import DEFAULT_LANGUAGE, problem_text, translate_line
from bot.playbook.errors import Problem, ProblemsError
from bot.playbook.library import PlaybookSet, load_configured
from bot.store import StoreError
from bot.textnorm import printable

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (default: ./config.yaml; defaults if absent)")
]
PlaybooksOption = Annotated[
    Path | None, typer.Option("--playbooks", "-p", help="playbooks folder (default: the one named in config)")
]


def echo_problems(problems: list[Problem], language: str) -> None:
    """Errors and warnings together, in file order, in the operator's language."""
    for problem in sorted(problems):
        typer.echo(printable(problem_text(problem, language)), err=True)


def say(message: str, language: str, *, err: bool = False) -> None:
    typer.echo(printable(translate_line(message, language)), err=err)


def read_config(path: Path | None) -> Config:
    """config.yaml (or the defaults), checked against the staff commands; a problem in it is exit 2."""
    from bot.commands import command_names
    from bot.registry import load_abilities

    load_abilities()  # the staff commands, so that config.yaml's `commands:` can be checked against them
    try:
        config, note = load_config(str(path) if path else None, commands=command_names())
    except ProblemsError as exc:
        echo_problems(exc.problems, exc.language or DEFAULT_LANGUAGE)
        raise typer.Exit(2) from None
    logs.setup(config)  # every command logs the same way; `run` sets its own level and log file
    logging.getLogger("qunguan.cli").info(note)
    return config


def read_playbooks(
    config: Config, config_file: Path | None, given: Path | None, given_as: str = "--playbooks"
) -> tuple[Path, PlaybookSet]:
    """The playbooks folder, loaded."""
    folder = playbooks_folder(config, config_file, given, given_as)
    return folder, load_configured(folder, config)


def playbooks_folder(
    config: Config, config_file: Path | None, given: Path | None, given_as: str = "--playbooks"
) -> Path:
    """The playbooks folder. One that is not there is a typo or the wrong directory: exit 2, saying which folder
    and where it was named (a bot must not start with no playbooks)."""
    if given is not None:
        folder, shown, source = given, str(given), given_as
    else:
        folder, shown = config.path(config.playbooks), config.playbooks
        file = str(config_file or DEFAULT_CONFIG)
        if "playbooks" in config.model_fields_set:
            source = f"'playbooks: {config.playbooks}' in {file}"
        elif Path(file).exists():
            source = f"the default ({file} does not set 'playbooks:')"
        else:
            source = "the default (there is no config.yaml here)"
    if folder.exists() and not folder.is_dir():
        say(f"{shown} ({folder.absolute()}) is not a folder; it comes from {source}", config.language, err=True)
        raise typer.Exit(2)
    if not folder.exists():
        say(
            f"playbooks folder {shown} ({folder.absolute()}) not found; it comes from {source}",
            config.language,
            err=True,
        )
        raise typer.Exit(2)
    return folder


def on_database(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on the database: one that fails is one line and exit 2, never a traceback."""
    try:
        return asyncio.run(work)
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None
