"""Flood counting (`flood:` triggers): per rule, group and member, the times of their last messages, in memory.

A rule fires on the member's `count`-th message within `within` (for `same_text`, the same folded text) and
then not again until the member has stayed below the count for a whole `within` span: one warning per flood,
not one per message of it. Times come from the bot's clock (virtual in tests and scenarios). Memory is
bounded: at most `max_members` (rule, group, member) entries, the least recently seen forgotten first, and
each keeps only the times it needs.

A message is counted in its event's transaction, and an event may be handled again when that transaction did
not commit (a batch that failed as a whole is tried again event by event: bot/intake.py). Each track remembers
its last `count` messages by event id and what they decided, so a message handled again gets its first answer
and is not counted twice: an innocent member is never a flood because the database failed.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

MAX_MEMBERS = 20_000  # (rule, group, member) entries remembered; alts by the thousand evict the quietest
MAX_TEXTS = 16  # different texts remembered per member for `same_text`


class FloodRule(NamedTuple):
    """A tuple: every message looks its member up by (rule, group, member), and a tuple hashes in C where a frozen
    dataclass runs a Python __hash__ (twice per rule per message)."""

    kind: Literal["messages", "same_text"]
    count: int
    within: timedelta


@dataclass(slots=True)
class _Track:
    times: deque[datetime]
    calm_from: datetime | None = None  # when the member's last flood ended (the count fell below the threshold)
    decided: dict[str, bool] = field(default_factory=dict)  # event id -> fired, for the last `count` messages


class FloodCounter:
    def __init__(self, max_members: int = MAX_MEMBERS) -> None:
        # (rule, group, member) -> the member's tracks: one for `messages`, one per recent text for `same_text`
        # least recently seen first (an OrderedDict: cachetools' LRUCache cost more than the counting, per message)
        self._members: OrderedDict[tuple[FloodRule, str, str], dict[str, _Track]] = OrderedDict()
        self._max = max_members

    def __len__(self) -> int:
        return len(self._members)

    def hit(self, rule: FloodRule, room_id: str, member_id: str, text: str, now: datetime, event_id: str) -> bool:
        """Count one message (its folded text, for `same_text`); True when the rule fires for it. The same event
        again (its transaction did not commit) gets the same answer, counted once."""
        key = (rule, room_id, member_id)
        members = self._members
        tracks = members.get(key)
        if tracks is None:
            if len(members) >= self._max:
                members.popitem(last=False)
            tracks = members[key] = {}
        else:
            members.move_to_end(key)
        track_key = text if rule.kind == "same_text" else ""
        track = tracks.get(track_key)
        if track is None:
            if len(tracks) >= MAX_TEXTS:  # the text first seen longest ago goes
                del tracks[next(iter(tracks))]
            track = tracks[track_key] = _Track(deque(maxlen=rule.count))
        decided = track.decided
        fired = decided.get(event_id)
        if fired is not None:
            return fired
        if len(decided) >= rule.count:
            del decided[next(iter(decided))]
        fired = decided[event_id] = self._count(rule, track, now)
        return fired

    @staticmethod
    def _count(rule: FloodRule, track: _Track, now: datetime) -> bool:
        track.times.append(now)
        if len(track.times) < rule.count or track.times[0] <= now - rule.within:
            return False
        fires = track.calm_from is None or now - track.calm_from >= rule.within
        track.calm_from = track.times[0] + rule.within  # the oldest of these expires then: below the count again
        return fires
