"""The `qunguan` command: run, check, test, schema.

Typer gives us typed options and --help for free; every error an operator can
cause ends in a clear message and an exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import signal
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from bot import logs
from bot.config import DEFAULT_CONFIG, Config, load_config
from bot.i18n import DEFAULT_LANGUAGE, problem_text, translate_line
from bot.playbook.errors import Problem, ProblemsError
from bot.playbook.library import SCENARIO_DIR, PlaybookSet, display_path, load_configured
from bot.rooms_cli import rooms_commands
from bot.store import DatabaseGone, StoreError
from bot.textnorm import printable

if TYPE_CHECKING:
    from bot.app import Bot
    from bot.connectors.base import Connector

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Qunguan 群管: a chat-ops bot for WeChat groups, driven by YAML playbooks.",
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (default: ./config.yaml; defaults if absent)")
]
PlaybooksOption = Annotated[
    Path | None, typer.Option("--playbooks", "-p", help="playbooks folder (default: the one named in config)")
]
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


def _echo_problems(problems: list[Problem], language: str) -> None:
    """Errors and warnings together, in file order, in the operator's language."""
    for problem in sorted(problems):
        typer.echo(printable(problem_text(problem, language)), err=True)


def _say(message: str, language: str, *, err: bool = False) -> None:
    typer.echo(printable(translate_line(message, language)), err=err)


def _config(path: Path | None) -> Config:
    from bot.commands import command_names
    from bot.registry import load_abilities

    load_abilities()  # the staff commands, so that config.yaml's `commands:` can be checked against them
    try:
        config, note = load_config(str(path) if path else None, commands=command_names())
    except ProblemsError as exc:
        _echo_problems(exc.problems, exc.language or DEFAULT_LANGUAGE)
        raise typer.Exit(2) from None
    logs.setup(config)  # every command logs the same way; `run` sets its own level and log file
    logging.getLogger("qunguan.cli").info(note)
    return config


def _playbooks(
    config: Config, config_file: Path | None, given: Path | None, given_as: str = "--playbooks"
) -> tuple[Path, PlaybookSet]:
    """The playbooks folder, loaded."""
    folder = _folder(config, config_file, given, given_as)
    return folder, load_configured(folder, config)


def _folder(config: Config, config_file: Path | None, given: Path | None, given_as: str = "--playbooks") -> Path:
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
        _say(f"{shown} ({folder.absolute()}) is not a folder; it comes from {source}", config.language, err=True)
        raise typer.Exit(2)
    if not folder.exists():
        _say(
            f"playbooks folder {shown} ({folder.absolute()}) not found; it comes from {source}",
            config.language,
            err=True,
        )
        raise typer.Exit(2)
    return folder


@app.command()
def check(
    path: Annotated[Path | None, typer.Argument(help="playbooks folder to check")] = None,
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
) -> None:
    """Check playbooks: every problem as path:line:col: message (exit 1); warnings alone exit 0."""
    cfg = _config(config)
    lang = cfg.language
    if path is not None and playbooks is not None:
        _say(
            f"the playbooks folder is given twice ({path} and --playbooks {playbooks}): give it once, "
            f"like qunguan check {path}",
            lang,
            err=True,
        )
        raise typer.Exit(2)
    folder, loaded = _playbooks(cfg, config, path or playbooks, "the command line" if path else "--playbooks")
    errors, warnings = loaded.problems, loaded.warnings
    _echo_problems([*errors, *warnings], lang)
    shown = display_path(folder)
    if errors and warnings:
        _say(f"{len(errors)} problem(s) and {len(warnings)} warning(s) in {shown}", lang, err=True)
    elif errors:
        _say(f"{len(errors)} problem(s) in {shown}", lang, err=True)
    elif warnings:
        _say(f"OK: {len(loaded.playbooks)} playbook(s) in {shown}, {len(warnings)} warning(s)", lang)
    else:
        _say(f"OK: {len(loaded.playbooks)} playbook(s) in {shown}", lang)
    if errors:
        raise typer.Exit(1)


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


@app.command()
def test(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="scenario files or folders (default: PLAYBOOKS/tests)")
    ] = None,
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
) -> None:
    """Run scenario files against the playbooks: one line per scenario, then a summary."""
    from bot.scenario import Result, run_files, scenario_files

    cfg = _config(config)
    lang = cfg.language
    home = _scenario_home(paths or [])
    folder, loaded = _playbooks(cfg, config, playbooks or home, "--playbooks" if playbooks else "the command line")
    if loaded.problems:
        _echo_problems(loaded.problems, lang)
        _say(f"{len(loaded.problems)} problem(s) in {display_path(folder)}: fix them before testing", lang, err=True)
        raise typer.Exit(1)
    targets = list(paths or [folder / SCENARIO_DIR])
    missing = [p for p in targets if not p.exists()]
    if missing:
        _say(f"not found: {', '.join(map(str, missing))}", lang, err=True)
        raise typer.Exit(2)
    files = scenario_files(targets)
    if not files:
        _say(f"no scenario files in {', '.join(map(str, targets))}", lang, err=True)
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


@app.command()
def audit(
    since: Annotated[str, typer.Option("--since", help="how far back, like 7d or 12h")] = "7d",
    config: ConfigOption = None,
) -> None:
    """Print the staff commands used (and refused) recently: when, who, role, command, result."""
    from bot.playbook.types import parse_duration

    cfg = _config(config)
    try:
        span = parse_duration(since)
    except Exception:
        typer.echo(f"--since must be a span like 7d or 12h; got '{since}'", err=True)
        raise typer.Exit(2) from None
    try:
        rows = asyncio.run(_audit_rows(cfg, span))
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None
    for r in rows:
        typer.echo(_audit_line(r, cfg))
    typer.echo(f"{len(rows)} staff command(s) in the last {since}")


def _audit_line(r: Any, cfg: Config) -> str:
    """One row, one line: names and arguments come from members, so they are shown escaped."""
    when = r.at.replace(tzinfo=r.at.tzinfo or UTC).astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M")
    who = f"{r.member_name or r.member_id}（{r.member_id}，{r.role}）"
    about = f"  → {r.target_name or r.target_id}（{r.target_id}）" if r.target_id else ""
    return printable(f"{when}  {who}  /{r.command} {r.args}{about}  [{r.room_id or '私聊'}]  {r.result}")


async def _audit_rows(cfg: Config, span: timedelta) -> list[Any]:
    from sqlalchemy import select

    from bot.clock import SystemClock
    from bot.store import Store
    from bot.store.tables import AuditEntry, Member

    store = await Store.open(cfg.database_path, create=False)
    try:
        async with store.unit() as conn:
            table, members = AuditEntry.__table__, Member.__table__
            since = SystemClock().now() - span
            query = (
                select(table, members.c.name.label("target_name"))
                .outerjoin(members, members.c.id == table.c.target_id)
                .where(table.c.at >= since)
                .order_by(table.c.at)
            )
            return list(await conn.execute(query))
    finally:
        await store.close()


@app.command()
def reload(
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for the running bot's answer")] = 10.0,
) -> None:
    """Have the running bot (every one on this database) re-read the playbooks; its answer lists the problems
    (exit 1 when a file has errors: it runs its last good version, or is left out)."""
    from bot.reload import answered_clean

    cfg = _config(config)
    lang = cfg.language
    _folder(cfg, config, playbooks)
    try:
        answer = asyncio.run(_request_reload(cfg, wait))
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None
    if answer is None:
        _say(
            f"no running bot answered within {wait:g} s (is it running, on {cfg.database_path}?); "
            "a bot reads the playbooks when it starts",
            lang,
            err=True,
        )
        raise typer.Exit(1)
    for line in answer.splitlines():  # the bot answers in English, like its logs: the summary, then any problems
        _say(line, lang)
    if not answered_clean(answer):
        raise typer.Exit(1)


async def _request_reload(cfg: Config, wait: float) -> str | None:
    """Leave a request row and wait for a running bot's answer in it (the bot looks once a second)."""
    from sqlalchemy import insert, select

    from bot.clock import SystemClock
    from bot.store import Store
    from bot.store.tables import ReloadRequest

    table = ReloadRequest.__table__
    store = await Store.open(cfg.database_path, create=False)
    try:
        async with store.unit() as conn:
            request = (await conn.execute(insert(table).values(at=SystemClock().now()))).inserted_primary_key[0]
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            async with store.unit() as conn:
                row = (
                    await conn.execute(select(table.c.result, table.c.answered_at).where(table.c.id == request))
                ).one()
            if row.answered_at is not None:
                return row.result
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.2)
    finally:
        await store.close()


app.add_typer(rooms_commands(_config), name="rooms")


@app.command()
def replay(
    file: Annotated[Path | None, typer.Argument(help="dead-letter file (default: the one beside the database)")] = None,
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
    database: Annotated[str | None, typer.Option(help="database file (default: from config)")] = None,
) -> None:
    """Bring in the events the bot could not store (its dead-letter file): each acts once, in order."""
    from bot.deadletters import beside
    from bot.replay import DUPLICATE, FAILED, NOT_OURS, REPLAYED, replay_file

    cfg = _config(config)
    database = database or cfg.database_path
    path = file or beside(database, cfg)
    if path is None:
        typer.echo(f"the database {database} is in memory: it has no dead-letter file", err=True)
        raise typer.Exit(2)
    if file is not None and not file.exists():
        typer.echo(f"no dead-letter file at {file}", err=True)
        raise typer.Exit(2)
    folder, loaded = _playbooks(cfg, config, playbooks)
    if loaded.problems:
        _echo_problems(loaded.problems, cfg.language)
        _say(
            f"{len(loaded.problems)} problem(s) in {display_path(folder)}: nothing replayed, "
            "since those playbooks would miss the events",
            cfg.language,
            err=True,
        )
        raise typer.Exit(1)
    try:
        outcomes = asyncio.run(replay_file(cfg, loaded, database, path))
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None
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


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of playbooks, for editor autocompletion."""
    from bot.playbook.schema import json_schema

    text = json.dumps(json_schema(), ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {output}")


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
) -> None:
    """Run the bot (the local simulator unless config or --connector says otherwise)."""
    cfg = _config(config)
    name = connector or cfg.connector
    if name not in CONNECTORS:
        _say(f"unknown connector '{name}'; available: {', '.join(CONNECTORS)}", cfg.language, err=True)
        raise typer.Exit(2)
    try:
        logs.setup(cfg, interactive=name == "simulator", verbose=verbose, quiet=quiet, log_file=log_file)
    except logs.LogFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    folder = _folder(cfg, config, playbooks)
    loaded = PlaybookSet([])  # the bot loads the folder as it starts, as any reload would (bot/reload.py)
    database = database or cfg.database_path
    if name == "wechaty":
        _run_wechaty(cfg, loaded, database, folder)
        return
    from bot.simulator.terminal import run_simulator

    try:
        asyncio.run(run_simulator(cfg, loaded, database=database, folder=folder))
    except DatabaseGone as exc:
        _stop_for(exc)
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


def _run_wechaty(config: Config, playbooks: PlaybookSet, database: str, folder: Path) -> None:
    """Real WeChat: a connection or login failure is one line and exit 3, never a traceback."""
    from bot.connectors.wechaty import ConnectorError, WechatyConnector

    try:
        connector = WechatyConnector.from_config(config, database=database)
        asyncio.run(_serve(config, playbooks, database, connector, folder))
    except ConnectorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_CONNECTOR) from None
    except DatabaseGone as exc:
        _stop_for(exc)
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None


def _stop_for(exc: DatabaseGone) -> NoReturn:
    """One line in the log (the operator's record), and an exit code a supervisor can refuse to restart on."""
    logging.getLogger("qunguan.cli").error("%s", exc)
    raise typer.Exit(EXIT_DATABASE_GONE) from None


async def _serve(config: Config, playbooks: PlaybookSet, database: str, connector: Connector, folder: Path) -> None:
    """Run until SIGTERM or SIGINT, then stop the connector and close the store. Raises DatabaseGone when the
    database file is deleted or replaced meanwhile."""
    from bot.app import Bot
    from bot.clock import SystemClock
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
    starting = asyncio.ensure_future(connector.start(bot.receive))
    stopping = asyncio.ensure_future(stop.wait())
    gone = asyncio.ensure_future(bot.store.gone())
    try:
        await asyncio.wait({starting, stopping, gone}, return_when=asyncio.FIRST_COMPLETED)
        if gone.done():
            raise gone.result()
        if not starting.done():  # asked to stop while still connecting
            return
        starting.result()
        await bot.start()  # the outbox sends what is queued, from before a restart too
        bot.scheduler.start()
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
    app()
