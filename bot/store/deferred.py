"""Rows a transaction writes once, just before its commit: the outbox and trace rows of every event in a batch
(group commit, bot/engine.py) go in one executemany per statement instead of one statement per event.

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
    """Rows per statement, in the order they were added."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: dict[hot.Statement, list[Mapping[str, Any]]] = {}

    def add(self, statement: hot.Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._rows.setdefault(statement, []).extend(rows)

    def take(self, other: Deferred) -> None:
        """Add everything `other` holds (an event's rows, once its savepoint stood)."""
        for statement, rows in other._rows.items():
            self.add(statement, rows)

    async def write(self, conn: AsyncConnection) -> None:
        """Everything added, into the caller's transaction; then nothing is left to write."""
        rows, self._rows = self._rows, {}
        for statement, added in rows.items():
            await hot.executemany(conn, statement, added)
