"""`qunguan migrate --from data/qunguan.db --to postgresql://...`: every row into a new, empty database, checked
table by table (bot/transfer/migrate.py); a table of what moved; exit 1 when a check differs (nothing kept)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from bot.cli_shared import ConfigOption, read_config
from bot.store import StoreError
from bot.transfer.copy import BATCH, Mismatch, Report
from bot.transfer.migrate import migrate_database
from bot.transfer.speech import refuse, speak
from bot.transfer.urls import TransferError, shown

MISMATCH = 1  # exit code: the copy did not match its source (and was rolled back)


def _table(report: Report, language: str) -> None:
    zh = language != "en"
    head = ("表", "行数", "校验项", "结果") if zh else ("table", "rows", "checks", "result")
    width = max([len(head[0]), *(len(t.table) for t in report.tables)])
    typer.echo(f"{head[0]:<{width}}  {head[1]:>9}  {head[2]:>6}  {head[3]}")
    for moved in report.tables:
        good = ("一致", "ok") if not moved.differences else ("不一致：", "MISMATCH: ")
        detail = "; ".join(moved.differences)
        speak(
            language,
            f"{moved.table:<{width}}  {moved.rows:>9}  {moved.measures:>6}  {good[0]}{detail}",
            f"{moved.table:<{width}}  {moved.rows:>9}  {moved.measures:>6}  {good[1]}{detail}",
        )


def migrate_command(
    target: Annotated[str, typer.Option("--to", help="the new, empty database: postgresql://user@host/db or a file")],
    source: Annotated[
        str | None, typer.Option("--from", help="the database to copy (default: the one config names)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="rows read and written at a time")] = BATCH,
    config: ConfigOption = None,
) -> None:
    """Copy every row of the shop's database into a new, empty one (SQLite to PostgreSQL), all or nothing,
    then check every table on both sides (row counts, sums of numbers, lengths of texts)."""
    cfg = read_config(config)
    language = cfg.language
    source = source or cfg.database_path
    into = f"{shown(source)} -> {shown(target)}"
    speak(language, f"正在复制 {into} ……", f"copying {into} ...")

    def progress(table: str, rows: int) -> None:  # a large table takes a while: say where the copy is
        speak(
            language, f"  已复制 {table}：{rows} 行（尚未提交）", f"  copied {table}: {rows} rows (not committed yet)"
        )

    try:
        report = asyncio.run(migrate_database(source, target, batch=batch, progress=progress))
    except Mismatch as exc:
        _table(exc.report, language)
        raise refuse(
            language, f"the copy in {shown(target)} did not match its source and was rolled back", MISMATCH
        ) from None
    except (TransferError, StoreError) as exc:
        raise refuse(language, str(exc)) from None
    _table(report, language)
    speak(
        language,
        f"完成：{len(report.tables)} 张表、{report.rows} 行已复制到 {shown(target)}，每张表的行数与各列合计都一致",
        f"done: {len(report.tables)} tables, {report.rows} rows copied to {shown(target)}; "
        "every table's row count and column totals match",
    )
