"""`qunguan audit`: the staff commands used (and refused) recently, from the audit table."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Annotated, Any

import typer

from bot.cli_shared import ConfigOption, on_database, read_config
from bot.config import Config
from bot.textnorm import printable


def audit(
    since: Annotated[str, typer.Option("--since", help="how far back, like 7d or 12h")] = "7d",
    config: ConfigOption = None,
) -> None:
    """Print the staff commands used (and refused) recently: when, who, role, command, result."""
    from bot.playbook.types import parse_duration

    cfg = read_config(config)
    try:
        span = parse_duration(since)
    except Exception:
        typer.echo(f"--since must be a span like 7d or 12h; got '{since}'", err=True)
        raise typer.Exit(2) from None
    rows = on_database(_audit_rows(cfg, span))
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
