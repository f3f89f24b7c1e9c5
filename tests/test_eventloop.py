"""The serving bot's event loop (bot/eventloop.py): uvloop's, and `run` hands back what the coroutine returns."""

from __future__ import annotations

import asyncio

from bot import eventloop


def test_a_serving_bot_runs_on_uvloop_and_gets_its_result_back() -> None:
    async def main() -> tuple[str, int]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__, 42

    module, result = eventloop.run(main())
    assert module.startswith("uvloop")
    assert result == 42
