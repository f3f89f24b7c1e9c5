"""Running a playbook's conditions and steps in order, in a savepoint of the event's transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.context import MEMBER_VARS, RunContext, SkipAction
from bot.playbook.errors import Location
from bot.playbook.model import Call, Choose, Step
from bot.store.savepoint import savepoint
from bot.traces import seen

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
        self.name = name
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
        seen(ctx, f"跳过：{skip}")
        return None
    except Exception as exc:
        if ctx.trace is not None:
            ctx.trace.error(call.name, f"{type(exc).__name__}: {exc}", call.location)
        raise StepFailed(call.location, call.name, exc) from exc


def _claims(call: Call) -> bool:
    return call.spec.claims


async def conditions_hold(ctx: RunContext, conditions: tuple[Call, ...], *, deciding: bool = False) -> bool:
    """All must hold. Conditions that record a use (once, cooldown) go last. `deciding`: the playbook's own
    `if:` (its trace then says why the run stopped), not a `choose` branch."""
    ordered = sorted(conditions, key=_claims) if len(conditions) > 1 else conditions
    trace = ctx.trace
    for cond in ordered:
        held = bool(await _call(ctx, cond))
        if trace is not None:
            trace.condition(cond, held, deciding=deciding)
        if not held:
            return False
    return True


async def _action(ctx: RunContext, call: Call) -> None:
    trace = ctx.trace
    if trace is None:
        await _call(ctx, call)
        return
    step = trace.action(call)
    before, known = len(ctx.outgoing), dict(ctx.vars)
    result = await _call(ctx, call)
    made = {k: v for k, v in ctx.vars.items() if k not in MEMBER_VARS and known.get(k) is not v}  # coupon.code, ...
    trace.did(step, result, [o.text for o in ctx.outgoing[before:] if o.text], made)


async def run_steps(ctx: RunContext, steps: tuple[Step, ...]) -> None:
    for step in steps:
        if isinstance(step, Choose):
            await _choose(ctx, step)
        else:
            await _action(ctx, step)


async def _choose(ctx: RunContext, choose: Choose) -> None:
    for branch in choose.branches:
        if await conditions_hold(ctx, branch.conditions):
            await run_steps(ctx, branch.steps)
            return
    await run_steps(ctx, choose.otherwise)


async def run_until_wait(ctx: RunContext, steps: tuple[Step, ...]) -> tuple[timedelta, tuple[Step, ...]] | None:
    """Run top-level steps up to a `wait`; return the pause and the steps after it."""
    for i, step in enumerate(steps):
        if isinstance(step, Choose):
            await _choose(ctx, step)
        elif step.name == "wait":
            return step.params.span, steps[i + 1 :]
        else:
            await _action(ctx, step)
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
        async with savepoint(ctx.conn):
            try:
                if check and not await conditions_hold(ctx, pb.conditions, deciding=True):
                    return outcome
                outcome.acted = True
                outcome.pause = await run_until_wait(ctx, steps)
            except StopRun as stop:
                outcome.stop_all = stop.all
    except StepFailed as exc:
        log.error("playbook %s (%s) failed at %s", pb.id, pb.path, exc)
        outcome = Outcome(ok=False)
        failed(ctx, exc.location, exc.name, exc.cause)
    except Exception as exc:
        log.exception("playbook %s (%s) failed", pb.id, pb.path)
        outcome = Outcome(ok=False)
        failed(ctx, pb.location, "error", exc)
    if not outcome.ok:
        ctx.outgoing.clear()
        ctx.opened.clear()
        ctx.closed.clear()
    elif ctx.trace is not None:
        ctx.trace.ran(len(ctx.outgoing), outcome.pause is not None)
    return outcome


def failed(ctx: RunContext, location: Location, name: str, cause: BaseException) -> None:
    """The run's trace says where it failed (file:line) and that nothing it did stands."""
    if ctx.trace is not None:
        ctx.trace.fail(f"出错：{location}（{name}）{type(cause).__name__}: {cause}；本次执行的改动已撤销")
