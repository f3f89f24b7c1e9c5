"""Test-session wiring: store-touching modules run on SQLite and on PostgreSQL; slow tests are marked.

`python -m pytest -m "not slow"` is the fast suite a developer runs while working (about two minutes on 2 cores):
no PostgreSQL runs, no integration tests against the real Wechaty gateway, no reliability suite, no
generated-input fuzzing. CI runs everything.

A module opts in with `pytestmark = pytest.mark.usefixtures("backend")`: each of its tests then runs once
per backend, and every `TestBot` it makes without naming a database opens that backend (an in-memory
SQLite database, or a fresh PostgreSQL database of its own: a copy of a migrated template). A test that needs a
database to survive a restart uses `backend.database`. Tests about SQLite itself say `@pytest.mark.sqlite_only`;
tests about what happens to an empty database (the first open, `qunguan migrate`, upgrades) say
`@pytest.mark.empty_database` (on SQLite `backend.database` is always a file not made yet).

Outside CI a machine without PostgreSQL's server binaries skips the PostgreSQL runs with the reason;
under CI=true nothing skips (.ci/run installs Debian's postgresql first).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from backends import Backend, Cluster, Unavailable, missing

import bot.testing
from bot.store import Store

# The PostgreSQL runs are slow (a cluster to start, a database per test): the fast suite (`-m "not slow"`) is
# SQLite's; CI runs both.
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.slow))
SLOW_FOLDERS = (
    "integration",
    "reliability",
    "browser",
    "fleet",
)  # real subprocesses, gateways and Chromium; many events


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in a slow folder is slow: a developer's fast loop leaves them to CI."""
    for item in items:
        if any(part in SLOW_FOLDERS for part in item.path.parent.relative_to(Path(__file__).parent).parts):
            item.add_marker(pytest.mark.slow)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ["sqlite"] if only_sqlite else BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    try:
        cluster = Cluster.start()
    except Unavailable as exc:
        missing(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Backend]:
    name = getattr(request, "param", "sqlite")
    if name != "postgresql":
        yield Backend(name, str(tmp_path / "q.db"))
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create(empty=request.node.get_closest_marker("empty_database") is not None)
    monkeypatch.setattr(bot.testing, "DATABASE", url)
    try:
        yield Backend(name, url)
    finally:
        cluster.drop(url)


@pytest.fixture
def pg_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A new, empty PostgreSQL database, for a test that opens PostgreSQL itself (not through `backend`)."""
    url = postgres_cluster.create()
    try:
        yield url
    finally:
        postgres_cluster.drop(url)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    """The store on the test's backend database (a file on SQLite), opened and migrated; closed after the test."""
    opened = await Store.open(backend.database)
    try:
        yield opened
    finally:
        await opened.close()
