"""An outbox row as delivery reads it back and records what became of it (bot/outbox)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import MemberRef, Outgoing, RoomRef
from bot.governor import PRIORITY, Queued
from bot.store import dialect, hot
from bot.store.tables import OutboxMessage

TABLE = OutboxMessage.__table__
_MENTIONS = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), built once
log = logging.getLogger("qunguan.outbox")


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
    return Outgoing(
        r.text, room, member, mentions, r.playbook_id, r.invite, bool(r.accept), bool(r.remove), bool(r.announce)
    )


def entry(
    m: Outgoing,
    *,
    key: str,
    kind: str,
    event_id: str,
    playbook_id: str,
    reply_to: str | None,
    now: datetime,
    not_before: datetime,
) -> dict[str, Any]:
    """The row of one message (`key`: its dedup key); a removal is its own kind: no answer, outside the limit.
    An announcement shows in the group like a message: paced as its run's kind, but no answer to anyone."""
    if m.remove:
        kind, reply_to = "remove", None
    if m.announce:
        reply_to = None
    return {
        "dedup_key": key,
        "kind": kind,
        "priority": PRIORITY[kind],
        "event_id": event_id,
        "playbook_id": m.playbook_id or playbook_id,
        "room_id": m.room.id if m.room else None,
        "room_topic": m.room.topic if m.room else "",
        "member_id": m.member.id if m.member else None,
        "member_name": m.member.name if m.member else "",
        "mentions": _MENTIONS([[x.id, x.name] for x in m.mentions]) if m.mentions else "[]",
        "invite": m.invite,
        "accept": m.accept,
        "remove": m.remove,
        "announce": m.announce,
        "reply_to": reply_to,
        "text": m.text,
        "created_at": now,
        "not_before": not_before,
        "expires_at": m.expires_at,
        "state": "pending",
        "attempts": 0,
    }


# The rows `entry` makes (in a fleet with their sender: bot/outbox/routing.py); a dedup key already there is skipped.
INSERT = hot.insert(
    "outbox row",
    TABLE,
    [
        *("dedup_key", "kind", "priority", "event_id", "playbook_id", "room_id", "room_topic", "member_id"),
        *("member_name", "mentions", "invite", "accept", "remove", "announce", "reply_to", "text", "created_at"),
        *("not_before", "expires_at", "state", "attempts", "account"),
    ],
    conflict="DO NOTHING",
)


NOT_ACCEPTED = "the friend request it follows could not be accepted"
NOT_REMOVED = "the removal it follows did not happen"
NOT_ANNOUNCED = "the announcement it follows was not set"


def run_of(row: Row) -> str:
    """The playbook run (or guard, or command's sends) that queued the row: its dedup key less the message's
    index (event/source/part/i; a refusal's alert adds a suffix of its own, so it belongs to no run)."""
    return str(row.raw.dedup_key).rsplit("/", 1)[0]


def acting(r: Any) -> bool:
    """A removal or an announcement: an act on the group that WeChat may refuse."""
    return bool(r.remove or r.announce)


def free(queue: list[Row]) -> list[Row]:
    """The rows that may go. What an event decided after accepting a friend request (the greeting, the
    invitation) waits until that acceptance is sent, since WeChat delivers neither to someone not a friend;
    what a run queued with a removal ("已移出本群") or an announcement ("群公告已更新") waits until it is made,
    since it may be refused."""
    accepting = {r.raw.event_id for r in queue if r.raw.accept}
    removing = {run_of(r) for r in queue if acting(r.raw)}
    if not (accepting or removing):
        return queue
    return [
        r
        for r in queue
        if r.raw.accept or acting(r.raw) or (r.raw.event_id not in accepting and run_of(r) not in removing)
    ]


def holds(row: Row) -> bool:
    """An acceptance, a removal or an announcement: other rows wait on it (`free`)."""
    return bool(row.raw.accept or acting(row.raw))


def behind(queue: list[Row], lead: Row) -> list[Row]:
    """The rows held on an acceptance, a removal or an announcement (not other such acts): they go nowhere when
    it failed."""
    if lead.raw.accept:
        return [r for r in queue if r.raw.event_id == lead.raw.event_id and r is not lead]
    run = run_of(lead)
    return [r for r in queue if not acting(r.raw) and run_of(r) == run]


def dropped_records(lead: Row, dropped: list[Row]) -> list[dict[str, Any]]:
    """The records of the rows held on an acceptance, a removal or an announcement that failed: failed too, unsent
    (logged)."""
    if not dropped:
        return []
    error = NOT_ACCEPTED if lead.raw.accept else NOT_ANNOUNCED if lead.raw.announce else NOT_REMOVED
    log.warning("%d message(s) of playbook %s dropped unsent: %s", len(dropped), lead.raw.playbook_id, error)
    return [record(r, "failed", attempts=r.attempts, error=error) for r in dropped]


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


async def expire(conn: AsyncConnection, queue: list[Row], now: datetime) -> list[Row]:
    """Drop, unsent, what a playbook said is worthless after a time (held by quiet hours or a pause)."""
    late = [r for r in queue if r.raw.expires_at is not None and dialect.aware(r.raw.expires_at) <= now]
    if not late:
        return queue
    await conn.execute(
        update(TABLE)
        .where(TABLE.c.id.in_([r.id for r in late]), TABLE.c.state == "pending")
        .values(state="expired", last_error="expired before it could be sent")
    )
    for r in late:
        log.info("outbox: message %s to %s expired unsent (playbook %s)", r.id, r.target, r.raw.playbook_id)
    return [r for r in queue if r not in late]
