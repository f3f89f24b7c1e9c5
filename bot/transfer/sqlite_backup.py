"""SQLite's online backup API: a consistent copy of a database file while a bot reads and writes it.

The copy is made in one step, inside one read transaction: in WAL mode that sees one committed state of the
database and never blocks the bot's writers (copied in several steps, every write by the bot between two steps
would make SQLite start over, and a busy bot could keep it starting over forever)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from bot.transfer.urls import TransferError

PAGES = -1  # all in one step: a read transaction in WAL mode sees one committed state and blocks no writer


def _connect_existing(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise TransferError(f"no database at {path}")
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise TransferError(f"cannot open {path}: {exc}") from None


def has_rows(path: Path) -> bool:
    """Whether a file is a SQLite database with any table in it (an empty or missing file is not)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return True  # something is there: not ours to overwrite
    try:
        return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.Error:
        return True
    finally:
        conn.close()


def in_use(path: Path) -> bool:
    """Whether another process (a running bot) has the database open: in WAL mode every open connection holds a
    shared lock that an exclusive lock attempt runs into at once."""
    if not path.exists():
        return False
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    except sqlite3.Error:
        return False
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def schema_version(path: Path) -> int | None:
    """The Qunguan schema version a database file says it is at; None for a file that is not a Qunguan database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        return None
    finally:
        conn.close()


def copy_database(source: Path, destination: Path) -> None:
    """A consistent copy of `source` at `destination`, written beside it first and renamed into place, so the
    destination is either the whole copy or untouched (a full disk or a killed copy leaves no half file)."""
    reader = _connect_existing(source)
    partial = destination.with_name(f".{destination.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer, pages=PAGES)
            writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            if writer.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise TransferError(f"the copy of {source} failed its integrity check")
        finally:
            writer.close()
        os.replace(partial, destination)
    except sqlite3.Error as exc:
        raise TransferError(f"cannot copy {source} to {destination}: {exc}") from None
    except OSError as exc:
        raise TransferError(f"cannot write {destination}: {exc.strerror}") from None
    finally:
        reader.close()
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
