"""What every stage of the pipeline shares: the event's Turn and the Stage it goes through.

A stage handles the event (`handle` returns True: the stages after it do not see it) or passes it on (False),
like aiogram's routers or NoneBot2's processors. All stages of one event write in one transaction; what they
decide for this process's memory (windows opened or closed, switches, a swapped set of playbooks) waits in the
Turn until it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.budget import Charge
from bot.events import Event
from bot.store.deferred import Deferred
from bot.traces import Recorder

if TYPE_CHECKING:
    from bot.commands import Request
    from bot.context import RunContext, Runtime
    from bot.playbook.library import PlaybookSet
    from bot.playbook.model import Step
    from bot.windows import OpenWindow


@dataclass(slots=True)
class Turn:
    """One event on its way through the stages."""

    event: Event
    playbooks: PlaybookSet  # the set it runs on, though a reload may swap another in meanwhile
    managed: bool  # its group is bound, or it happened in no group
    request: Request | None = None  # the staff command it asks for, matched (and prepared) before the transaction
    ignored: bool = False  # decided before the transaction: not for this bot, nothing is written
    duplicate: bool = False  # seen before: nothing more happens
    quiet: bool = False  # no "handled" line in the log (a group nobody bound says so once, by itself)
    conn: AsyncConnection = field(default=None)  # type: ignore[assignment]  # the event's transaction
    now: datetime = field(default=None)  # type: ignore[assignment]  # when it is handled
    queued: list[dict[str, Any]] = field(default_factory=list)  # outbox rows, written with the event
    opened: list[OpenWindow] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)  # changes in memory once the writes stand
    cached: list[Callable[[], None]] = field(default_factory=list)  # the same, for what no later event depends on
    paused: list[tuple[RunContext, timedelta, tuple[Step, ...]]] = field(default_factory=list)  # runs at `wait:`
    trace: Recorder = field(default_factory=Recorder)  # what it did at the stages it reached (bot/traces)
    later: Deferred | None = None  # its rows written just before the commit (bot/store/deferred.py)
    speaker: tuple[str, str] | None = None  # (group, account): this account speaks for it, its lease held till commit
    charged: list[Charge] = field(default_factory=list)  # answers its rows counted against the reply budget

    def keep(self, runtime: Runtime, ctx: RunContext, source: str) -> None:
        """What a run that succeeded decided: its messages queued, its windows opened and closed."""
        self.queued += runtime.outbox.entries(self.event, source, 0, ctx.outgoing, self.now, charged=self.charged)
        self.opened += ctx.opened
        self.closed += ctx.closed


class Stage:
    """One step of the pipeline (see the module docstring)."""

    name = ""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def before(self, turn: Turn) -> None:
        """Ahead of the event's transaction, for reads that must not hold the database (a folder, a file).
        Nothing here may change anything: the event may yet turn out a duplicate."""

    async def handle(self, turn: Turn) -> bool:
        """In the event's transaction: True when the event is handled here and goes no further."""
        raise NotImplementedError
