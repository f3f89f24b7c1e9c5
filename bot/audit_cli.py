"""`qunguan audit`: the staff commands used (and refused) recently, from the audit table, and what moderation did
(the moderation log the moderation abilities keep: warnings, removals, the blacklist)."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Annotated, Any

import typer
from sqlalchemy import Select, select

from bot.cli_shared import ConfigOption, on_database, read_config
from bot.config import Config
from bot.store.tables import AuditEntry, Member
from bot.textnorm import printable

CONSOLE_ACTION = "console."  # how the web console's writes are named in the audit table (bot/console/auth.py)


def audit(
    since: Annotated[str, typer.Option("--since", help="how far back, like 7d or 12h")] = "7d",
    config: ConfigOption = None,
) -> None:
    """Print the staff commands used (and refused) recently: when, who, role, command, result; then the
    moderation actions: when, what, whom, where, why, by which playbook or staff member, on which message."""
    from bot.playbook.types import parse_duration

    cfg = read_config(config)
    try:
        span = parse_duration(since)
    except Exception:
        typer.echo(f"--since must be a span like 7d or 12h; got '{since}'", err=True)
        raise typer.Exit(2) from None
    rows, moderation = on_database(_audit_rows(cfg, span))
    for r in rows:
        typer.echo(audit_line(r, cfg))
    typer.echo(f"{len(rows)} staff command(s) in the last {since}")
    if moderation:  # a shop without moderation sees no empty section
        for r in moderation:
            typer.echo(_moderation_line(r, cfg))
        typer.echo(f"{len(moderation)} moderation action(s) in the last {since}")


def audit_line(r: Any, cfg: Config) -> str:
    """One row, one line: names and arguments come from members, so they are shown escaped (the console's 审计
    page shows the same line)."""
    when = r.at.replace(tzinfo=r.at.tzinfo or UTC).astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M")
    who = f"{r.member_name or r.member_id}（{r.member_id}，{r.role}）"
    about = f"  → {r.target_name or r.target_id}（{r.target_id}）" if r.target_id else ""
    return printable(f"{when}  {who}  {command_shown(r)} {r.args}{about}  [{where_shown(r)}]  {r.result}")


def command_shown(r: Any) -> str:
    """A chat command as typed (/加分), a console action by its name (console.login)."""
    return r.command if r.command.startswith(CONSOLE_ACTION) else f"/{r.command}"


def where_shown(r: Any) -> str:
    """Where it was done: the group, a private chat, or the web console."""
    return "网页后台" if r.command.startswith(CONSOLE_ACTION) else r.room_id or "私聊"


def audit_query() -> Select[Any]:
    """Audit rows with the name of the member each was about, oldest first: callers add their filters."""
    table, members = AuditEntry.__table__, Member.__table__
    return (
        select(table, members.c.name.label("target_name"))
        .outerjoin(members, members.c.id == table.c.target_id)
        .order_by(table.c.at, table.c.id)
    )


def _moderation_line(r: Any, cfg: Config) -> str:
    """One moderation log row, one line (escaped: names, reasons and message texts come from members)."""
    when = r.at.replace(tzinfo=r.at.tzinfo or UTC).astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M")
    who = f"{r.member_name or r.member_id}（{r.member_id}）"
    by = f"staff {r.staff_id}" if r.staff_id else f"playbook {r.playbook_id}" if r.playbook_id else "automatic"
    said = f"  ← {r.message_kind}: {r.message_text or ''}{' ' + r.message_url if r.message_url else ''}"
    line = f"{when}  {r.action} {who}  [{r.room_id or '私聊'}]  {r.reason or '—'}  {by}"
    return printable(line + (said if r.message_kind else ""))


async def _audit_rows(cfg: Config, span: timedelta) -> tuple[list[Any], list[Any]]:
    from bot.clock import SystemClock
    from bot.store import Store
    from bot.store.migrations import schema

    store = await Store.open(cfg.database_path, create=False)
    try:
        async with store.unit() as conn:
            since = SystemClock().now() - span
            query = audit_query().where(AuditEntry.__table__.c.at >= since)
            moderation = schema().tables.get("moderation_log")  # the moderation abilities' (bot/ names no handler)
            moderated = (
                []
                if moderation is None
                else await conn.execute(
                    select(moderation).where(moderation.c.at >= since).order_by(moderation.c.at, moderation.c.id)
                )
            )
            return list(await conn.execute(query)), list(moderated)
    finally:
        await store.close()
