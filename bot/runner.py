"""Running a playbook's conditions and steps in order, in a savepoint of the event's transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.context import RunContext, SkipAction
from bot.playbook.errors import Location
from bot.playbook.model import Call, Choose, Step

log = logging.getLogger("qunguan.engine")


class StopRun(Exception):
    """`stop:` ends this run; with all=True no later playbook runs for the event."""

    def __init__(self, all_playbooks: bool = False) -> None:
        super().__init__("stop")
        self.all = all_playbooks


class StepFailed(Exception):
    """An action or condition raised; carries where it is written for the log."""

    def __init__(self, location: Location, name: str, cause: BaseException) -> None:
        super().__init__(f"{location} ({name}): {cause}")
        self.location = location
        self.cause = cause


async def _call(ctx: RunContext, call: Call) -> object:
    try:
        ctx.call = call
        return await call.spec.func(ctx, call.params)
    except (StopRun, StepFailed):
        raise
    except SkipAction as skip:
        pb = ctx.playbook
        log.log(skip.level, "playbook %s (%s): %s skipped at %s: %s", pb.id, pb.path, call.name, call.location, skip)
        return None
    except Exception as exc:
        raise StepFailed(call.location, call.name, exc) from exc


async def conditions_hold(ctx: RunContext, conditions: tuple[Call, ...]) -> bool:
    """All must hold. Conditions that record a use (once, cooldown) go last."""
    ordered = sorted(conditions, key=lambda c: c.spec.claims)
    for cond in ordered:
        if not await _call(ctx, cond):
            return False
    return True


async def run_steps(ctx: RunContext, steps: tuple[Step, ...]) -> None:
    for step in steps:
        if isinstance(step, Choose):
            for branch in step.branches:
                if await conditions_hold(ctx, branch.conditions):
                    await run_steps(ctx, branch.steps)
                    break
            else:
                await run_steps(ctx, step.otherwise)
        else:
            await _call(ctx, step)


async def run_until_wait(ctx: RunContext, steps: tuple[Step, ...]) -> tuple[timedelta, tuple[Step, ...]] | None:
    """Run top-level steps up to a `wait`; return the pause and the steps after it."""
    for i, step in enumerate(steps):
        if isinstance(step, Call) and step.name == "wait":
            return step.params.span, steps[i + 1 :]
        await run_steps(ctx, (step,))
    return None


@dataclass
class Outcome:
    ok: bool = True
    acted: bool = False  # its `if:` held and it ran (a failure rolls this back to False with `ok`)
    pause: tuple[timedelta, tuple[Step, ...]] | None = None  # stopped at a `wait:`: how long, and what follows
    stop_all: bool = False  # `stop: {all: true}`: no later playbook runs for this event


async def run_playbook(ctx: RunContext, steps: tuple[Step, ...], *, check: bool) -> Outcome:
    """One run (`check`: its `if:` first) in its own savepoint: a failure rolls back its writes and messages only,
    logged with the playbook's id, file and the step that failed; it never stops the others."""
    pb = ctx.playbook
    outcome = Outcome()
    try:
        async with ctx.conn.begin_nested():
            try:
                if check and not await conditions_hold(ctx, pb.conditions):
                    return outcome
                outcome.acted = True
                outcome.pause = await run_until_wait(ctx, steps)
            except StopRun as stop:
                outcome.stop_all = stop.all
    except StepFailed as exc:
        log.error("playbook %s (%s) failed at %s", pb.id, pb.path, exc)
        outcome = Outcome(ok=False)
    except Exception:
        log.exception("playbook %s (%s) failed", pb.id, pb.path)
        outcome = Outcome(ok=False)
    if not outcome.ok:
        ctx.outgoing.clear()
        ctx.opened.clear()
        ctx.closed.clear()
    return outcome
