"""What staff commands may change about the running bot: playbooks on and off (/启用 /停用), a reload (/重载)
and the groups it manages (/绑定 /解绑).

Each change is written in the event's transaction and reaches this process's memory only once that commits
(a rolled-back or duplicate command changes nothing here); a reload swaps the new set in after the commit too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import RoomRef
from bot.reload import Outcome, Reading
from bot.rooms import Binding, bind, unbind
from bot.store.switches import set_switch

if TYPE_CHECKING:
    from bot.context import Runtime
    from bot.playbook.library import PlaybookSet
    from bot.playbook.model import Playbook


class Admin:
    def __init__(self, runtime: Runtime, conn: AsyncConnection | None, on_commit: list[Callable[[], None]]) -> None:
        self._runtime = runtime
        self._conn = conn
        self._on_commit = on_commit

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("a command's prepare only reads: it has no transaction to write in")
        return self._conn

    # -- playbooks

    @property
    def running(self) -> PlaybookSet:
        """The playbooks running now (with the files that fell back to a last good version)."""
        return self._runtime.playbooks

    def playbooks(self) -> list[Playbook]:
        return list(self._runtime.playbooks.playbooks)

    def is_on(self, playbook: Playbook) -> bool:
        """Switched on or off by staff, else as its file says (`enabled:`)."""
        return self._runtime.switches.get(playbook.id, playbook.enabled)

    async def switch(self, playbook_id: str, enabled: bool, *, by: str) -> None:
        """On or off from now on, kept in the database (a restart keeps it)."""
        await set_switch(self.conn, playbook_id, enabled, by, self._runtime.clock.now())
        switches = self._runtime.switches
        self._on_commit.append(lambda: switches.__setitem__(playbook_id, enabled))

    async def read_playbooks(self, *, by: str) -> Reading | None:
        """The playbooks folder read and checked, changing nothing (a prepare); None when the playbooks did not
        come from a folder. `by`: who the versions it loads are recorded as loaded by."""
        reloader = self._runtime.reloader
        return await reloader.read(by) if reloader is not None else None

    async def reload(self, reading: Reading, why: str) -> Outcome:
        """Swap in `reading` once the event's transaction commits; its new versions are recorded in it. A folder
        that was not there changes nothing (said in the log now)."""
        reloader = self._runtime.reloader
        assert reloader is not None
        if not reading.outcome.swapped:
            return reloader.apply(reading, why)
        await reloader.record(self.conn, reading)
        self._on_commit.append(lambda: reloader.apply(reading, why))
        return reading.outcome

    # -- groups

    async def bind(self, room: RoomRef, *, by: str) -> Binding | None:
        """Manage a group by its id from now on; None when it was bound already."""
        binding = await bind(self.conn, room, self._runtime.config, by=by, at=self._runtime.clock.now())
        if binding is not None:
            rooms = self._runtime.rooms
            self._on_commit.append(lambda: rooms.bound(binding))
        return binding

    async def unbind(self, room_id: str) -> bool:
        """Stop managing a group bound by /绑定 or `qunguan rooms bind`; False when it was not."""
        if not await unbind(self.conn, room_id):
            return False
        rooms = self._runtime.rooms
        self._on_commit.append(lambda: rooms.unbound(room_id))
        return True
