"""The dashboard's figures per local day (joins, leaves, active members, check-ins, quiz answers and winners,
coupons issued/claimed/redeemed, messages sent and held by the governor), for one group or all, and the same
counts over any span for /统计: one definition of each figure, `FIGURES`.

Where each is recorded: joins and leaves in `room_members` (joined_at, left_at); active members in
`message_days` (a row per member and local day they spoke); check-ins in `checkins` (its local `day`); quiz
answers and winners, and coupons claimed in a drop, in `window_entries` of `quiz` and `claim` windows; coupons
issued and redeemed in `coupons`; messages in the `outbox`. The governor keeps no record of what it held: a
message counts as held when it left more than HELD after it was ready (`not_before`: pacing, quiet hours,
the daily limit, a pause), or never left (expired, or still waiting that long now).

Per-day counts group on a stored local day where the table has one, else on the UTC hour (in SQL, over a range
of the table's time index), each hour then given to its local day: exact in zones of whole hours (China's),
summer time included; in a zone of half hours an hour goes to the day its start falls in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, and_, func, or_, select

from bot.analytics import days_back, members_of, midnight, table
from bot.store.dialect import hour_of, seconds_between

HELD = timedelta(minutes=1)


@dataclass(frozen=True)
class Figure:
    """What to count: rows of `source` whose `at` falls in the span, and `where` holds; `room` is the room id
    column (a figure of a group's own rows) or else `member` (a figure of the group's members); `day` a stored
    local day to group on."""

    label: str
    source: Callable[[], FromClause]
    at: Callable[[], Any]
    where: Callable[[Connection, datetime, datetime], list[ColumnElement[bool]]]  # (conn, since, now)
    room: Callable[[], Any] | None = None
    member: Callable[[], Any] | None = None
    day: Callable[[], Any] | None = None


def _c(name: str) -> Any:
    return table(name).c


def _entries(kind: str, *, won: bool) -> Figure:
    def where(*_: Any) -> list[ColumnElement[bool]]:
        return [_c("windows").kind == kind, *([_c("window_entries").outcome == "won"] if won else [])]

    label = {("quiz", False): "问答作答", ("quiz", True): "问答答对", ("claim", True): "抢到券"}[(kind, won)]
    return Figure(
        label,
        lambda: table("window_entries").join(table("windows"), _c("windows").id == _c("window_entries").window_id),
        lambda: _c("window_entries").at,
        where,
        room=lambda: _c("windows").room_id,
    )


def _messages() -> list[ColumnElement[bool]]:
    """Outbox rows that are messages (not a removal, an announcement or a friend acceptance), each send once."""
    o = _c("outbox")
    return [
        o.merged_into.is_(None),
        or_(o.remove.is_(None), o.remove.is_(False)),
        or_(o.announce.is_(None), o.announce.is_(False)),
        or_(o.accept.is_(None), o.accept.is_(False)),
    ]


def _held(conn: Connection, since: datetime, now: datetime) -> list[ColumnElement[bool]]:
    """Held rows were ready in the span; each branch is written so an index finds it (a late send left after
    `since` too: ix_outbox_sent_at; the unsent by state: ix_outbox_queue), not by reading the whole outbox."""
    o = _c("outbox")
    waited = seconds_between(conn.dialect.name, o.sent_at, o.not_before) > HELD.total_seconds()
    still = and_(o.state == "pending", o.not_before < now - HELD)
    return [*_messages(), or_(and_(o.sent_at >= since, waited), o.state == "expired", still)]


FIGURES: dict[str, Figure] = {
    "joins": Figure(
        "入群", lambda: table("room_members"), lambda: _c("room_members").joined_at, lambda *_: [],
        room=lambda: _c("room_members").room_id,
    ),
    "leaves": Figure(
        "退群", lambda: table("room_members"), lambda: _c("room_members").left_at, lambda *_: [],
        room=lambda: _c("room_members").room_id,
    ),
    "active": Figure(
        "活跃人数", lambda: table("message_days"), lambda: None, lambda *_: [],
        member=lambda: _c("message_days").member_id, day=lambda: _c("message_days").day,
    ),
    "checkins": Figure(
        "签到", lambda: table("checkins"), lambda: _c("checkins").at, lambda *_: [],
        member=lambda: _c("checkins").member_id, day=lambda: _c("checkins").day,
    ),
    "quiz_answers": _entries("quiz", won=False),
    "quiz_winners": _entries("quiz", won=True),
    "coupons_issued": Figure(
        "发券", lambda: table("coupons"), lambda: _c("coupons").issued_at, lambda *_: [],
        member=lambda: _c("coupons").member_id,
    ),
    "coupons_claimed": _entries("claim", won=True),
    "coupons_redeemed": Figure(
        "核销", lambda: table("coupons"), lambda: _c("coupons").redeemed_at, lambda *_: [],
        member=lambda: _c("coupons").member_id,
    ),
    "messages_sent": Figure(
        "发出消息", lambda: table("outbox"), lambda: _c("outbox").sent_at,
        lambda *_: _messages(),  # sent_at is set only when a row is sent
        room=lambda: _c("outbox").room_id,
    ),
    "messages_held": Figure(
        "限速压住", lambda: table("outbox"), lambda: _c("outbox").not_before, _held,
        room=lambda: _c("outbox").room_id,
    ),
}  # fmt: skip


def _scope(figure: Figure, room_ids: Sequence[str] | None) -> list[ColumnElement[bool]]:
    if room_ids is None:
        return []
    if figure.room is not None:
        return [figure.room().in_(room_ids)]
    assert figure.member is not None
    return [figure.member().in_(members_of(room_ids))]


def totals(
    conn: Connection, since: datetime, until: datetime, tz: tzinfo, room_ids: Sequence[str] | None = None
) -> dict[str, int]:
    """Each figure over [since, until] (for `active`: members who spoke on a local day of the span, counted
    once each), for these rooms or all (None)."""
    result = {}
    for name, figure in FIGURES.items():
        where = [*figure.where(conn, since, until), *_scope(figure, room_ids)]
        if figure.day is not None and figure.at() is None:
            since_day, until_day = (
                since.astimezone(tz).date(),
                until.astimezone(tz).date(),
            )
            query = select(func.count(func.distinct(figure.member()))).select_from(figure.source())  # type: ignore[misc]
            query = query.where(figure.day() >= since_day, figure.day() <= until_day, *where)
        else:
            at = figure.at()
            query = select(func.count()).select_from(figure.source()).where(at >= since, at <= until, *where)
        result[name] = conn.execute(query).scalar_one()
    return result


@dataclass(frozen=True)
class Daily:
    days: list[date]
    series: dict[str, list[int]]

    def json(self) -> dict[str, Any]:
        return {
            "days": [d.isoformat() for d in self.days],
            "figures": [
                {"key": k, "label": FIGURES[k].label, "values": v, "total": sum(v)} for k, v in self.series.items()
            ],
        }


def daily(conn: Connection, now: datetime, tz: tzinfo, days: int, room_ids: Sequence[str] | None = None) -> Daily:
    """Each figure per local day over the `days` days ending today, for these rooms or all (None)."""
    span = days_back(now.astimezone(tz).date(), days)
    start, end = midnight(span[0], tz), midnight(span[-1] + timedelta(days=1), tz)
    index = {d: k for k, d in enumerate(span)}
    series: dict[str, list[int]] = {}
    for name, figure in FIGURES.items():
        counts = [0] * days
        where = [*figure.where(conn, start, now), *_scope(figure, room_ids)]
        if figure.day is not None:
            day = figure.day()
            query = select(day, func.count()).select_from(figure.source())
            query = query.where(day >= span[0], day <= span[-1], *where).group_by(day)
            for value, n in conn.execute(query):
                counts[index[value if isinstance(value, date) else date.fromisoformat(value)]] += n
        else:
            at, hour = figure.at(), hour_of(figure.at())
            query = select(hour, func.count()).select_from(figure.source())
            query = query.where(at >= start, at < end, *where).group_by(hour)
            for value, n in conn.execute(query):
                local = datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(tz).date()
                counts[index[local]] += n
        series[name] = counts
    return Daily(span, series)
