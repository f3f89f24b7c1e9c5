"""`qunguan backup FILE` and `qunguan restore FILE`: the configured database (or --database) to a file and back
(bot/transfer/backup.py). SQLite's backup may be taken while the bot runs; restore wants the bot stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, read_config
from bot.store import StoreError
from bot.transfer import backup as transfer
from bot.transfer.speech import refuse, speak
from bot.transfer.urls import TransferError, shown

DatabaseOption = Annotated[str | None, typer.Option(help="database file or URL (default: from config)")]


def backup(
    file: Annotated[Path, typer.Argument(help="the backup file to write")],
    database: DatabaseOption = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite FILE if it exists")] = False,
    config: ConfigOption = None,
) -> None:
    """Back the database up into FILE: SQLite's online backup (safe while the bot runs), or pg_dump's custom format."""
    cfg = read_config(config)
    database = database or cfg.database_path
    try:
        transfer.backup(database, file, force=force)
    except TransferError as exc:
        raise refuse(cfg.language, str(exc)) from None
    speak(cfg.language, f"已备份 {shown(database)} 到 {file}", f"backed up {shown(database)} to {file}")


def restore(
    file: Annotated[Path, typer.Argument(help="a file `qunguan backup` wrote")],
    database: DatabaseOption = None,
    force: Annotated[bool, typer.Option("--force", help="replace a database that already holds tables")] = False,
    config: ConfigOption = None,
) -> None:
    """Restore FILE into the database, all or nothing. Stop the bot first; a database with tables is replaced only
    with --force."""
    cfg = read_config(config)
    database = database or cfg.database_path
    try:
        asyncio.run(transfer.restore(file, database, force=force))
    except (TransferError, StoreError) as exc:
        raise refuse(cfg.language, str(exc)) from None
    speak(
        cfg.language,
        f"已从 {file} 恢复到 {shown(database)}；现在可以启动机器人",
        f"restored {file} into {shown(database)}; the bot may start now",
    )
