"""Recording one event's traces in memory while its stages run; nothing is allocated for an event that reaches
no stage but the empty Recorder itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from bot.shown import plain

if TYPE_CHECKING:
    from bot.playbook.model import Call

MAX_STEPS = 60  # a for_each over a thousand members keeps its first steps and counts the rest
ONCE = {
    "day": "今天已经执行过（每天一次）",
    "week": "本周已经执行过（每周一次）",
    "month": "本月已经执行过（每月一次）",
    "year": "今年已经执行过（每年一次）",
    "ever": "已经执行过（只执行一次）",
}

COMMAND_OUTCOMES = {"refused": "skipped", "usage": "skipped", "failed": "failed", "error": "failed"}
COMMAND_RESULTS = {"ok": "已执行", "refused": "被拒绝", "usage": "用法不对", "failed": "未完成", "error": "出错"}


def params_of(call: Call) -> dict[str, Any]:
    """A call's options as written (defaults left out), for the trace (kept in that form by the call)."""
    return call.written


@dataclass(slots=True)
class Run:
    """One trace row in the making: a playbook run, a staff command, a moderation rule or a window."""

    stage: str  # playbook / command / moderation / window
    name: str
    outcome: str = "ran"  # ran / skipped / failed
    summary: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0
    seen: Any = None  # what the condition or action running now observed (its value)

    def step(self, kind: str, what: str, *, value: Any = None, result: Any = None, at: object = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": kind, "what": what, "value": value, "result": result}
        if at is not None:
            entry["at"] = str(at)
        if len(self.steps) < MAX_STEPS:
            self.steps.append(entry)
        else:
            self.omitted += 1
        return entry

    def condition(self, call: Call, held: bool, *, deciding: bool) -> None:
        """A condition's options, what it saw and whether it held; the first that fails the playbook's own `if:`
        is why the run stopped."""
        value: dict[str, Any] = {"params": params_of(call)}
        if self.seen is not None:
            value["seen"] = plain(self.seen)
        self.step("condition", call.name, value=value, result=held, at=call.location)
        if deciding and not held:
            self.skip("没有执行：" + why_not(call, self.seen))
        self.seen = None

    def action(self, call: Call) -> dict[str, Any]:
        """An action about to run (its step comes before those of actions nested in it: for_each's `do`)."""
        self.seen = None
        return self.step("action", call.name, value=params_of(call))

    def did(self, step: dict[str, Any], result: Any, queued: list[str], made: dict[str, Any]) -> None:
        """What the action did: what it told the trace, its result, the variables it set for the steps after it
        (`coupon.code`, `checkin.streak`), the messages it queued."""
        done: dict[str, Any] = {}
        if self.seen is not None:
            done["did"] = plain(self.seen)
        elif result is not None:
            done["did"] = plain(result)
        if made:
            done["set"] = plain(made)
        if queued:
            done["queued"] = [plain(text) for text in queued]
        step["result"] = done or "ok"
        self.seen = None

    def error(self, what: str, message: str, at: object) -> None:
        self.step("error", what, value=plain(message), result=False, at=at)

    def fail(self, summary: str) -> None:
        self.outcome, self.summary = "failed", plain(summary)

    def skip(self, summary: str) -> None:
        self.outcome, self.summary = "skipped", summary

    def ran(self, queued: int, paused: bool) -> None:
        if self.outcome != "ran":
            return
        actions = sum(1 for step in self.steps if step["kind"] == "action")
        self.summary = f"已执行：{actions} 个动作，{queued} 条消息待发" + (
            "；在 wait 处暂停，稍后继续" if paused else ""
        )

    def answered(self, typed: str, result: str, answer: str) -> None:
        """A staff command's trace: what was typed after it, its audit result and the first line of its answer."""
        self.step("command", self.name, value=plain(typed), result={"result": result, "answer": plain(answer)})
        outcome = COMMAND_OUTCOMES.get(result, "ran")
        said = answer.strip().splitlines()[0] if answer.strip() else ""
        self.outcome, self.summary = (
            outcome,
            plain(f"/{self.name}：{COMMAND_RESULTS.get(result, result)}" + (f"：{said}" if said else "")),
        )

    def steps_json(self) -> list[dict[str, Any]]:
        if self.omitted:
            return [*self.steps, {"kind": "omitted", "what": f"还有 {self.omitted} 步未记录", "value": self.omitted}]
        return self.steps


def why_not(call: Call, seen: Any) -> str:
    """Why a condition stopped the run, in one Chinese line."""
    params = call.params
    name = call.name
    if name == "once":
        scope = "本群" if getattr(params, "scope", "member") == "room" else "该成员"
        return f"once：{scope}{ONCE[params.per]}"
    if name == "cooldown":
        return f"cooldown：{int(params.span.total_seconds() // 60)} 分钟的冷却时间内已经执行过"
    if name == "role":
        return f"role：身份是 {seen}，需要 {'、'.join(getattr(params, 'roles', []))}"
    if name == "expr":
        return f"expr：{getattr(params.expr, 'source', params.expr)} 不成立"
    if name == "time":
        return "time：不在设定的时间内"
    return f"{name}：条件不满足"


class Traced(Protocol):
    """What of a run the recorder reads (bot.context.RunContext is one)."""

    trace: Run | None
    vars: dict[str, Any]


def variables(ctx: Traced, refs: frozenset[tuple[str, str | None]]) -> dict[str, Any]:
    """The values of the variables an expression names (member.points, message.text, ...), as it saw them."""
    values: dict[str, Any] = {}
    for name, attr, label in _shown_refs(refs):
        value = ctx.vars.get(name)
        if attr is not None:
            value = value.get(attr) if isinstance(value, dict) else None
        values[label] = plain(value)
    return values


@lru_cache(maxsize=1024)
def _shown_refs(refs: frozenset[tuple[str, str | None]]) -> tuple[tuple[str, str | None, str], ...]:
    """The variables an expression names, in the order a trace lists them (a bare `member` is left out when
    `member.points` is there), worked out once per expression."""
    dotted = {name for name, attr in refs if attr is not None}
    return tuple(
        (name, attr, f"{name}.{attr}" if attr else name)
        for name, attr in sorted(refs, key=lambda ref: (ref[0], ref[1] or ""))
        if not (attr is None and name in dotted)
    )


def seen(ctx: Traced, value: Any) -> None:
    """A condition or action tells the trace what it saw or did (the role it read, the points it added)."""
    trace = ctx.trace
    if trace is not None:
        trace.seen = value


@dataclass(slots=True)
class Recorder:
    """The traces of one event, written with it (bot/traces/write.py)."""

    runs: list[Run] = field(default_factory=list)

    def start(self, stage: str, name: str) -> Run:
        run = Run(stage, name)
        self.runs.append(run)
        return run
