"""PostgreSQL's own tools for a backup: pg_dump in its custom format, pg_restore in one transaction.

The connection goes to them in the environment (PGHOST, PGUSER, PGPASSWORD, ...), never on the command line,
where any user of the machine could read the password in the process list."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.transfer.urls import TransferError

_SSL_KEYS = ("sslmode", "ssl")


def tool(name: str) -> Path:
    """pg_dump or pg_restore: on PATH, else in `pg_config --bindir`, else Debian's newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return Path(found)
    folders: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        folders.append(Path(done.stdout.strip()))
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p.parent.name), reverse=True)
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise TransferError(f"{name} not found (Debian: apt-get install postgresql-client)")


def _major(version: str) -> int:
    return int(version) if version.isdigit() else 0


def environment(url: str) -> dict[str, str]:
    """The libpq variables naming the database a URL does, on top of this process's environment."""
    parsed = make_url(url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[name] = str(value)
    for key in _SSL_KEYS:
        if key in parsed.query:
            env["PGSSLMODE"] = str(parsed.query[key])
    return env


def _run(command: list[str], url: str) -> None:
    try:
        done = subprocess.run(command, env=environment(url), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise TransferError(f"cannot run {command[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        raise TransferError(f"{Path(command[0]).name} failed: {' / '.join(said[-3:]) or f'exit {done.returncode}'}")


def dump(url: str, file: Path) -> None:
    """The whole database into `file` (custom format), written beside it first: a failed dump leaves no file."""
    partial = file.with_name(f".{file.name}.partial")
    try:
        _run([str(tool("pg_dump")), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"], url)
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)


def restore(url: str, file: Path, *, replace: bool) -> None:
    """`file` into the database, in one transaction (all or nothing); `replace` drops what is there first."""
    database = make_url(url).database or ""
    command = [str(tool("pg_restore")), "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]
    if replace:
        command += ["--clean", "--if-exists"]
    _run([*command, f"--dbname={database}", str(file)], url)
