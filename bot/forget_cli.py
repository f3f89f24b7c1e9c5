"""`qunguan forget WXID`: erase a member from the database (bot/forget.py), after a confirmation."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, on_database, read_config
from bot.clock import SystemClock
from bot.config import Config
from bot.forget import Erasure, forget, summary
from bot.store import Store
from bot.textnorm import printable

UNKNOWN = 1  # exit code for an id the database has never seen


async def _erase(config: Config, member_id: str) -> Erasure:
    store = await Store.open(config.database_path, create=False)  # a missing one is exit 2, never created
    try:
        async with store.unit() as conn:
            return await forget(conn, member_id, at=SystemClock().now())
    finally:
        await store.close()


def forget_command(
    member_id: Annotated[str, typer.Argument(help="the member's WeChat id (wxid), as `qunguan audit` shows it")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    config: ConfigOption = None,
) -> None:
    """Erase a member: name, name history, texts, tags, profile values; points, orders and audit stay, under a
    pseudonym. The opt-out and the blacklist keep the id. A running bot that sees them again sees a new member."""
    cfg = read_config(config)
    shown = printable(member_id)
    if not yes and not typer.confirm(f"确定要遗忘成员 {shown}？姓名、发言、标签、资料将被删除，无法恢复"):
        typer.echo("已取消，未做任何修改")
        raise typer.Exit(1)
    done = on_database(_erase(cfg, member_id))
    if done.found:
        typer.echo(printable(summary(done)))
    elif done.already:
        typer.echo(f"成员 {shown} 已被遗忘过（化名 {done.pseudonym}），没有需要删除的内容")
    else:
        typer.echo(f"数据库里没有成员 {shown}：请核对微信 id（`qunguan audit` 列出成员 id）", err=True)
        raise typer.Exit(UNKNOWN)
