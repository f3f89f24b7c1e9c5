"""opsdroid and errbot, each driven through its own dispatch path with N keyword skills and no persistence.

Each runs in a child process (`python -m bench.rivals NAME SKILLS MESSAGES RUNS`): their imports and
globals (opsdroid's instance registry, errbot's logging setup and threads) stay out of the bench, and a
rival that is missing or broken becomes a row that says why instead of a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import proc
from bench.workload import chat_text, keyword

NAMES = ("opsdroid", "errbot")
WARMUP = 200  # messages before timing: first-call costs (regex compiles, thread start) are not throughput


def _texts(skills: int, messages: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [chat_text(rng, keyword(rng.randrange(skills))) for _ in range(messages)]


# -- opsdroid: OpsDroid.parse with regex-search skills, replies through a connector that only counts


async def _opsdroid(skills: int, messages: int, runs: int, seed: int) -> list[float]:
    import opsdroid.cli.start  # noqa: F401  # as `opsdroid start` does: installs gettext's _ that opsdroid logs with
    from opsdroid.connector import Connector, register_event
    from opsdroid.core import OpsDroid
    from opsdroid.events import Message
    from opsdroid.matchers import match_regex

    class Edge(Connector):
        """The process edge: counts what opsdroid sends."""

        def __init__(self, config: dict[str, Any], opsdroid: Any = None) -> None:
            super().__init__(config, opsdroid=opsdroid)
            self.name = "bench"
            self.sent = 0

        async def connect(self) -> None:
            return None

        async def listen(self) -> None:
            return None

        @register_event(Message)
        async def send_message(self, message: Message) -> None:
            self.sent += 1

    def skill_for(i: int) -> Callable[..., Any]:
        async def skill(opsdroid: Any, config: Any, message: Message) -> None:
            await message.respond(f"「{keyword(i)}」有货")

        skill.__name__ = f"skill_{i}"
        return match_regex(keyword(i), matching_condition="search")(skill)

    rates = []
    with OpsDroid(config={}, loopless=True) as droid:
        droid.eventloop = asyncio.get_running_loop()
        edge = Edge({}, opsdroid=droid)
        droid.connectors = [edge]
        for i in range(skills):
            droid.register_skill(skill_for(i), config={"name": f"skill-{i}"})
        for run in range(runs + 1):
            texts = _texts(skills, WARMUP if run == 0 else messages, seed + run)
            before = edge.sent
            start = time.perf_counter()
            for n, text in enumerate(texts):
                await droid.parse(Message(text, user_id=f"u{n}", user=f"u{n}", target="room", connector=edge))
            elapsed = time.perf_counter() - start
            if edge.sent - before != len(texts):
                raise RuntimeError(f"opsdroid answered {edge.sent - before} of {len(texts)} messages")
            if run:
                rates.append(len(texts) / elapsed)
    return rates


# -- errbot: its test backend (serve_forever -> callback_message -> re_botcmd in its thread pool -> send)

_PLUG = """\
[Core]
name = BenchSkills
module = bench_skills

[Documentation]
description = Keyword skills for the Qunguan bench.

[Python]
version = 3
"""


ERRBOT_CONFIG = {"BOT_ASYNC": True, "BOT_ASYNC_POOLSIZE": 1}


def _errbot_plugin(skills: int) -> str:
    methods = "".join(
        textwrap.dedent(
            f"""
            @re_botcmd(pattern="{keyword(i)}", prefixed=False)
            def skill_{i}(self, msg, match):
                return "「{keyword(i)}」有货"
            """
        ).replace("\n", "\n    ")
        for i in range(skills)
    )
    return f"from errbot import BotPlugin, re_botcmd\n\n\nclass BenchSkills(BotPlugin):{methods}\n"


def _errbot(skills: int, messages: int, runs: int, seed: int) -> list[float]:
    """Commands run in errbot's thread pool as usual, with one thread: the test backend's shared Markdown
    converter is not thread-safe, and with the default ten threads some replies become error messages."""
    from errbot.backends.test import TestBot

    with tempfile.TemporaryDirectory(prefix="qunguan-bench-errbot-") as tmp:
        folder = Path(tmp)
        (folder / "bench_skills.plug").write_text(_PLUG, encoding="utf-8")
        (folder / "bench_skills.py").write_text(_errbot_plugin(skills), encoding="utf-8")
        bot = TestBot(extra_plugin_dir=str(folder), loglevel=logging.ERROR, extra_config=ERRBOT_CONFIG)
        bot.start(timeout=10)
        rates = []
        try:
            for run in range(runs + 1):
                texts = _texts(skills, WARMUP if run == 0 else messages, seed + run)
                start = time.perf_counter()
                for text in texts:
                    bot.push_message(text)
                replies = [bot.pop_message(timeout=30) for _ in texts]
                elapsed = time.perf_counter() - start
                wrong = sum("有货" not in reply for reply in replies)
                if wrong:
                    raise RuntimeError(f"errbot gave {wrong} wrong replies of {len(texts)}: {replies[0]!r}")
                if run:
                    rates.append(len(texts) / elapsed)
        finally:
            bot.stop()
    return rates


def child(name: str, skills: int, messages: int, runs: int, seed: int) -> dict[str, Any]:
    try:
        if name == "opsdroid":
            rates = asyncio.run(_opsdroid(skills, messages, runs, seed))
        elif name == "errbot":
            rates = _errbot(skills, messages, runs, seed)
        else:
            return {"error": f"unknown rival {name}"}
    except ImportError as exc:
        return {"error": f"not installed ({exc.name or exc}); pip install -e '.[bench]'"}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"rates": rates, "version": _version(name)}


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def measure(name: str, skills: int, messages: int, runs: int, seed: int, timeout: float = 900) -> dict[str, Any]:
    """Run one rival in a child process; its answer, or why there is none."""
    return proc.run_json(
        ["-m", "bench.rivals", name, str(skills), str(messages), str(runs), str(seed)], timeout=timeout
    )


if __name__ == "__main__":
    logging.disable(logging.WARNING)  # both rivals log per message at INFO; that is their setting, not ours
    _name, _skills, _messages, _runs, _seed = sys.argv[1:6]
    print(json.dumps(child(_name, int(_skills), int(_messages), int(_runs), int(_seed))))
