"""The stores tests run on: SQLite, and a throwaway PostgreSQL cluster from the server binaries of
Debian's `postgresql`.

Started on first use (a run that touches only SQLite pays nothing), on a free loopback port, in a temporary
folder owned by a non-root user (initdb refuses root), with fsync off: it is thrown away at the end. Each
test gets a database of its own, so tests never see each other's rows: a copy of a template the bot has migrated
once (`CREATE DATABASE ... TEMPLATE`, a file copy: creating the schema anew took most of a short test's time), or
an empty one for the tests about what a first open or `qunguan migrate` does to an empty database.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT = 60  # seconds pg_ctl waits for the server; it is ready in about one
USER = "qunguan"
TEMPLATE = "qunguan_template"  # migrated once per session; each test's database is a copy of it


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip on a developer's machine, fail in CI: tests must not silently vanish there."""
    import pytest

    if in_ci():
        pytest.fail(f"{reason} (CI=true: nothing may be skipped)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Backend:
    """The store a test runs on; `database` outlives one bot (a file path or a URL): reopen it after a restart."""

    name: str
    database: str

    @property
    def postgresql(self) -> bool:
        return self.name == "postgresql"


class Unavailable(Exception):
    """No PostgreSQL server binaries on this machine (Debian: apt-get install postgresql)."""


def bindir() -> Path:
    """Where initdb and pg_ctl are: `pg_config --bindir` names Debian's folder (not on PATH)."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(done.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise Unavailable("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    folder: Path
    port: int
    _as: list[str]
    _bin: Path
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _template: bool = False
    _spare: Spare | None = None

    @classmethod
    def start(cls) -> Cluster:
        binaries = bindir()
        folder = Path(tempfile.mkdtemp(prefix="qunguan-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root: use Debian's postgres user
            run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres")
        port = _free_port()
        data = folder / "data"
        cls._run(
            [*run_as, str(binaries / "initdb"), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync", "-D", str(data)]
        )
        settings = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "listen_addresses=127.0.0.1")
        options = " ".join(f"-c {s}" for s in settings) + f" -p {port} -k {folder}"
        cls._run(
            [
                *run_as,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "-t",
                str(START_TIMEOUT),
                "start",
            ]
        )
        return cls(folder, port, run_as, binaries)

    @staticmethod
    def _run(command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def create(self, *, empty: bool = True) -> str:
        """A new database; its URL. Empty, or (`empty=False`) a copy of the template: what a bot's first open
        of an empty database leaves, today's schema and no rows (made ahead by `Spare` while a test runs)."""
        if empty:
            name = f"t{next(self._names)}"
            asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
            return self.url(name)
        if self._spare is None:
            self._migrated_template()
            self._spare = Spare(self)
        return self.url(self._spare.take())

    def copy_template(self) -> str:
        name = f"t{next(self._names)}"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
        return name

    def _migrated_template(self) -> None:
        """The template, made on first use by the bot's own migration (every ability's tables); closed before
        it is copied (PostgreSQL copies only a database nobody is connected to)."""
        if self._template:
            return
        from bot.store.database import Store

        async def migrate() -> None:
            store = await Store.open(self.url(TEMPLATE))
            await store.close()

        asyncio.run(self._admin(f'CREATE DATABASE "{TEMPLATE}"'))
        asyncio.run(migrate())
        self._template = True

    def drop(self, url: str) -> None:
        """Drop a test's database; a template copy's drop is left to `Spare`, off the test's time."""
        name = url.rsplit("/", 1)[1]
        if self._spare is not None:
            self._spare.drop(name)
        else:
            self.drop_now(name)

    def drop_now(self, name: str) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _admin(self, statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(user=USER, host="127.0.0.1", port=self.port, database="postgres")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def stop(self) -> None:
        if self._spare is not None:
            self._spare.close()
        subprocess.run(
            [*self._as, str(self._bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


class Spare:
    """Copies of the template made, and tests' databases dropped, on a thread of their own while tests run (the
    server does the copying; a test waits only when no copy is ready). Keeps `AHEAD` copies ready. A copy that
    cannot be made there (the server stopped by a fleet test, say) is made when asked for, so its error is the
    test's."""

    AHEAD = 2

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.ready: queue.Queue[str | None] = queue.Queue()
        self.jobs: queue.Queue[str | None] = queue.Queue()  # "" makes a copy, a name drops that database
        for _ in range(self.AHEAD):
            self.jobs.put("")
        self.worker = threading.Thread(target=self._work, name="qunguan-pg-spare", daemon=True)
        self.worker.start()

    def take(self) -> str:
        name = self.ready.get()
        self.jobs.put("")
        return name if name is not None else self.cluster.copy_template()

    def drop(self, name: str) -> None:
        self.jobs.put(name)

    def close(self) -> None:
        self.jobs.put(None)
        self.worker.join()

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                if job:
                    self.cluster.drop_now(job)
                else:
                    self.ready.put(self.cluster.copy_template())
            except Exception:  # the server is away: a copy is made when asked for; a drop is moot with the cluster
                if not job:
                    self.ready.put(None)


def database_url(driver: str, tmp_path: Path, request: Any) -> Iterator[str]:
    """A database that outlives one bot for a store driver: a file for SQLite (`sqlite`, `sqlite+aiosqlite`),
    a fresh database in the session's cluster for `postgresql`. Use it from a fixture (`yield from`)."""
    if driver != "postgresql":
        yield f"{driver}:///{tmp_path / 'q.db'}"
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create()
    try:
        yield url
    finally:
        cluster.drop(url)


def outage(cluster: Cluster) -> None:
    """Stop the cluster's server and keep its data (a PostgreSQL restart or outage, tests/fleet): `recover` brings
    it back as it was, on the same port."""
    Cluster._run(
        [*cluster._as, str(cluster._bin / "pg_ctl"), "-D", str(cluster.folder / "data"), "-m", "fast", "-w", "stop"]
    )


def recover(cluster: Cluster) -> None:
    """Start the server `outage` stopped, with the options it last ran with (pg_ctl restart reads them back)."""
    data, log = str(cluster.folder / "data"), str(cluster.folder / "log")
    Cluster._run(
        [*cluster._as, str(cluster._bin / "pg_ctl"), "-D", data, "-l", log, "-w", "-t", str(START_TIMEOUT), "restart"]
    )
