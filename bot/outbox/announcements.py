"""What follows an announcement the outbox asked WeChat for (bot/outbox): nothing when it was set; when WeChat
refused it (the bot is no owner or admin) or it failed for good on errors, the text is posted in the group as a
message instead and staff are told why, so the rules still reach the group. Written in the transaction that
records the announcement's row."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Config
from bot.connectors.base import AnnounceRefused, Connector
from bot.events import Outgoing
from bot.outbox import routing
from bot.outbox.outcomes import NamedRooms, Outcome, alert_entries
from bot.outbox.rows import TABLE, Row, entry
from bot.store import dialect
from bot.textnorm import printable

log = logging.getLogger("qunguan.outbox")


async def announce(connector: Connector, row: Row) -> Outcome:
    """Ask WeChat to set the row's text as its room's announcement; a refusal is an answer, not an error."""
    m = row.message
    assert m.room is not None
    try:
        await connector.announce(m.room, m.text)
    except AnnounceRefused as exc:
        return Outcome(row, str(exc) or "微信拒绝了")
    return Outcome(row)


def refusal_text(row: Row, reason: str) -> str:
    room = row.message.room
    assert room is not None
    topic = room.topic or room.id
    return f"没能设置「{topic}」的群公告：{reason}。公告内容已作为消息发在群里，请群主或管理员设为群公告"


async def follow(
    conn: AsyncConnection, announced: list[Outcome], config: Config, named: NamedRooms | None, now: datetime
) -> list[dict[str, Any]]:
    """For each announcement not set: its text posted in the group and an alert to staff, queued (returned)."""
    queued: list[dict[str, Any]] = []
    for outcome in announced:
        if outcome.refused is None:
            continue
        row, m = outcome.row, outcome.row.message
        if not outcome.gave_up:
            log.warning("announcement in %s refused: %s", row.target, printable(outcome.refused))
        posted = Outgoing(m.text, room=m.room, playbook_id=m.playbook_id)
        key = f"{row.raw.dedup_key}/posted"
        queued.append(
            entry(
                posted,
                key=key,
                kind="notice",
                event_id=row.raw.event_id,
                playbook_id=m.playbook_id,
                reply_to=None,
                now=now,
                not_before=now,
            )
        )
        queued += await alert_entries(conn, config, named, row, refusal_text(row, outcome.refused), now)
    if queued:
        await routing.assign(conn, config, queued, now)
        await conn.execute(dialect.insert_ignore(conn, TABLE), queued)
    return queued
