"""The fleet's tests run real processes against a real PostgreSQL (tests/fleet/fleet_harness.py): a module starts
its fleet once and its tests share it, each with members and texts of its own.

Without PostgreSQL's server binaries, node, the gateway's packages or the wechaty package these tests are skipped
on a developer's machine and fail under CI=true."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from backends import Cluster, missing
from fleet_harness import SCHEDULE_AFTER, Fleet, write_playbooks


@pytest.fixture(scope="session", autouse=True)
def _wechaty_installed() -> None:
    if importlib.util.find_spec("wechaty") is None:
        missing("the wechaty package is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def fleet(postgres_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Three gateways, three processes and one database (a copy of the migrated template) for the module;
    `fleet.schedule_at` is when the scheduled playbook fires (Asia/Shanghai, the config's timezone)."""
    home = tmp_path_factory.mktemp("fleet")
    playbooks = home / "playbooks"
    playbooks.mkdir()
    at = (datetime.now(ZoneInfo("Asia/Shanghai")) + SCHEDULE_AFTER).replace(microsecond=0)
    write_playbooks(playbooks, at)
    url = postgres_cluster.create(empty=False)
    running = Fleet.start(postgres_cluster, url, home, playbooks)
    running.schedule_at = at
    try:
        yield running
    finally:
        running.close()
        postgres_cluster.drop(url)


@pytest.fixture(autouse=True)
def _whole_fleet(fleet: Fleet) -> None:
    """Each test starts with every process running, whatever the one before it did or failed to do."""
    fleet.all_running()
