"""`qunguan console`: the web console alone (no chat connector), on the bot's database; `--login WXID` prints a
one-time login link for the machine's operator instead."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, PlaybooksOption, on_database, playbooks_folder, read_config
from bot.config import Config

DEFAULT_LISTEN = "127.0.0.1:8080"


def console(
    login: Annotated[
        str | None, typer.Option("--login", help="print a one-time login link for this staff WeChat id and exit")
    ] = None,
    listen: Annotated[str | None, typer.Option(help=f"host:port (default: web.listen, else {DEFAULT_LISTEN})")] = None,
    database: Annotated[str | None, typer.Option(help="database file (default: from config)")] = None,
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
) -> None:
    """Serve the web console without a chat connector (the bot may run elsewhere on the same database)."""
    from bot.console.server import ListenError

    cfg = read_config(config)
    path = database or cfg.database_path
    if login is not None:
        link = on_database(_link(cfg, path, login))
        if link is None:
            typer.echo(f"{login} is not in config.yaml's staff: (owner, admin or staff): no login link", err=True)
            raise typer.Exit(1)
        typer.echo(link)
        return
    try:
        folder = playbooks_folder(cfg, config, playbooks)
        on_database(_serve(cfg, path, listen or cfg.web.listen or DEFAULT_LISTEN, folder))
    except ListenError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


async def _link(config: Config, database: str, member_id: str) -> str | None:
    from bot.clock import SystemClock
    from bot.console.auth import issue_link
    from bot.store import Store

    clock = SystemClock()
    store = await Store.open(database, clock=clock)
    try:
        async with store.unit() as conn:
            return await issue_link(conn, config, member_id, clock.now())
    finally:
        await store.close()


async def _serve(config: Config, database: str, listen: str, folder: Path) -> None:
    """Until SIGINT or SIGTERM."""
    from bot.clock import SystemClock
    from bot.console.guard import Console
    from bot.console.server import serving
    from bot.store import Store

    clock = SystemClock()
    store = await Store.open(database, clock=clock)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serving(Console(store, config, clock, folder), listen):
            typer.echo(f"console on http://{listen} (public: {config.web.public_url}); stop with Ctrl+C")
            await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await store.close()
