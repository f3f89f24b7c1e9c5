"""A savepoint said to the database driver itself, inside the unit's transaction: every event and every playbook
run has one, and SQLAlchemy's nested transaction (AsyncConnection.begin_nested) cost more than the statements in it.

SQLite inline: InlineConnection.begin_nested (the sqlite3 connection). PostgreSQL: SAVEPOINT / RELEASE /
ROLLBACK TO on the asyncpg connection under the AsyncConnection, in the transaction SQLAlchemy began (begun here
the same way when the savepoint comes first, as bot/store/hot.py does). A rolled-back savepoint takes SQLAlchemy's
and the driver's writes with it: both run on the one connection. A driver error goes through SQLAlchemy's own
handling (bot/store/hot.py), so a passing one fails the whole unit (dialect.watch_failures). Any other driver keeps
SQLAlchemy's begin_nested.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.hot import begun, pg_failed, raw
from bot.store.inline import InlineConnection

_OPEN = "qunguan_savepoints"  # key in the pooled connection's info: the transaction's savepoints (_Open)


@dataclass
class _Open:
    """The savepoints of one transaction on one connection. A block that ends well leaves its RELEASE pending: it
    goes in one round trip with the next SAVEPOINT of that depth (or with an outer savepoint's RELEASE or ROLLBACK
    TO, which ends it anyway; COMMIT ends the rest). Until then the released savepoint only nests what follows
    inside it, and nothing rolls back to it."""

    transaction: object
    depth: int = 0
    pending: set[int] = field(default_factory=set)

    def released(self, depth: int) -> list[str]:
        """The pending RELEASEs a statement at `depth` must send first (those deeper are ended with them)."""
        said = [f"RELEASE SAVEPOINT q{depth}"] if depth in self.pending else []
        self.pending = {d for d in self.pending if d < depth}
        return said


def savepoint(conn: AsyncConnection) -> AbstractAsyncContextManager[Any]:
    """Released when the block ends, rolled back to (and released) if it raises."""
    if isinstance(conn, InlineConnection):
        return conn.begin_nested()
    return _driver_savepoint(conn)


@asynccontextmanager
async def _driver_savepoint(conn: AsyncConnection) -> AsyncIterator[None]:
    if conn.dialect.driver != "asyncpg":
        async with conn.begin_nested():
            yield
        return
    pooled = await raw(conn)
    adapted: Any = pooled.dbapi_connection
    await _say(conn, adapted, None)
    state = pooled.info.get(_OPEN)
    if state is None or state.transaction is not adapted._transaction:
        state = pooled.info[_OPEN] = _Open(adapted._transaction)
    state.depth += 1
    depth = state.depth
    name = f"q{depth}"
    try:
        await _say(conn, adapted, [*state.released(depth), f"SAVEPOINT {name}"])
        try:
            yield
        except BaseException:
            state.released(depth + 1)
            await _say(conn, adapted, [f"ROLLBACK TO SAVEPOINT {name}", f"RELEASE SAVEPOINT {name}"])
            raise
        state.released(depth + 1)
        state.pending.add(depth)
    finally:
        state.depth = depth - 1


async def _say(conn: AsyncConnection, adapted: Any, statements: list[str] | None) -> None:
    """`statements` in one round trip (the simple query protocol), in the unit's transaction (None: begin it)."""
    sql = "; ".join(statements or ["BEGIN"])
    try:
        if statements is None:
            await begun(adapted)
        else:
            await adapted._connection.execute(sql)
    except Exception as exc:
        await pg_failed(conn, adapted, exc, sql, [[]])
