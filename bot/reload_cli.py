"""`qunguan reload`: ask the running bot to re-read the playbooks (bot/reload.py answers, listing the problems)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, PlaybooksOption, on_database, playbooks_folder, read_config, say
from bot.config import Config


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
    playbooks_folder(cfg, config, playbooks)
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
            request = await request_reload(conn, clock.now())
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
