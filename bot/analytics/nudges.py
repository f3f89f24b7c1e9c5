"""Nudges vs holdout: for each `for_each` playbook, the share of nudged members who came back against the share
of the held-out ones (kept back on purpose by `holdout:`), the difference and its 95% confidence interval.

A member counts once per playbook and group (nudged three times is one person) and came back when they were
active after a nudge of that playbook (`members.last_active` later than the nudge).

The interval is the normal approximation (Wald) for a difference of two independent proportions, unpooled:
d = p1 - p2, se = sqrt(p1(1 - p1)/n1 + p2(1 - p2)/n2), d ± 1.96·se. It needs both groups non-empty; with
few members it is wide, which is the honest answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from bot.analytics import members_of, table
from bot.store.tables import Member

Z95 = 1.959964  # the standard normal's 97.5% quantile


@dataclass(frozen=True)
class Effect:
    playbook_id: str
    nudged: int
    nudged_back: int
    held: int
    held_back: int

    @property
    def nudged_rate(self) -> float | None:
        return self.nudged_back / self.nudged if self.nudged else None

    @property
    def held_rate(self) -> float | None:
        return self.held_back / self.held if self.held else None

    def difference(self) -> tuple[float, float, float] | None:
        """(difference, low, high) of the 95% interval; None without both groups."""
        p1, p2 = self.nudged_rate, self.held_rate
        if p1 is None or p2 is None:
            return None
        se = math.sqrt(p1 * (1 - p1) / self.nudged + p2 * (1 - p2) / self.held)
        d = p1 - p2
        return d, d - Z95 * se, d + Z95 * se

    def json(self) -> dict[str, Any]:
        diff = self.difference()
        return {
            **asdict(self),
            "nudged_rate": self.nudged_rate,
            "held_rate": self.held_rate,
            "difference": None if diff is None else diff[0],
            "low": None if diff is None else diff[1],
            "high": None if diff is None else diff[2],
        }


def effects(
    conn: Connection, since: datetime, room_ids: Sequence[str] | None = None, *, by_playbook: bool = True
) -> list[Effect]:
    """One Effect per playbook that nudged (or held out) anyone since `since` (one for all with by_playbook
    False, named ""), members of these rooms or all (None)."""
    n = table("nudges").c
    m = Member.__table__.c
    key = n.playbook_id if by_playbook else None
    who = func.count(func.distinct(n.member_id))
    back = func.count(func.distinct(n.member_id)).filter(m.last_active > n.at)
    query = (
        select(*([key] if key is not None else []), n.holdout, who, back)
        .select_from(table("nudges").join(Member.__table__, m.id == n.member_id))
        .where(n.at >= since)
    )
    if room_ids is not None:
        query = query.where(n.member_id.in_(members_of(room_ids)))
    query = query.group_by(*([key] if key is not None else []), n.holdout)
    found: dict[str, dict[bool, tuple[int, int]]] = {}
    for row in conn.execute(query):
        playbook = row[0] if by_playbook else ""
        found.setdefault(playbook, {})[bool(row[-3])] = (row[-2], row[-1])
    result = []
    for playbook, groups in sorted(found.items()):
        nudged, held = groups.get(False, (0, 0)), groups.get(True, (0, 0))
        result.append(Effect(playbook, nudged[0], nudged[1], held[0], held[1]))
    if not by_playbook and not result:
        result.append(Effect("", 0, 0, 0, 0))
    return result
