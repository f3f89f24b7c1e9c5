"""`qunguan fleet`: each account of the fleet at a glance (bot/fleet/board.py), as a table or as JSON for scripts.

It only reads, on a read-only connection, while the bots run: it never creates a database nor a table.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Connection, create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.cli_shared import ConfigOption, read_config
from bot.clock import SystemClock
from bot.config import Config
from bot.store.database import database_file, database_url
from bot.textnorm import printable


class Unreadable(Exception):
    """The fleet cannot be read where config.yaml says: one line for the operator (Chinese / English)."""


def fleet(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (for scripts) instead of a table")] = False,
) -> None:
    """Each account: online or not, last heartbeat, groups it speaks for, queue, sent today against its limit,
    paused or not."""
    cfg = read_config(config)
    now = SystemClock().now()
    try:
        accounts = asyncio.run(read_board(cfg, now))
    except Unreadable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({"at": now.isoformat(), "accounts": accounts}, ensure_ascii=False, indent=2))
    elif not accounts:
        typer.echo("还没有任何微信号（config.yaml 没有 accounts）/ no accounts in config.yaml or the database")
    else:
        Console(highlight=False).print(table(accounts, cfg, now))


async def read_board(config: Config, now: datetime) -> list[dict[str, Any]]:
    """bot/fleet/board.py on a read-only connection: a SQLite file opened read-only, or a read-only PostgreSQL
    session."""
    from bot.fleet.board import board

    read = partial(_checked, board=partial(board, config=config, now=now))
    url = database_url(config.database_path)
    file = database_file(url)
    try:
        if file is not None:
            if not file.exists():
                raise Unreadable(
                    f"没有数据库 {file}：机器人还没有运行过？/ no database at {file}: has the bot run here?"
                )
            engine = create_engine(f"sqlite:///file:{file}?mode=ro&uri=true", connect_args={"uri": True})
            try:
                with engine.connect() as conn:
                    return read(conn)
            finally:
                engine.dispose()
        if not url.startswith("postgresql"):
            raise Unreadable(f"这个数据库不能读取 / cannot read the fleet from {config.database_path}")
        read_only = {"server_settings": {"default_transaction_read_only": "on"}}
        server = create_async_engine(url, connect_args=read_only)
        try:
            async with server.connect() as conn:
                return await conn.run_sync(read)
        finally:
            await server.dispose()
    except (SQLAlchemyError, OSError) as exc:
        raise Unreadable(f"读取数据库失败 / database error: {str(exc).splitlines()[0]}") from None


def _checked(conn: Connection, board: Any) -> list[dict[str, Any]]:
    if not inspect(conn).has_table("fleet_accounts"):
        raise Unreadable(
            "数据库里还没有多账号的表，请先运行一次机器人 / the database has no fleet tables yet: run the bot once"
        )
    return list(board(conn))


def table(accounts: list[dict[str, Any]], config: Config, now: datetime) -> Table:
    """Member-made and WeChat-made text (topics, reasons) goes in as plain text: never rich markup."""
    grid = Table(title=f"群管 · 微信号（{now.astimezone(config.tz):%Y-%m-%d %H:%M:%S}）")
    for header in ("微信号", "状态", "最后心跳", "发言的群", "待发", "今日已发/上限", "限速"):
        grid.add_column(header)
    for a in accounts:
        state = a["status_text"] + (f"：{a['reason']}" if a["reason"] else "")
        governor = a["governor"]
        paused = "暂停" + (f"（{governor['why']}）" if governor.get("why") else "") if governor["paused"] else "正常"
        grid.add_row(
            *(
                Text(printable(str(cell)))
                for cell in (
                    a["account"],
                    state,
                    heartbeat(a, config),
                    a["groups"],
                    a["queue"],
                    f"{a['sent_today']}/{a['daily_limit']}",
                    paused,
                )
            ),
            style="green" if a["online"] else "red",
        )
    return grid


def heartbeat(account: dict[str, Any], config: Config) -> str:
    if account["heartbeat_at"] is None:
        return "—"
    at = datetime.fromisoformat(account["heartbeat_at"]).astimezone(config.tz)
    return f"{at:%m-%d %H:%M:%S}（{account['heartbeat_ago']} 秒前）"
