"""Moving a shop's database (`qunguan migrate`), and several processes opening one empty database at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from backends import Backend
from sqlalchemy import text

from bot.store import Store

pytestmark = pytest.mark.usefixtures("backend")

ROOT = Path(__file__).resolve().parent.parent
OPENERS = 4


async def _versions(database: str) -> list[str]:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            rows = await conn.execute(text("SELECT value FROM settings WHERE key = 'schema_version'"))
            return [str(v) for (v,) in rows]
    finally:
        await store.close()


async def test_several_stores_opening_one_empty_database_at_once_all_open_it(backend: Backend) -> None:
    """A fleet's first start: every process migrates the same empty database at the same moment."""
    results = await asyncio.gather(*(Store.open(backend.database) for _ in range(OPENERS)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    for store in results:
        if isinstance(store, Store):
            await store.close()
    assert failures == []
    assert len(await _versions(backend.database)) == 1


OPEN = """import asyncio, sys
from bot.store import Store
async def main():
    store = await Store.open(sys.argv[1])
    await store.close()
asyncio.run(main())
"""


@pytest.mark.slow
def test_several_processes_starting_on_one_empty_database_all_start(backend: Backend) -> None:
    env = {"PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, backend.database],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(OPENERS)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    assert [code for code, _ in outcomes] == [0] * OPENERS, outcomes
    assert len(asyncio.run(_versions(backend.database))) == 1
