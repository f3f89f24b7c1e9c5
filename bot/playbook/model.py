"""What a checked playbook is: the objects the engine runs.

bot/playbook/builder.py makes them from a parsed file, collecting every problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bot.playbook.errors import Location
from bot.registry import Spec
from bot.shown import plain

TOP_KEYS = ("id", "name", "description", "enabled", "rooms", "when", "if", "do")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Call:
    """One action, condition or trigger with its validated options."""

    spec: Spec
    params: Any
    location: Location
    body: tuple[Step, ...] = ()  # nested actions (for_each's `do`)

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def written(self) -> dict[str, Any]:
        """Its options as the playbook writes them (defaults left out), in the form every trace of it shows them
        (bot/shown.py): made once, not on each run (the options never change after loading; nobody changes it)."""
        dump = getattr(self.params, "model_dump", None)
        return {} if dump is None else plain(dump(exclude_defaults=True))  # type: ignore[no-any-return]


def moderates(trigger: Call) -> bool:
    """A moderation trigger (`message: {has:}`, `message: {words:}`, `flood:`): its playbook runs in the moderation
    stage, before staff commands, windows and every other playbook (bot/stages/moderation.py)."""
    return bool(getattr(trigger.params, "moderation", False))


@dataclass(frozen=True)
class Branch:
    conditions: tuple[Call, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Choose:
    branches: tuple[Branch, ...]
    otherwise: tuple[Step, ...]
    location: Location


Step = Call | Choose


@dataclass(frozen=True)
class Declared:
    """One entry of a resource block (`coupons:`, `questions:`) and where it is written."""

    block: str
    id: str
    value: Any  # the validated entry; for a "mapping" block, the tuple of its validated items
    location: Location


@dataclass
class Playbook:
    id: str
    path: str
    location: Location
    triggers: tuple[Call, ...]
    conditions: tuple[Call, ...]
    steps: tuple[Step, ...]
    name: str = ""
    description: str = ""
    enabled: bool = True
    rooms: tuple[str, ...] = ()
    rooms_at: tuple[Location, ...] = ()  # where each of `rooms` is written
    order: int = 0
    has_wait: bool = False
    declared: tuple[Declared, ...] = ()
    # `member.X` / `inviter.X` no ability provides: each must be a field some playbook declares (`fields:`),
    # checked across the set (bot/playbook/fallback.py): (variable, attribute, where it is written)
    field_refs: tuple[tuple[str, str, Location], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.name or self.id

    @property
    def moderation(self) -> bool:
        return any(moderates(t) for t in self.triggers)


def walk_steps(steps: tuple[Step, ...]) -> Iterator[Call]:
    for step in steps:
        if isinstance(step, Choose):
            for branch in step.branches:
                yield from walk_steps(branch.steps)
            yield from walk_steps(step.otherwise)
        else:
            yield step
            yield from walk_steps(step.body)
