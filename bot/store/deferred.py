"""Rows a transaction writes once, just before its commit: the outbox and trace rows of every event in a batch
(group commit, bot/engine.py) go in one executemany per statement instead of one statement per event, and a
group's last activity once per group (the latest), after the first event of the batch found its row current.

Only rows nothing reads before the commit belong here: the delivery worker, the console and housekeeping read what
committed, and an event's own stages never read its outbox or trace rows. An event adds its rows once its savepoint
stood, so a failing event leaves none; a write that fails here fails the whole transaction, whose events the intake
then tries one at a time (bot/intake.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import hot


class Deferred:
    """Rows per statement, in the order they were added; keyed rows (`put`), the last per key. An event's own
    (`batch.of()`) sees what the batch's earlier events established (`topic`) and joins it once it stood (`take`)."""

    __slots__ = ("_keyed", "_parent", "_rooms", "_rows")

    def __init__(self, parent: Deferred | None = None) -> None:
        self._rows: dict[hot.Statement, list[Mapping[str, Any]]] = {}
        self._keyed: dict[hot.Statement, dict[str, Mapping[str, Any]]] = {}
        self._rooms: dict[str, str] = {}
        self._parent = parent

    def of(self) -> Deferred:
        """A Deferred for one event of this transaction."""
        return Deferred(self)

    def add(self, statement: hot.Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._rows.setdefault(statement, []).extend(rows)

    def put(self, statement: hot.Statement, key: str, row: Mapping[str, Any]) -> None:
        """A row that replaces the one put before under `key` (like a group's last activity: the latest wins)."""
        keyed = self._keyed.setdefault(statement, {})
        keyed.pop(key, None)
        keyed[key] = row

    def topic(self, room_id: str) -> str | None:
        """The group's topic as this transaction found it in its row (`found`); None when it has not looked."""
        found = self._rooms.get(room_id)
        if found is None and self._parent is not None:
            return self._parent.topic(room_id)
        return found

    def found(self, room_id: str, topic: str) -> None:
        self._rooms[room_id] = topic

    def take(self, other: Deferred) -> None:
        """Add everything `other` holds (an event's rows, once its savepoint stood)."""
        for statement, rows in other._rows.items():
            self.add(statement, rows)
        for statement, keyed in other._keyed.items():
            for key, row in keyed.items():
                self.put(statement, key, row)
        self._rooms.update(other._rooms)

    async def write(self, conn: AsyncConnection) -> None:
        """Everything added, into the caller's transaction; then nothing is left to write."""
        rows, keyed, self._rows, self._keyed = self._rows, self._keyed, {}, {}
        for statement, added in rows.items():
            await hot.executemany(conn, statement, added)
        for statement, last in keyed.items():
            await hot.executemany(conn, statement, list(last.values()))
