"""`qunguan reload`: ask the running bot to re-read the playbooks (bot/reload.py answers, listing the problems)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_shared import ConfigOption, PlaybooksOption, on_database, playbooks_folder, read_config, say
from bot.config import Config

if TYPE_CHECKING:
    from bot.reload import Outcome


def reload(
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for the running bot's answer")] = 10.0,
) -> None:
    """Have the running bot (every one on this database) re-read the playbooks; its answer lists the problems
    (exit 1 when a file has errors: it runs its last good version, or is left out)."""
    from bot.reload import answered_clean

    cfg = read_config(config)
    lang = cfg.language
    folder = playbooks_folder(cfg, config, playbooks)
    if cfg.accounts:
        _reload_fleet(cfg, folder, wait)
        return
    answer = on_database(_request_reload(cfg, wait))
    if answer is None:
        say(
            f"no running bot answered within {wait:g} s (is it running, on {cfg.database_path}?); "
            "a bot reads the playbooks when it starts",
            lang,
            err=True,
        )
        raise typer.Exit(1)
    for line in answer.splitlines():  # the bot answers in English, like its logs: the summary, then any problems
        say(line, lang)
    if not answered_clean(answer):
        raise typer.Exit(1)


def _reload_fleet(cfg: Config, folder: Path, wait: float) -> None:
    """A fleet: this folder's versions become the set every process runs; each account's process answers once it
    swapped them in (one that is not running loads them when it starts)."""
    from bot.reload import answered_clean

    lang = cfg.language
    stored, answers = on_database(_request_fleet_reload(cfg, folder, wait))
    for line in stored.lines():
        say(line, lang)
    if not stored.swapped:
        raise typer.Exit(1)
    for account in cfg.accounts:
        answer = answers.get(account)
        if answer is None:
            silent = f"no answer within {wait:g} s (not running? it loads these versions when it starts)"
            say(f"account {account}: {silent}", lang)
        else:
            say(f"account {account}: {answer.partition(chr(10))[0]}", lang)
    if not stored.clean or not all(answered_clean(a) for a in answers.values()):
        raise typer.Exit(1)


async def _request_fleet_reload(cfg: Config, folder: Path, wait: float) -> tuple[Outcome, dict[str, str]]:
    from sqlalchemy import select

    from bot.clock import SystemClock
    from bot.reload import request_reload, share_folder
    from bot.store import Store
    from bot.store.tables import ReloadRequest

    table = ReloadRequest.__table__
    clock = SystemClock()
    store = await Store.open(cfg.database_path, create=False)
    try:
        stored = await share_folder(store, cfg, folder, clock.now())
        if not stored.swapped:
            return stored, {}
        async with store.unit() as conn:
            ids = await request_reload(conn, clock.now(), list(cfg.accounts))
        deadline = clock.now() + timedelta(seconds=wait)
        while True:
            async with store.unit() as conn:
                answered = table.c.id.in_(ids), table.c.answered_at.is_not(None)
                query = select(table.c.account, table.c.result).where(*answered)
                answers = {row.account: row.result for row in await conn.execute(query)}
            if len(answers) == len(ids) or clock.now() >= deadline:
                return stored, answers
            await clock.sleep(0.2)
    finally:
        await store.close()


async def _request_reload(cfg: Config, wait: float) -> str | None:
    """Leave a request row and wait for a running bot's answer in it (the bot looks once a second)."""
    from sqlalchemy import select

    from bot.clock import SystemClock
    from bot.reload import request_reload
    from bot.store import Store
    from bot.store.tables import ReloadRequest

    table = ReloadRequest.__table__
    clock = SystemClock()
    store = await Store.open(cfg.database_path, create=False)
    try:
        async with store.unit() as conn:
            (request,) = await request_reload(conn, clock.now())
        deadline = clock.now() + timedelta(seconds=wait)
        while True:
            async with store.unit() as conn:
                row = (
                    await conn.execute(select(table.c.result, table.c.answered_at).where(table.c.id == request))
                ).one()
            if row.answered_at is not None:
                return row.result
            if clock.now() >= deadline:
                return None
            await clock.sleep(0.2)
    finally:
        await store.close()
