"""The bench's own throwaway PostgreSQL server, and the shop's members copied into it.

A bench copy of tests/backends.py's cluster rather than an import of it: tests/ is not a package, and the test
cluster runs with fsync, synchronous_commit and full_page_writes off, which would measure a server that loses
commits. This one runs with the server's defaults (fsync, synchronous_commit and full_page_writes on), as a shop
would: each committed event waits for its WAL to reach the disk.

Databases are filled from a SQLite database the bench built (bench/workload.py) by the bot's own move of a shop
(`qunguan migrate`, bot/transfer), so both stores hold the same rows; `CREATE DATABASE ... TEMPLATE` then gives
each run its own copy in a moment.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent / "results"  # git-ignored, as bench/analytics.py's builds
USER = "qunguan"
START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections


class Unavailable(Exception):
    """No PostgreSQL server binaries here (Debian: apt-get install postgresql)."""


def bindir() -> Path:
    """Debian keeps initdb and pg_ctl off PATH, under /usr/lib/postgresql/VERSION/bin."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise Unavailable("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@dataclass
class Server:
    """One cluster in a temporary folder on a free loopback port; `stop` removes it."""

    folder: Path
    port: int
    binaries: Path
    run_as: list[str]

    @classmethod
    def start(cls) -> Server:
        binaries = bindir()
        folder = Path(tempfile.mkdtemp(prefix="qunguan-bench-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root: Debian's postgres user runs them
            run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        data = str(folder / "data")
        _run([*run_as, str(binaries / "initdb"), "-A", "trust", "-U", USER, "-E", "UTF8", "-D", data])
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
        start = [str(binaries / "pg_ctl"), "-D", data, "-o", options, "-l", str(folder / "log"), "-w"]
        _run([*run_as, *start, "-t", str(START_TIMEOUT), "start"])
        return cls(folder, port, binaries, run_as)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        _run([self._tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", self._libpq("postgres"), "-c", statement])

    def create(self, name: str, *, template: str | None = None) -> str:
        """A new database (a copy of `template`, which must have no connections); its URL."""
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def dump(self, name: str, file: Path) -> None:
        """pg_dump's custom format: the next run restores it instead of building the database again."""
        _run([self._tool("pg_dump"), "-Fc", "-Z", "1", "-f", str(file), "-d", self._libpq(name)])

    def restore(self, file: Path, name: str) -> str:
        self.create(name)
        _run([self._tool("pg_restore"), "-j", "2", "--no-owner", "-d", self._libpq(name), str(file)])
        self.analyze(name)  # pg_restore brings rows and indexes, not the planner's statistics
        return self.url(name)

    def analyze(self, name: str) -> None:
        _run([self._tool("psql"), "-q", "-d", self._libpq(name), "-c", "VACUUM ANALYZE"])

    def _tool(self, name: str) -> str:
        """The client of the server's own version (Debian keeps one per version beside the server)."""
        found = self.binaries / name
        return str(found) if found.exists() else name

    def _libpq(self, name: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        data = str(self.folder / "data")
        stop = [*self.run_as, str(self.binaries / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]
        subprocess.run(stop, capture_output=True, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


async def copy_sqlite(sqlite_file: Path, url: str) -> dict[str, int]:
    """Every row of the bench's SQLite database into the new, empty PostgreSQL database at `url`, as an operator
    moves a shop (`qunguan migrate`, bot/transfer: schema, rows, sequences and checks in one transaction); rows
    counted per table."""
    from bot.transfer.migrate import migrate_database

    report = await migrate_database(str(sqlite_file), url)
    return {moved.table: moved.rows for moved in report.tables if moved.rows}


async def up_to_date(url: str) -> None:
    """A restored build gets the tables and indexes added since it was dumped (as bench/analytics.py's)."""
    from bot.store import Store
    from bot.store.migrations import add_missing

    store = await Store.open(url)
    try:
        async with store.unit() as conn:
            await conn.run_sync(lambda c: add_missing(c))
    finally:
        await store.close()


async def row_commits(url: str, rows: int) -> float:
    """The server's own pace for one small transaction at a time (INSERT + COMMIT per row, asyncpg): a durable
    commit waits for the WAL to reach the disk, which bounds an event's transaction the same way."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("CREATE TABLE bench_rows (id serial PRIMARY KEY, value text NOT NULL)")
        start = time.perf_counter()
        for i in range(rows):
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_rows (value) VALUES ($1)", f"row {i}")
        return rows / (time.perf_counter() - start)
    finally:
        await conn.close()
