"""Playbook versions: each file's text as it loaded, kept when it changed. A path's newest row is its last good
version (what runs while the file has errors, bot/reload.py); all of a path's rows are its history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import PlaybookVersion

_versions = PlaybookVersion.__table__


async def newest(conn: AsyncConnection, paths: Iterable[str]) -> dict[str, Row[Any]]:
    """The newest row of each path that has one: the last good versions."""
    wanted = list(paths)
    if not wanted:
        return {}
    latest = (
        select(func.max(_versions.c.id))
        .where(_versions.c.path.in_(wanted))
        .group_by(_versions.c.path)
        .scalar_subquery()
    )
    rows = await conn.execute(select(_versions).where(_versions.c.id.in_(latest)))
    return {row.path: row for row in rows}


async def record(conn: AsyncConnection, texts: dict[str, tuple[str, str]], *, at: datetime, by: str) -> list[str]:
    """Keep `texts` (path -> (text, hash)) that differ from their path's newest row; returns the paths kept."""
    have = await newest(conn, texts)
    changed = [path for path, (_text, digest) in texts.items() if path not in have or have[path].hash != digest]
    if changed:
        rows = [{"path": p, "text": texts[p][0], "hash": texts[p][1], "at": at, "loaded_by": by} for p in changed]
        await conn.execute(insert(_versions), rows)
    return changed


async def history(
    conn: AsyncConnection, path: str | None = None, *, since: datetime | None = None
) -> Sequence[Row[Any]]:
    """The versions of one path (or of every path), oldest first, from `since` on."""
    query = select(_versions).order_by(_versions.c.at, _versions.c.id)
    if path is not None:
        query = query.where(_versions.c.path == path)
    if since is not None:
        query = query.where(_versions.c.at >= since)
    return (await conn.execute(query)).all()
