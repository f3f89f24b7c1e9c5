"""The `qunguan` command: the app, `check` and `run`.

Typer gives us typed options and --help for free; every error an operator can
cause ends in a clear message and an exit code, never a traceback. The other
commands live beside this module, one file each: `test` in scenario_cli.py,
`audit`, `reload`, `replay`, `schema`, `rooms` and `forget` in <command>_cli.py; what
they share (options, reading config.yaml and the playbooks) in cli_shared.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import importlib.metadata
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from typer.core import TyperGroup

from bot import logs
from bot.cli_shared import (
    ConfigOption,
    PlaybooksOption,
    echo_problems,
    playbooks_folder,
    read_config,
    read_playbooks,
    say,
)
from bot.config import Config
from bot.playbook.library import PlaybookSet, display_path
from bot.store import DatabaseGone, StoreError

if TYPE_CHECKING:
    import click

    from bot.app import Bot
    from bot.connectors.base import Connector

# The commands other modules hold (module, function), each imported when it runs or when --help lists them all:
# `check` needs none of them (they bring the web console, the fleet, backups: a fifth of its start-up).
ELSEWHERE: dict[str, tuple[str, str]] = {
    "test": ("bot.scenario_cli", "test"),
    "audit": ("bot.audit_cli", "audit"),
    "reload": ("bot.reload_cli", "reload"),
    "replay": ("bot.replay_cli", "replay"),
    "schema": ("bot.schema_cli", "schema"),
    "console": ("bot.console_cli", "console"),
    "backup": ("bot.backup_cli", "backup"),
    "restore": ("bot.backup_cli", "restore"),
    "forget": ("bot.forget_cli", "forget_command"),
    "migrate": ("bot.migrate_cli", "migrate_command"),
    "fleet": ("bot.fleet_cli", "fleet"),
    "rooms": ("bot.rooms_cli", "rooms_commands"),  # a group of commands, made with the config reader
}
# The order --help lists them in.
LISTED = ("check", *(name for name in ELSEWHERE if name != "rooms"), "run", "rooms")


def _elsewhere(name: str) -> click.Command:
    module, function = ELSEWHERE[name]
    found = getattr(importlib.import_module(module), function)
    if name == "rooms":
        group = typer.main.get_group(found(read_config))
        group.name = name
        return group
    holder = typer.Typer(add_completion=False)
    holder.command(name)(found)
    return typer.main.get_command(holder)


class _Commands(TyperGroup):
    """`qunguan`'s commands, those held elsewhere imported as they are asked for."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in ELSEWHERE and cmd_name not in self.commands:
            self.commands[cmd_name] = _elsewhere(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*LISTED, *(name for name in self.commands if name not in LISTED)]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in ELSEWHERE:
            for name in ELSEWHERE:  # a mistyped command: "did you mean" looks among all of them
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_Commands,
    add_completion=False,
    no_args_is_help=True,
    help="Qunguan 群管: a chat-ops bot for WeChat groups, driven by YAML playbooks.",
)

CONNECTORS = ("simulator", "wechaty")
EXIT_CONNECTOR = 3  # could not connect to or log in to WeChat
EXIT_DATABASE_GONE = 4  # the database file was deleted or replaced while the bot ran: do not just restart
CLOSE_TIMEOUT = 10.0


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"qunguan {importlib.metadata.version('qunguan')}")
        except importlib.metadata.PackageNotFoundError:
            typer.echo("qunguan (not installed as a package: pip install -e .)")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Qunguan 群管: a chat-ops bot for WeChat groups, driven by YAML playbooks."""


@app.command()
def check(
    path: Annotated[Path | None, typer.Argument(help="playbooks folder to check")] = None,
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
) -> None:
    """Check playbooks: every problem as path:line:col: message (exit 1); warnings alone exit 0."""
    cfg = read_config(config)
    lang = cfg.language
    if path is not None and playbooks is not None:
        say(
            f"the playbooks folder is given twice ({path} and --playbooks {playbooks}): give it once, "
            f"like qunguan check {path}",
            lang,
            err=True,
        )
        raise typer.Exit(2)
    folder, loaded = read_playbooks(cfg, config, path or playbooks, "the command line" if path else "--playbooks")
    errors, warnings = loaded.problems, loaded.warnings
    echo_problems([*errors, *warnings], lang)
    shown = display_path(folder)
    if errors and warnings:
        say(f"{len(errors)} problem(s) and {len(warnings)} warning(s) in {shown}", lang, err=True)
    elif errors:
        say(f"{len(errors)} problem(s) in {shown}", lang, err=True)
    elif warnings:
        say(f"OK: {len(loaded.playbooks)} playbook(s) in {shown}, {len(warnings)} warning(s)", lang)
    else:
        say(f"OK: {len(loaded.playbooks)} playbook(s) in {shown}", lang)
    if errors:
        raise typer.Exit(1)


@app.command()
def run(
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
    connector: Annotated[str | None, typer.Option(help=f"connector: {', '.join(CONNECTORS)}")] = None,
    database: Annotated[str | None, typer.Option(help="database file (default: from config)")] = None,
    log_file: Annotated[
        Path | None,
        typer.Option("--log-file", help="append the log to this file; the terminal then shows only warnings"),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="log more than log_level")] = 0,
    quiet: Annotated[int, typer.Option("--quiet", "-q", count=True, help="log less than log_level")] = 0,
    account: Annotated[
        str | None, typer.Option("--account", help="in a fleet: the WeChat account this process runs (config accounts)")
    ] = None,
) -> None:
    """Run the bot (the local simulator unless config or --connector says otherwise)."""
    from bot import eventloop
    from bot.console.server import ListenError
    from bot.fleet.accounts import AccountError, run_as

    try:
        cfg = run_as(read_config(config), account)
    except AccountError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    name = connector or cfg.connector
    if name not in CONNECTORS:
        say(f"unknown connector '{name}'; available: {', '.join(CONNECTORS)}", cfg.language, err=True)
        raise typer.Exit(2)
    try:
        logs.setup(cfg, interactive=name == "simulator", verbose=verbose, quiet=quiet, log_file=log_file)
    except logs.LogFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    folder = playbooks_folder(cfg, config, playbooks)
    loaded = PlaybookSet([])  # the bot loads the folder as it starts, as any reload would (bot/reload.py)
    database = database or cfg.database_path
    if name == "wechaty":
        _run_wechaty(cfg, loaded, database, folder)
        return
    from bot.simulator.terminal import run_simulator

    try:
        eventloop.run(run_simulator(cfg, loaded, database=database, folder=folder))
    except DatabaseGone as exc:
        _stop_for(exc)
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ListenError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


def _run_wechaty(config: Config, playbooks: PlaybookSet, database: str, folder: Path) -> None:
    """Real WeChat: a connection or login failure is one line and exit 3, never a traceback."""
    from bot import eventloop
    from bot.connectors.wechaty import ConnectorError, WechatyConnector
    from bot.console.server import ListenError

    try:
        connector = WechatyConnector.from_config(config, database=database)
        eventloop.run(_serve(config, playbooks, database, connector, folder))
    except ConnectorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_CONNECTOR) from None
    except DatabaseGone as exc:
        _stop_for(exc)
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ListenError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _stop_for(exc: DatabaseGone) -> NoReturn:
    """One line in the log (the operator's record), and an exit code a supervisor can refuse to restart on."""
    logging.getLogger("qunguan.cli").error("%s", exc)
    raise typer.Exit(EXIT_DATABASE_GONE) from None


async def _serve(config: Config, playbooks: PlaybookSet, database: str, connector: Connector, folder: Path) -> None:
    """Run until SIGTERM or SIGINT, then stop the connector and close the store. Raises DatabaseGone when the
    database file is deleted or replaced meanwhile."""
    from bot import heap
    from bot.app import Bot
    from bot.clock import SystemClock
    from bot.console.guard import Console
    from bot.console.server import serving
    from bot.reload import tell_start_up

    log = logging.getLogger("qunguan.cli")
    bot = await Bot.create(
        config, clock=SystemClock(), connector=connector, playbooks=playbooks, database=database, folder=folder
    )
    tell_start_up(bot.engine)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.ensure_future(bot.start())  # the connector (logged in), the outbox, the schedules
    stopping = asyncio.ensure_future(stop.wait())
    gone = asyncio.ensure_future(bot.store.gone())
    try:
        async with serving(Console(bot.store, config, bot.clock, folder)):  # the web console, when web.listen is set
            await asyncio.wait({starting, stopping, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                raise gone.result()
            if not starting.done():  # asked to stop while still connecting
                return
            starting.result()
            heap.settle()  # what the bot loaded stays out of the collector's way under a burst
            log.info("running; stop with Ctrl+C or SIGTERM")
            await asyncio.wait({stopping, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                raise gone.result()
            log.info("stopping")
    finally:
        for task in (starting, stopping, gone):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for sig in signals:
            loop.remove_signal_handler(sig)
        await _close(bot)


async def _close(bot: Bot) -> None:
    """Bot.close() waits for paused playbook runs (`wait:`) and the outbox's grace: not forever."""
    limit = CLOSE_TIMEOUT + bot.config.sending.shutdown_grace.total_seconds()
    try:
        await asyncio.wait_for(bot.close(), limit)
    except TimeoutError:
        logging.getLogger("qunguan.cli").warning("stopping took over %g s: paused playbook runs abandoned", limit)
        await bot.intake.close()  # events still held go to the dead-letter file
        await bot.connector.stop()
        await bot.store.close()


def main() -> None:
    """The process. What start-up built (modules, models, tables) lives as long as it does: frozen, the collector
    never walks it again. At the end what is left goes with the process, not collected object by object: with a
    thousand playbooks loaded, collecting cost `qunguan check` a third of its time, half of it while exiting."""
    gc.freeze()
    gc.enable()
    try:
        app()
    finally:
        gc.freeze()
