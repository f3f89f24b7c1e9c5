"""Start-up costs, each in a fresh process and timed from the parent as an operator would wait for them:
`qunguan check` on a folder of playbooks, and a bot start (imports, playbooks, database, outbox, scheduler).

`python -m bench.startup FOLDER DB` starts the bot and prints one JSON line the moment it is running.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # before the bot's imports: they are part of starting

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bench import proc  # noqa: E402


def check(folder: Path, timeout: float = 300) -> dict[str, Any]:
    """Wall time of `python -m bot check FOLDER`, run where there is no config.yaml (defaults)."""
    return proc.timed(["-m", "bot", "check", str(folder)], timeout=timeout, cwd=folder.parent)


def start(folder: Path, db: Path, timeout: float = 300) -> dict[str, Any]:
    """Wall time from spawning the process to the bot running (the child's JSON line arriving)."""
    return proc.until_line(["-m", "bench.startup", str(folder), str(db)], timeout=timeout)


async def _run(folder: Path, db: Path) -> None:
    from bot.app import Bot
    from bot.clock import SystemClock
    from bot.config import Config
    from bot.connectors.memory import MemoryConnector
    from bot.playbook.library import load_folder

    imported = time.perf_counter()
    config = Config()
    playbooks = load_folder(folder)
    if playbooks.problems:
        raise SystemExit(f"{len(playbooks.problems)} problem(s) in the generated playbooks: {playbooks.problems[0]}")
    loaded = time.perf_counter()
    connector = MemoryConnector()
    bot = await Bot.create(
        config,
        clock=SystemClock(),
        connector=connector,
        playbooks=playbooks,
        database=str(db),
        governor=True,
        trust_rooms=True,  # the bench's groups are its own: none needs a /绑定
    )
    await bot.start()  # the connector, the outbox and (real time) the scheduler
    running = time.perf_counter()
    phases = {"imports": imported - _T0, "playbooks": loaded - imported, "bot": running - loaded}
    print(json.dumps({"playbooks": len(playbooks.playbooks), "phases": phases}), flush=True)
    await bot.crash()


if __name__ == "__main__":
    from bot import eventloop  # as `qunguan run` does, and timed: imports are part of starting

    eventloop.run(_run(Path(sys.argv[1]), Path(sys.argv[2])))
