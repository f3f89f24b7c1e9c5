"""`qunguan reload`: check the playbooks, then ask the running bot to re-read them (bot/reload.py answers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, PlaybooksOption, echo_problems, on_database, read_config, read_playbooks, say
from bot.config import Config
from bot.playbook.library import display_path


def reload(
    config: ConfigOption = None,
    playbooks: PlaybooksOption = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for the running bot's answer")] = 10.0,
) -> None:
    """Check the playbooks, then have the running bot (every one on this database) re-read them."""
    cfg = read_config(config)
    lang = cfg.language
    folder, loaded = read_playbooks(cfg, config, playbooks)
    echo_problems(loaded.problems, lang)  # warnings come in the running bot's answer
    if loaded.problems:
        say(
            f"{len(loaded.problems)} problem(s) in {display_path(folder)}: nothing reloaded, "
            "the running bot keeps its playbooks",
            lang,
            err=True,
        )
        raise typer.Exit(1)
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
    if not answer.startswith("reloaded"):
        raise typer.Exit(1)


async def _request_reload(cfg: Config, wait: float) -> str | None:
    """Leave a request row and wait for a running bot's answer in it (the bot looks once a second)."""
    from sqlalchemy import insert, select

    from bot.clock import SystemClock
    from bot.store import Store
    from bot.store.tables import ReloadRequest

    table = ReloadRequest.__table__
    clock = SystemClock()
    store = await Store.open(cfg.database_path, create=False)
    try:
        async with store.unit() as conn:
            request = (await conn.execute(insert(table).values(at=clock.now()))).inserted_primary_key[0]
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
