"""SQLite's online backup API: a consistent copy of a database file while a bot reads and writes it.

The backup copies pages in steps; when another connection writes between two steps, SQLite starts over (it
restarts by itself), so the copy is always one committed state of the database, never a mix."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from bot.transfer.urls import TransferError

PAGES = 1024  # pages per step: a running bot's writes get in between steps


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
