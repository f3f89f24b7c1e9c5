"""What follows a removal the outbox made (bot/outbox): the member out of the group in the store, or, when WeChat
refused it (the bot is no owner or admin) or it failed for good on errors, an alert to staff that says why.
Written in the transaction that records the removal's row; the alert is an outbox row like any message
(bot/alerts.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Config
from bot.connectors.base import Connector, RemoveRefused
from bot.outbox import routing
from bot.outbox.outcomes import NamedRooms, Outcome, alert_entries
from bot.outbox.rows import TABLE, Row
from bot.store import dialect
from bot.store.activity import mark_left
from bot.textnorm import printable

log = logging.getLogger("qunguan.outbox")


RETELL = timedelta(hours=1)  # one alert per member and group refused: a spammer posting on is no alert flood
REMEMBERED = 1000  # (group, member) pairs whose last refusal alert is kept


class Told:
    """When staff were last told of a refused removal, per group and member (in memory: a restart costs one more)."""

    def __init__(self) -> None:
        self._at: dict[tuple[str, str], datetime] = {}

    def due(self, room_id: str, member_id: str, now: datetime) -> bool:
        last = self._at.get((room_id, member_id))
        if last is not None and now - last < RETELL:
            return False
        self._at.pop((room_id, member_id), None)
        self._at[(room_id, member_id)] = now
        if len(self._at) > REMEMBERED:
            del self._at[next(iter(self._at))]
        return True


async def remove(connector: Connector, row: Row) -> Outcome:
    """Ask WeChat to remove the row's member from its room; a refusal is an answer, not an error."""
    m = row.message
    assert m.room is not None and m.member is not None
    try:
        await connector.remove(m.room, m.member)
    except RemoveRefused as exc:
        return Outcome(row, str(exc) or "微信拒绝了")
    return Outcome(row)


def refusal_text(row: Row, reason: str) -> str:
    m = row.message
    assert m.room is not None and m.member is not None
    why = f"（原因：{m.text}）" if m.text else ""
    name, topic = m.member.name or m.member.id, m.room.topic or m.room.id
    return f"没能把 {name} 移出「{topic}」：{reason}。请群主或管理员处理{why}"  # one line: alerts() sees to it


async def follow(
    conn: AsyncConnection,
    removals: list[Outcome],
    config: Config,
    named: NamedRooms | None,
    now: datetime,
    told: Told,
) -> list[dict[str, object]]:
    """The store told of each removal, the alert rows of those refused queued (returned)."""
    queued: list[dict[str, object]] = []
    for removal in removals:
        m = removal.row.message
        assert m.room is not None and m.member is not None
        if removal.refused is None:
            await mark_left(conn, m.room.id, m.member.id, now)
            continue
        text = refusal_text(removal.row, removal.refused)
        if not removal.gave_up:
            log.warning(
                "removal of %s from %s refused: %s", m.member.id, removal.row.target, printable(removal.refused)
            )
        if told.due(m.room.id, m.member.id, now):
            queued += await alert_entries(conn, config, named, removal.row, text, now)
    if queued:
        await routing.assign(conn, config, queued, now)
        await conn.execute(dialect.insert_ignore(conn, TABLE), queued)
    return queued
