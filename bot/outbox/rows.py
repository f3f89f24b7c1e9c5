"""An outbox row as delivery reads it back and records what became of it (bot/outbox)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update

from bot.events import MemberRef, Outgoing, RoomRef
from bot.governor import Queued
from bot.store import dialect
from bot.store.tables import OutboxMessage

TABLE = OutboxMessage.__table__


@dataclass(frozen=True, slots=True)
class Row:
    """A pending row as the worker holds it between loading and recording."""

    id: int
    queued: Queued
    attempts: int
    raw: Any  # the database row; the message is built only for rows that are sent

    @property
    def message(self) -> Outgoing:
        return message_of(self.raw)

    @property
    def target(self) -> str:
        m = self.message
        if m.room is not None:
            return f"room {m.room.topic} ({m.room.id})" if m.room.topic not in ("", m.room.id) else f"room {m.room.id}"
        assert m.member is not None
        name = m.member.name
        return f"member {name} ({m.member.id})" if name not in ("", m.member.id) else f"member {m.member.id}"


def message_of(r: Any) -> Outgoing:
    room = RoomRef(r.room_id, r.room_topic) if r.room_id is not None else None
    member = MemberRef(r.member_id, r.member_name) if r.member_id is not None else None
    mentions = tuple(MemberRef(i, n) for i, n in json.loads(r.mentions))
    return Outgoing(r.text, room, member, mentions, r.playbook_id, r.invite, accept=bool(r.accept))


NOT_ACCEPTED = "the friend request it follows could not be accepted"


def not_behind_an_accept(queue: list[Row]) -> list[Row]:
    """The rows that may go: what an event decided after accepting a friend request (the greeting, the
    invitation) waits until that acceptance is sent, since WeChat delivers neither to someone not a friend."""
    accepting = {r.raw.event_id for r in queue if r.raw.accept}
    return [r for r in queue if r.raw.accept or r.raw.event_id not in accepting] if accepting else queue


def behind(queue: list[Row], accept: Row) -> list[Row]:
    """The rows of the same event as an acceptance: they go nowhere when it failed for good."""
    return [r for r in queue if r.raw.event_id == accept.raw.event_id and r is not accept]


def read_row(r: Any) -> Row:
    group = None
    if r.kind == "welcome" and r.room_id is not None and not r.invite:
        # The i-th message of each join's run merges with the i-th of the others (key: event/playbook/part/i).
        group = f"{r.room_id}\n{r.playbook_id}\n{'/'.join(r.dedup_key.rsplit('/', 2)[-2:])}"
    target = r.room_id if r.room_id is not None else r.member_id
    queued = Queued(r.id, r.kind, target, dialect.aware(r.not_before), group, r.reply_to, dialect.aware(r.created_at))
    return Row(r.id, queued, r.attempts, r)


RECORD = (
    update(TABLE)
    .where(TABLE.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        not_before=bindparam("b_not_before"),
        last_error=bindparam("b_error"),
        platform_id=bindparam("b_platform_id"),
        sent_at=bindparam("b_sent_at"),
        merged_into=bindparam("b_merged_into"),
    )
)


def record(
    row: Row,
    state: str,
    *,
    attempts: int,
    not_before: datetime | None = None,
    error: str | None = None,
    platform_id: str | None = None,
    sent_at: datetime | None = None,
    merged_into: int | None = None,
) -> dict[str, Any]:
    return {
        "b_id": row.id,
        "b_state": state,
        "b_attempts": attempts,
        "b_not_before": not_before or row.queued.not_before,
        "b_error": error,
        "b_platform_id": platform_id,
        "b_sent_at": sent_at,
        "b_merged_into": merged_into,
    }
