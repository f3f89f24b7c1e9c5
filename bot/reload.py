"""Hot reload: read the playbooks folder again and swap the whole set in only when every file is clean.

Three ways in: a staff member's /重载; `qunguan reload`, which leaves a request row that every running bot
on the same database picks up within a second; and, when config says `reload: {watch: true}`, saving a
file in the folder. With any problem the running playbooks stay as they are and the problems are told;
warnings are told too, and change nothing. What is told here is English, like the logs: /重载 and
`qunguan reload` show it in the configured language.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, select, update

from bot.playbook.errors import Problem
from bot.playbook.library import PlaybookSet, load_configured, playbook_files
from bot.store.tables import ReloadRequest

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Config
    from bot.store import Store

log = logging.getLogger("qunguan.reload")
_requests = ReloadRequest.__table__

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Outcome:
    count: int  # playbooks now running (ok) or that would have loaded (not ok)
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for logs and `qunguan reload` (English, like every log line)."""
        if self.ok:
            warned = f", {len(self.warnings)} warning(s)" if self.warnings else ""
            return f"reloaded: {self.count} playbook(s) running{warned}"
        return f"not reloaded, {len(self.problems)} problem(s); the previous playbooks keep running"

    def lines(self) -> list[str]:
        """The summary, then every problem and warning in file order."""
        return [self.summary(), *map(str, sorted([*self.problems, *self.warnings]))]


@dataclass(frozen=True)
class Reading:
    """The folder as read and checked, not yet running: /重载 reads before its event is known new."""

    loaded: PlaybookSet
    signature: Signature

    @property
    def outcome(self) -> Outcome:
        """What applying it does: swap it in when it has no problems."""
        return Outcome(len(self.loaded.playbooks), self.loaded.problems, self.loaded.warnings)


class Running(Protocol):
    """The bot a Reloader swaps playbooks into (the Engine)."""

    store: Store
    config: Config
    clock: Clock

    def swap(self, playbooks: PlaybookSet) -> None: ...


def signature(folder: Path) -> Signature:
    """What a change to the folder changes: each playbook file's path, mtime and size."""
    out = []
    for path in playbook_files(folder) if folder.is_dir() else []:
        try:
            st = path.stat()
        except OSError:  # deleted while we looked
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


class Reloader:
    def __init__(self, engine: Running, folder: Path) -> None:
        self.engine = engine
        self.folder = folder
        self._signature = signature(folder)
        self._handled = 0  # reload requests up to this id were answered by us or made before we started
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Requests made before this process started are not for it: it reads the folder anyway."""
        async with self.engine.store.unit() as conn:
            self._handled = (await conn.execute(select(func.max(_requests.c.id)))).scalar() or 0

    async def load(self) -> PlaybookSet:
        """Read and check every file (off the event loop: a big folder must not stall the chat)."""
        return await asyncio.to_thread(load_configured, self.folder, self.engine.config)

    async def read(self) -> Reading:
        """Read and check the folder; nothing changes until `apply`."""
        seen = signature(self.folder)
        return Reading(await self.load(), seen)

    def apply(self, reading: Reading, why: str) -> Outcome:
        """Swap in what `read` found, if it has no problems, and say so in the log."""
        outcome = reading.outcome
        self._signature = reading.signature
        if outcome.ok:
            self.engine.swap(reading.loaded)
        details = outcome.lines()[1:]
        if outcome.ok and not details:
            log.info("%s (%s)", outcome.summary(), why)
        else:
            log.warning("%s (%s):\n%s", outcome.summary(), why, "\n".join(details))
        return outcome

    async def reload(self, why: str) -> Outcome:
        async with self._lock:
            return self.apply(await self.read(), why)

    async def poll(self) -> None:
        """Once a second: answer a `qunguan reload`; with `reload.watch`, follow edited files. Never raises."""
        try:
            await self._poll()
        except Exception:
            log.exception("checking for a playbook reload failed")

    async def _poll(self) -> None:
        async with self.engine.store.unit() as conn:
            newest = (await conn.execute(select(func.max(_requests.c.id)))).scalar() or 0
        if newest > self._handled:
            outcome = await self.reload("qunguan reload")
            result = "\n".join(outcome.lines())
            async with self.engine.store.unit() as conn:
                await conn.execute(
                    update(_requests)
                    .where(_requests.c.id <= newest, _requests.c.id > self._handled, _requests.c.answered_at.is_(None))
                    .values(answered_at=self.engine.clock.now(), result=result)
                )
            self._handled = newest
        elif self.engine.config.reload.watch and signature(self.folder) != self._signature:
            await self.reload("a playbook file changed")
