"""A small shop's history for the dashboard's tests (analytics, API, browser), written straight into the tables,
with every figure small enough to count by hand. The bot's clock starts on Thursday 2026-11-26 09:00 (Shanghai,
UTC+8); the week of Monday 11-23 is this week.

Group r1 (会员福利1群): a, b join on 11-16; c, d on 11-21; e at 00:30 on 11-24 (16:30 UTC on 11-23: the local
day counts), invited by a; i at 02:00 on 11-20 (18:00 UTC the day before: the first day of a 7-day chart); h on 11-10;
g on 10-17. Group r2: f at 00:30 on Monday 11-23 (Sunday in UTC: the
local week counts), inviting itself (nobody). d leaves on 11-25.
Check-ins: a, b on 11-17; c on 11-22; f on 11-24. Spoke (message_days): h 11-12 and 11-24; c 11-21 and 11-25;
f 11-23; a and b 11-26. A quiz in r1 on 11-23 20:00: a wins, b is late. A coupon drop in r1 on 11-25 12:00: a
wins, c finds it sold out. Coupons: a and b get one on 11-18 (a redeems it on 11-19); d gets one on 11-22
without ever checking in; a gets one on 11-25 12:00 and redeems it on 11-26 08:00.
Outbox in r1: two sends on 11-26 (one left at once, one five minutes after it was ready: held), one expired on
11-24 (held), a welcome merged into another send, a removal, one pending 30 s (not held yet) and one pending an
hour (held). Nudges by `wake` on 11-20 09:00: n1-n4 nudged (n1 twice), n1-n3 came back; n5-n8 held out, n5
came back; `birthday` nudged n9, who came back; an older `wake` nudge of n10 (10-20).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import SQLModel

from bot.testing import TestBot

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)
ROOMS = {"r1": "会员福利1群", "r2": "<img src=x onerror=alert(1)>"}


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    """A local time, as stored: UTC."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=TZ).astimezone(UTC)


async def seed(bot: TestBot) -> None:
    t = SQLModel.metadata.tables
    joins = [
        ("r1", "a", at(11, 16), None, None),
        ("r1", "b", at(11, 16), None, None),
        ("r1", "c", at(11, 21), None, None),
        ("r1", "d", at(11, 21), at(11, 25), None),
        ("r1", "e", at(11, 24, 0, 30), None, "a"),
        ("r1", "h", at(11, 10), None, None),
        ("r1", "i", at(11, 20, 2), None, None),
        ("r1", "g", at(10, 17), None, None),
        ("r2", "f", at(11, 23, 0, 30), None, "f"),
    ]
    nudges = [
        *[("wake", m, False, at(11, 20, 9)) for m in ("n1", "n1", "n2", "n3", "n4")],
        *[("wake", m, True, at(11, 20, 9)) for m in ("n5", "n6", "n7", "n8")],
        ("birthday", "n9", False, at(11, 20, 9)),
        ("wake", "n10", False, at(10, 20, 9)),
    ]
    back = {"n1", "n2", "n3", "n5", "n9", "n10"}
    rows: dict[str, list[dict[str, Any]]] = {
        "rooms": [{"id": r, "topic": topic, "first_seen": at(10, 1)} for r, topic in ROOMS.items()],
        "members": [
            {"id": m, "name": m, "first_seen": at(10, 1), "last_active": at(11, 25) if m in back else at(11, 10)}
            for m in [*"abcdefghi", *(f"n{k}" for k in range(1, 11))]
        ],
        "room_members": [
            {"room_id": r, "member_id": m, "joined_at": j, "left_at": gone, "inviter_id": by, "active": gone is None}
            for r, m, j, gone, by in joins
        ],
        "checkins": [
            {"member_id": m, "day": d.astimezone(TZ).date(), "streak": 1, "points": 5, "at": d}
            for m, d in (("a", at(11, 17)), ("b", at(11, 17)), ("c", at(11, 22)), ("f", at(11, 24)))
        ],
        "message_days": [
            {"member_id": m, "day": at(11, d).astimezone(TZ).date(), "messages": 2}
            for m, d in (("h", 12), ("h", 24), ("c", 21), ("c", 25), ("f", 23), ("a", 26), ("b", 26))
        ],
        "windows": [
            {"id": 901, "kind": "quiz", "room_id": "r1", "playbook_id": "quiz", "opened_at": at(11, 23, 20),
             "closes_at": at(11, 23, 20, 10), "closed_at": at(11, 23, 20, 10)},
            {"id": 902, "kind": "claim", "room_id": "r1", "playbook_id": "drop", "opened_at": at(11, 25, 12),
             "closes_at": at(11, 25, 12, 10), "closed_at": at(11, 25, 12, 10)},
        ],
        "window_entries": [
            {"window_id": 901, "member_id": "a", "outcome": "won", "rank": 1, "at": at(11, 23, 20, 1)},
            {"window_id": 901, "member_id": "b", "outcome": "late", "rank": 2, "at": at(11, 23, 20, 2)},
            {"window_id": 902, "member_id": "a", "outcome": "won", "rank": 1, "at": at(11, 25, 12, 1)},
            {"window_id": 902, "member_id": "c", "outcome": "sold_out", "rank": 2, "at": at(11, 25, 12, 2)},
        ],
        "coupons": [
            {"code": "C1", "batch_id": "vip", "title": "会员券", "member_id": "a", "seq": 1, "issued_at": at(11, 18),
             "redeemed_at": at(11, 19)},
            {"code": "C2", "batch_id": "vip", "title": "会员券", "member_id": "b", "seq": 1, "issued_at": at(11, 18)},
            {"code": "C4", "batch_id": "vip", "title": "会员券", "member_id": "d", "seq": 1, "issued_at": at(11, 22)},
            {"code": "C3", "batch_id": "lucky", "title": "幸运券", "member_id": "a", "seq": 1, "issued_at": at(11, 25),
             "redeemed_at": at(11, 26, 8)},
        ],
        "outbox": [
            _out(1, "sent", at(11, 26, 8), sent=at(11, 26, 8, 0, 5)),
            _out(2, "sent", at(11, 26, 8, 10), sent=at(11, 26, 8, 15)),
            _out(3, "expired", at(11, 24, 10)),
            _out(4, "sent", at(11, 26, 8), sent=at(11, 26, 8, 0, 5), merged_into=901),
            _out(5, "sent", at(11, 26, 8), sent=at(11, 26, 8, 0, 5), remove=True),
            _out(6, "pending", at(11, 26, 8, 59, 30)),
            _out(7, "pending", at(11, 26, 8)),
        ],
        "nudges": [{"playbook_id": p, "member_id": m, "holdout": h, "at": when} for p, m, h, when in nudges],
    }  # fmt: skip
    async with bot.bot.store.unit() as conn:
        for name, values in rows.items():
            for value in values:  # one by one: rows leave out different nullable columns
                await conn.execute(insert(t[name]).values(**value))


# Ids far above what the test's own rows take: PostgreSQL's sequences do not move for ids written by hand.
def _out(n: int, state: str, ready: datetime, *, sent: datetime | None = None, **more: Any) -> dict[str, Any]:
    return {
        "id": 900 + n, "dedup_key": f"seed/{n}", "kind": "notice", "priority": 1, "event_id": f"e{n}", "room_id": "r1",
        "text": f"消息 {n}", "created_at": ready - timedelta(minutes=1), "not_before": ready, "state": state,
        "sent_at": sent, **more,
    }  # fmt: skip
