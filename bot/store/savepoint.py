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
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.hot import begun, pg_failed
from bot.store.inline import InlineConnection

_DEPTH = "qunguan_savepoints"  # key in the pooled connection's info: savepoints open on it


@asynccontextmanager
async def savepoint(conn: AsyncConnection) -> AsyncIterator[None]:
    """Released when the block ends, rolled back to (and released) if it raises."""
    if isinstance(conn, InlineConnection):
        async with conn.begin_nested():
            yield
        return
    if conn.dialect.driver != "asyncpg":
        async with conn.begin_nested():
            yield
        return
    pooled = await conn.get_raw_connection()
    adapted: Any = pooled.dbapi_connection
    depth = pooled.info[_DEPTH] = pooled.info.get(_DEPTH, 0) + 1
    name = f"q{depth}"
    try:
        await _say(conn, adapted, f"SAVEPOINT {name}", begin=True)
        try:
            yield
        except BaseException:
            await _say(conn, adapted, f"ROLLBACK TO SAVEPOINT {name}")
            await _say(conn, adapted, f"RELEASE SAVEPOINT {name}")
            raise
        await _say(conn, adapted, f"RELEASE SAVEPOINT {name}")
    finally:
        pooled.info[_DEPTH] = depth - 1


async def _say(conn: AsyncConnection, adapted: Any, sql: str, *, begin: bool = False) -> None:
    try:
        if begin:
            await begun(adapted)
        await adapted._connection.execute(sql)
    except Exception as exc:
        await pg_failed(conn, adapted, exc, sql, [[]])
