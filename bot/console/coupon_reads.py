"""What the console's 优惠券 page reads: each batch's stock and what became of its codes (issued, claimed in a
抢券 drop, redeemed, expired unused). Plain functions of a sync Connection, run by `console.reader.run`.

A batch's title and stock are declared in the playbooks (`coupons:`); the codes are in the database. Batches
the playbooks no longer declare still show, from their codes."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, select
from sqlmodel import SQLModel

from bot.windows import Window, WindowEntry

_windows = Window.__table__
_entries = WindowEntry.__table__


@dataclass(frozen=True)
class Declared:
    """A batch as the playbooks declare it."""

    title: str
    stock: int


def batches(conn: Connection, declared: dict[str, Declared], now: datetime) -> list[dict[str, Any]]:
    coupons = SQLModel.metadata.tables.get("coupons")
    stock = SQLModel.metadata.tables.get("coupon_stock")
    if coupons is None or stock is None:
        return []
    c = coupons.c
    unused = c.redeemed_at.is_(None)
    expired = and_(unused, c.expires_at.is_not(None), c.expires_at <= now)
    rows = conn.execute(
        select(
            c.batch_id,
            func.max(c.title).label("title"),
            func.count().label("issued"),
            func.sum(case((c.redeemed_at.is_not(None), 1), else_=0)).label("redeemed"),
            func.sum(case((expired, 1), else_=0)).label("expired"),
        ).group_by(c.batch_id)
    )
    used = {r.batch_id: r for r in rows}
    taken = {r.batch_id: r.issued for r in conn.execute(select(stock.c.batch_id, stock.c.issued))}
    claimed = _claimed(conn)
    out = []
    for batch_id in [*declared, *sorted(set(used) - set(declared))]:
        row, spec = used.get(batch_id), declared.get(batch_id)
        out.append(
            {
                "id": batch_id,
                "title": spec.title if spec is not None else row.title if row is not None else batch_id,
                "declared": spec is not None,
                "stock": spec.stock if spec is not None else None,
                "left": max(spec.stock - taken.get(batch_id, 0), 0) if spec is not None else None,
                "issued": row.issued if row is not None else 0,
                "claimed": claimed.get(batch_id, 0),
                "redeemed": int(row.redeemed or 0) if row is not None else 0,
                "expired": int(row.expired or 0) if row is not None else 0,
            }
        )
    return out


def _claimed(conn: Connection) -> Counter[str]:
    """Coupons won in 抢券 drops, per batch (a drop's batch is in its window's data)."""
    won = (
        select(_windows.c.data, func.count().label("won"))
        .select_from(_entries.join(_windows, _windows.c.id == _entries.c.window_id))
        .where(_windows.c.kind == "claim", _entries.c.outcome == "won")
        .group_by(_windows.c.id, _windows.c.data)
    )
    counts: Counter[str] = Counter()
    for row in conn.execute(won):
        batch = json.loads(row.data or "{}").get("batch")
        if isinstance(batch, str):
            counts[batch] += row.won
    return counts
