"""Opting out, built into the engine before any playbook: a member who says 退订 gets no more `dm` or
`for_each` messages from any playbook until they say 订阅. Replies to their own messages still work."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import OptOutSection
from bot.events import MessageEvent
from bot.store import dialect
from bot.store.tables import OptOut
from bot.textnorm import normalize

_opt_outs = OptOut.__table__


@lru_cache(maxsize=16)
def _normalized(words: tuple[str, ...]) -> frozenset[str]:
    """The words as messages are matched (normalised once, not for every message of every member)."""
    return frozenset(normalize(w) for w in words)


async def answer(conn: AsyncConnection, event: MessageEvent, words: OptOutSection, at: datetime) -> str | None:
    """The confirmation when the message is an opt-out or opt-in word (then no playbook runs); else None."""
    text = normalize(event.text)
    if text in _normalized(tuple(words.stop)):
        row = {"member_id": event.sender.id, "at": at}
        await conn.execute(dialect.insert_ignore(conn, _opt_outs), row)
        return words.stopped
    if text in _normalized(tuple(words.resume)):
        await conn.execute(delete(_opt_outs).where(_opt_outs.c.member_id == event.sender.id))
        return words.resumed
    return None


async def opted_out(conn: AsyncConnection, member_id: str) -> bool:
    found = await conn.execute(select(_opt_outs.c.member_id).where(_opt_outs.c.member_id == member_id))
    return found.first() is not None
