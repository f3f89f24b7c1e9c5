"""Flow actions: `wait` (a short pause) and `stop`. `choose` is structural (playbook/builder.py)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import StrictBool, field_validator

from bot.context import RunContext
from bot.playbook.types import Duration, Params
from bot.registry import action
from bot.runner import StopRun

MAX_WAIT = timedelta(minutes=10)


class WaitParams(Params):
    span: Duration

    @field_validator("span")
    @classmethod
    def _short(cls, value: timedelta) -> timedelta:
        if value > MAX_WAIT:
            raise ValueError("is for short pauses of at most 10m; use a 'schedule' for later follow-ups")
        return value


@action("wait", schema=WaitParams, primary="span")
async def wait(ctx: RunContext, p: WaitParams) -> None:
    """Pause; the engine splits a run at top-level waits so no transaction stays open."""
    await ctx.sleep(p.span)


class StopParams(Params):
    all: StrictBool = False


@action("stop", schema=StopParams)
async def stop(ctx: RunContext, p: StopParams) -> None:
    """End this run; `all: true` also skips later playbooks for the same event."""
    raise StopRun(p.all)
