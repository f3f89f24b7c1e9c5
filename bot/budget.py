"""The reply budget: how many answers one customer's messages may get in a span.

A member who sends 签到 ten thousand times must not get ten thousand answers (replies are exempt from the
daily limit, so nothing else stops them) nor fill the queue other customers wait in. Past the budget the
member's answers are not queued at all until the span has passed; the playbooks still act (a flood of
签到 checks in once). Kept in memory: it is about the last minutes, and a restart forgetting it costs at
most one more budget. Answers are counted as their rows are made, in the event's transaction; those whose rows
never commit (the event or its whole batch rolled back) are given back, so a batch tried again counts them once.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from bot.events import MemberRef
from bot.sending_settings import ReplyBudget
from bot.textnorm import printable

log = logging.getLogger("qunguan.outbox")

Charge = tuple[str, datetime, int]  # member id, when, how many answers were counted

SWEEP_AT = 1000  # members tracked before those idle for a whole span are forgotten (then at twice as many)


@dataclass(slots=True)
class _Spent:
    times: deque[datetime] = field(default_factory=deque)  # answers queued within the last span
    dropped_at: datetime | None = None  # the last answer not queued; None once a span has passed without one


class Budget:
    """Answers queued per member within the last `per` (a sliding span), for the members seen lately."""

    def __init__(self, rule: ReplyBudget, tz: tzinfo) -> None:
        self.rule = rule
        self.tz = tz
        self._members: dict[str, _Spent] = {}
        self._sweep_at = SWEEP_AT

    def take(self, member: MemberRef, wanted: int, now: datetime, *, charged: list[Charge] | None = None) -> int:
        """How many of `wanted` answers to `member` may be queued at `now`; they are counted as spent (and noted
        in `charged`, to be given back if their rows never commit)."""
        spent = self._members.get(member.id)
        if spent is None:
            if len(self._members) >= self._sweep_at:
                self._sweep(now)
            spent = self._members[member.id] = _Spent()
        times, start = spent.times, now - self.rule.per
        if times and times[-1] > now:  # the clock went back: what was "later" happened just now
            later = 0
            while times and times[-1] > now:
                times.pop()
                later += 1
            times.extend([now] * later)
        while times and times[0] <= start:
            times.popleft()
        if spent.dropped_at is not None and spent.dropped_at <= start:
            spent.dropped_at = None
        granted = min(wanted, self.rule.messages - len(times))
        times.extend([now] * granted)
        if granted and charged is not None:
            charged.append((member.id, now, granted))
        if granted < wanted:
            if spent.dropped_at is None:
                until = (times[0] + self.rule.per).astimezone(self.tz)
                log.warning(
                    "member %s (%s) is over the reply budget (%d answers per %ds): not answered until %s",
                    printable(member.name),
                    printable(member.id),
                    self.rule.messages,
                    self.rule.per.total_seconds(),
                    until.strftime("%H:%M:%S"),
                )
            spent.dropped_at = now
        return granted

    def give_back(self, charged: list[Charge]) -> None:
        """Answers counted for rows that were never committed: as if they had not been asked for."""
        for member_id, at, count in charged:
            spent = self._members.get(member_id)
            if spent is None:  # forgotten meanwhile (a sweep): nothing counted is left to give back
                continue
            for _ in range(min(count, spent.times.count(at))):
                spent.times.remove(at)
        charged.clear()

    def _sweep(self, now: datetime) -> None:
        """Forget members with nothing in the last span, so a busy shop's dict stays the size of its last minutes."""
        start = now - self.rule.per
        self._members = {
            k: v
            for k, v in self._members.items()
            if (v.times and v.times[-1] > start) or (v.dropped_at is not None and v.dropped_at > start)
        }
        self._sweep_at = max(SWEEP_AT, 2 * len(self._members))
