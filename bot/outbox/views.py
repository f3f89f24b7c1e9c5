"""The outbox as staff read it (the console's 发送 page): the queue per group, what went out today against the
daily limit, and what failed with the reason. Plain reads on a sync connection (the console runs them off the
event loop); delivery counts today's sends the same way after a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, tzinfo
from typing import Any

from sqlalchemy import Connection, func, select

from bot.config import Config
from bot.outbox import status
from bot.outbox.rows import TABLE
from bot.store import dialect

SENT = (TABLE.c.state == "sent") & TABLE.c.merged_into.is_(None)  # one platform send (merged welcomes count once)
PRIVATE = "私聊"
STATES = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "失败",
    "expired": "过期未发",
    "unknown": "不确定是否发出",
}
TROUBLE = ("failed", "expired", "unknown")
# The reasons delivery records in English (bot/outbox), as staff read them; others (WeChat's own) show as they are.
REASONS = {
    "expired before it could be sent": "过了有效期还没轮到发送，已放弃",
    "the bot stopped during the send; not resent": "发送时机器人停止了，不知道是否发出，没有重发",
    "the friend request it follows could not be accepted": "它之前的好友申请没能通过",
    "the removal it follows did not happen": "它之前的移出没有成功",
    "the announcement it follows was not set": "它之前的群公告没有设置成功",
}


def local_midnight(now: datetime, tz: tzinfo) -> datetime:
    """The start of `now`'s local day, in UTC: the daily limit counts from there."""
    return datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz).astimezone(UTC)


def reason(error: str | None) -> str:
    if not error:
        return ""
    if error.startswith("refused: "):
        return "微信拒绝：" + error.removeprefix("refused: ")
    return REASONS.get(error, error)


def sent_today(conn: Connection, config: Config, now: datetime, account: str | None = None) -> int:
    """Platform sends since local midnight: of one account (its daily limit counts these), or of the shop."""
    mine = [TABLE.c.account == account] if account is not None else []
    return conn.scalar(select(func.count()).where(SENT, TABLE.c.sent_at >= local_midnight(now, config.tz), *mine)) or 0


def summary(conn: Connection, config: Config, now: datetime) -> dict[str, Any]:
    """The governor's breaker, today's sends against the limit, and the queue per group (private chats as one).
    A fleet's account (config.account) sees its own breaker and sends; outside a fleet, the one account's."""
    account = config.account if config.accounts else None
    sent = sent_today(conn, config, now, account)
    failed = conn.scalar(
        select(func.count()).where(TABLE.c.state.in_(TROUBLE), TABLE.c.created_at >= local_midnight(now, config.tz))
    )
    rows = conn.execute(
        select(
            TABLE.c.room_id,
            func.max(TABLE.c.room_topic).label("topic"),
            TABLE.c.kind,
            func.count().label("count"),
            func.min(TABLE.c.created_at).label("oldest"),
            func.min(TABLE.c.not_before).label("next"),
        )
        .where(TABLE.c.state == "pending")
        .group_by(TABLE.c.room_id, TABLE.c.kind)
    ).all()
    rooms: dict[str | None, dict[str, Any]] = {}
    for r in rows:
        room = rooms.setdefault(
            r.room_id,
            {"room_id": r.room_id, "topic": r.topic or r.room_id or PRIVATE, "pending": 0, "kinds": {}, "oldest": None},
        )
        room["pending"] += r.count
        room["kinds"][r.kind] = r.count
        oldest = dialect.aware(r.oldest).isoformat()
        room["oldest"] = min(room["oldest"] or oldest, oldest)
    limit = config.sending.daily_limit
    return {
        "governor": status.read(conn, now, config.account),
        "today": {"sent": sent, "limit": limit, "left": max(0, limit - sent), "failed": failed or 0},
        "rooms": sorted(rooms.values(), key=lambda room: (-room["pending"], room["topic"])),
    }


def messages(
    conn: Connection, *, trouble: bool, room: str | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """Pending messages (oldest first), or those that failed, expired or may not have gone out (newest first)."""
    where = [TABLE.c.state.in_(TROUBLE) if trouble else TABLE.c.state == "pending"]
    if room == PRIVATE:
        where.append(TABLE.c.room_id.is_(None))
    elif room is not None:
        where.append(TABLE.c.room_id == room)
    total = conn.scalar(select(func.count()).where(*where)) or 0
    order = TABLE.c.id.desc() if trouble else TABLE.c.id
    rows = conn.execute(select(TABLE).where(*where).order_by(order).limit(limit).offset(offset)).all()
    return total, [_message(r) for r in rows]


def _message(r: Any) -> dict[str, Any]:
    what = "移出" if r.remove else "群公告" if r.announce else "通过好友申请" if r.accept else ""
    what = what or ("邀请进群" if r.invite else "")
    return {
        "id": r.id,
        "kind": r.kind,
        "what": what,
        "state": r.state,
        "state_text": STATES.get(r.state, r.state),
        "room_id": r.room_id,
        "room": r.room_topic or r.room_id or PRIVATE,
        "member_id": r.member_id,
        "member": r.member_name or r.member_id or "、".join(f"@{name or i}" for i, name in json.loads(r.mentions)),
        "text": r.text,
        "playbook": r.playbook_id,
        "attempts": r.attempts,
        "reason": reason(r.last_error),
        "created_at": dialect.aware(r.created_at).isoformat(),
        "not_before": dialect.aware(r.not_before).isoformat(),
    }
