"""`qunguan backup FILE` and `qunguan restore FILE` for either store.

SQLite: the online backup API (bot/transfer/sqlite_backup.py), safe while the bot runs. Restore writes the
whole file beside the database and renames it into place; it refuses a database a running bot has open, and
one that holds tables unless told to replace it. PostgreSQL: pg_dump's custom format and pg_restore in one
transaction (bot/transfer/pg_tools.py); restore refuses a database others are connected to, and one with
tables unless told to replace them."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.store import Store, StoreError, dialect
from bot.store.database import database_file, database_url
from bot.store.migrations import SCHEMA_VERSION
from bot.transfer import pg_tools
from bot.transfer.sqlite_backup import copy_database, has_rows, in_use, schema_version
from bot.transfer.urls import TransferError, is_postgresql, normalise, shown

SQLITE_MAGIC = b"SQLite format 3\x00"
DUMP_MAGIC = b"PGDMP"


def _file_of(database: str) -> Path:
    file = database_file(database_url(database))
    if file is None:
        raise TransferError(f"the database {database} is in memory: there is nothing to back up or restore")
    return file


def _kind(file: Path) -> str:
    with file.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(DUMP_MAGIC):
        return "postgresql"
    return "unknown"


def backup(database: str, file: Path, *, force: bool = False) -> None:
    database = normalise(database)
    if file.exists() and not force:
        raise TransferError(f"{file} already exists: give another file name, or --force to overwrite it")
    if file.parent and not file.parent.is_dir():
        raise TransferError(f"no folder {file.parent} for {file.name}")
    if is_postgresql(database):
        pg_tools.dump(database, file)
    else:
        copy_database(_file_of(database), file)


async def restore(file: Path, database: str, *, force: bool = False) -> None:
    database = normalise(database)
    if not file.is_file():
        raise TransferError(f"no backup file at {file}")
    kind = _kind(file)
    if kind == "unknown":
        raise TransferError(f"{file} is neither a SQLite database nor a pg_dump custom-format file")
    if is_postgresql(database):
        if kind == "sqlite":
            raise TransferError(
                f"{file} is a SQLite backup and the database is PostgreSQL: "
                f"use `qunguan migrate --from {file} --to DATABASE_URL` instead"
            )
        await _check_postgresql(database, force=force)
        pg_tools.restore(database, file, replace=force)
        return
    if kind == "postgresql":
        raise TransferError(f"{file} is a PostgreSQL dump: restore it into a PostgreSQL database")
    _restore_sqlite(file, _file_of(database), force=force)


def _restore_sqlite(file: Path, target: Path, *, force: bool) -> None:
    found = schema_version(file)
    if found is None:
        raise TransferError(f"{file} is not a Qunguan database (it has no schema version)")
    if found > SCHEMA_VERSION:
        raise TransferError(f"{file} is at schema version {found}, newer than this Qunguan ({SCHEMA_VERSION})")
    if in_use(target):
        raise TransferError(f"{target} is open in another process (a running bot?): stop it first")
    if has_rows(target) and not force:
        raise TransferError(
            f"{target} already holds a database: restoring replaces it whole; stop the bot, then add --force"
        )
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.restoring")
    copy_database(file, staging)
    try:
        for leftover in ("-wal", "-shm", "-journal"):  # the old database's: SQLite would apply them to the new one
            Path(f"{target}{leftover}").unlink(missing_ok=True)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


async def _check_postgresql(url: str, *, force: bool) -> None:
    """The target must be reachable, have no other connection (a running bot) and, unless forced, no tables."""
    store = Store.connect(url)
    try:
        async with store.unit() as conn:
            others = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            tables = await conn.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"))
    except (SQLAlchemyError, OSError) as exc:
        raise TransferError(f"cannot reach {shown(url)}: {dialect.describe(exc)}") from None
    except StoreError as exc:
        raise TransferError(str(exc)) from None
    finally:
        await store.close()
    if others:
        raise TransferError(f"{others} other connection(s) are open on {shown(url)} (a running bot?): stop them first")
    if tables and not force:
        raise TransferError(
            f"{shown(url)} already holds {tables} table(s): restore into a new, empty database, or add --force to "
            "replace them"
        )
