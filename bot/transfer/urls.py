"""Database names as an operator writes them: a SQLite path, `postgresql://...` (meaning asyncpg), or a full URL."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


class TransferError(Exception):
    """What an operator gave cannot be moved, backed up or restored: one clear line, nothing written."""


def normalise(database: str) -> str:
    """`postgresql://` and `postgres://` mean asyncpg (the driver Qunguan ships); a path stays a path."""
    if "://" not in database:
        return database
    try:
        url = make_url(database)
        url.port  # noqa: B018  (a port that is not a number fails here, not deep inside the driver)
    except (ArgumentError, ValueError):
        raise TransferError(f"not a database URL: {shown(database)}") from None
    if url.drivername in POSTGRES_SCHEMES:
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    if url.drivername.startswith("sqlite"):
        return database
    raise TransferError(
        f"unsupported database URL {shown(database)}: use a SQLite file path or postgresql://user@host/database"
    )


def is_postgresql(database: str) -> bool:
    return database.startswith("postgresql")


def shown(database: str) -> str:
    """A URL fit for a message or a log: the password masked."""
    if "://" not in database:
        return database
    try:
        return make_url(database).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return database.split("://", 1)[0] + "://..."
