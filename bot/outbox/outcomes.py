"""What follows an act the outbox made on a group and WeChat refused (a removal, an announcement): the rows that
tell staff, queued in the transaction that records the act's row (bot/outbox: removals.py, announcements.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts import alerts
from bot.config import Config
from bot.events import RoomRef
from bot.outbox.rows import Row, entry

NamedRooms = Callable[[AsyncConnection, str], Awaitable[list[RoomRef]]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a removal or an announcement the outbox asked WeChat for."""

    row: Row
    refused: str | None = None  # why it did not happen (WeChat's reason, or the errors it gave); None: done
    gave_up: bool = False  # not refused: it failed on errors `retries` times (logged as such already)


def given_up(row: Row, tries: int) -> Outcome:
    """An act that failed for good on errors (not a refusal): staff hear it did not happen, like a refusal."""
    return Outcome(row, f"微信出错，试了 {tries} 次都没成功", gave_up=True)


async def alert_entries(
    conn: AsyncConnection, config: Config, named: NamedRooms | None, row: Row, text: str, now: datetime
) -> list[dict[str, Any]]:
    """The rows of an alert to staff about `row` (the alert room and people of config.yaml), keyed after it."""

    async def bound(name: str) -> list[RoomRef]:
        return await named(conn, name) if named is not None else []

    m, raw = row.message, row.raw
    return [
        entry(
            alert,
            key=f"{raw.dedup_key}/refused/{i}",
            kind="notice",
            event_id=raw.event_id,
            playbook_id=m.playbook_id,
            reply_to=None,
            now=now,
            not_before=now,
        )
        for i, alert in enumerate(await alerts(conn, config, bound, text, playbook_id=m.playbook_id))
    ]
