"""Playbook versions: each file's text as it loaded, kept when it changed. A path's newest row is its last good
version (what runs while the file has errors, bot/reload.py); all of a path's rows are its history."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.dialect import upsert
from bot.store.tables import PlaybookVersion, Setting

_versions = PlaybookVersion.__table__
_settings = Setting.__table__


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


# -- a fleet: the set of versions every process runs

SHARED = "fleet.playbooks"  # the settings row: {path: hash} of what runs, written by the process that loaded it


async def share(conn: AsyncConnection, running: dict[str, str]) -> str:
    """Say which versions run (path -> hash, each a row of playbook_versions): every process of the fleet swaps
    the same set in (bot/fleet/shared.py). Returns the row's value, what a process compares to on each beat."""
    value = json.dumps(running, sort_keys=True, ensure_ascii=False)
    row = {"key": SHARED, "value": value}
    await conn.execute(upsert(conn, _settings, row, ["key"], {"value": value}))
    return value


async def shared(conn: AsyncConnection) -> str | None:
    """The set the fleet runs, as `share` wrote it; None before any process of a fleet loaded playbooks."""
    return (await conn.execute(select(_settings.c.value).where(_settings.c.key == SHARED))).scalar()


async def texts(conn: AsyncConnection, running: dict[str, str]) -> dict[str, str]:
    """The text of each version in `running` (path -> hash), by path; a version no longer kept is missing."""
    if not running:
        return {}
    wanted = _versions.c.path.in_(list(running)), _versions.c.hash.in_(set(running.values()))
    rows = await conn.execute(select(_versions.c.path, _versions.c.hash, _versions.c.text).where(*wanted))
    return {row.path: row.text for row in rows if running[row.path] == row.hash}
