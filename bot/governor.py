"""The send governor: may the next queued message leave now, and if not, when?

WeChat bans accounts that send too fast or too regularly, so every send is paced
(docs/sending.md explains the rules and their defaults):

- the account: at least `gap` plus a random 0..`jitter` between two sends, and
  no more than `per_minute` in any 60 seconds;
- one room (or one private chat): at least `room_gap` between two sends;
- at most `daily_limit` sends per local day; beyond it only replies go;
- quiet hours (local time): broadcasts wait for their end; replies and welcomes go;
- a circuit breaker: a refusal (操作过于频繁) or `failures_to_pause` failures in a
  row pause all sending for `refused_pause`, doubled on each new trip up to
  `refused_pause_max`; afterwards `slow_start` sends go at three times the gap;
- replies before welcomes before broadcasts; within a kind, round-robin: the room (or private chat) the
  bot spoke to least recently first, in it the member answered least recently, then first come first
  served, so a flood of replies to one member never holds up anyone else's;
- welcomes of one playbook to one room that are queued together leave as one;
- time only moves forward for the governor: when the clock goes back (an NTP step, a wrong clock fixed),
  the latest moment it was told of counts as now, so a step back never stalls sending.

Pure logic over the times it is given: no database, no clock of its own, no
sleeping, so every rule is unit-testable. With `paced=False` (tests, the
simulator) only `not_before` and the breaker hold.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from bot.events import MemberRef
from bot.sending_settings import SendingSection

log = logging.getLogger("qunguan.governor")

PRIORITY = {"remove": 0, "reply": 0, "welcome": 1, "notice": 1, "broadcast": 2}  # a removal: no message, no limit
SLOW_FACTOR = 3  # gap multiplier while sending resumes after a pause
MINUTE = timedelta(minutes=1)
TURNS_KEPT = 10_000  # rooms and members whose last turn is remembered; the older half is forgotten beyond it
NEVER = -1  # the turn of a room or member not served (or long forgotten): first in line

Breaker = Literal["closed", "open", "slow"]


@dataclass(frozen=True, slots=True)
class Queued:
    """What the governor needs to know about one pending message."""

    id: int
    kind: str  # a key of PRIORITY
    target: str  # room id, or member id for a private message: room_gap applies per target
    not_before: datetime
    group: str | None = None  # welcomes with the same group (room + playbook) may leave as one
    who: str | None = None  # the member a reply answers: fair turns between members
    queued_at: datetime | None = None  # when it was queued: `not_before` is meant from then on


@dataclass(frozen=True, slots=True)
class Plan:
    """Send the rows `ids` now as one message, or (none) look again at `wake` (None: nothing is queued)."""

    ids: tuple[int, ...] = ()
    wake: datetime | None = None


@dataclass(frozen=True)
class Estimate:
    span: timedelta  # from the first message to the last
    quiet_until: datetime | None = None  # quiet hours now: broadcasts start then
    paused_until: datetime | None = None  # WeChat refused sends: everything waits
    capped_until: datetime | None = None  # the daily limit is reached: broadcasts wait for tomorrow


@dataclass(frozen=True)
class Status:
    """The circuit breaker as staff see it (the console's 发送 page): paused until when and why, or resuming
    slowly with `slow_left` sends to go. `why` is in Chinese: it is shown as it is."""

    breaker: Breaker
    paused_until: datetime | None = None
    why: str | None = None
    trips: int = 0
    slow_left: int = 0


class Governor:
    def __init__(self, settings: SendingSection, tz: tzinfo, *, paced: bool = True, seed: int | None = None) -> None:
        self.settings = settings
        self.tz = tz
        self.paced = paced
        self._rng = random.Random(seed)
        self._account_at: datetime | None = None  # earliest next send of the account
        self._room_at: dict[str, datetime] = {}  # earliest next send per target
        self._recent: deque[datetime] = deque()  # sends within the last minute
        self._day: date | None = None
        self._count = 0  # sends on local day `_day`
        self.breaker: Breaker = "closed"
        self._open_until: datetime | None = None
        self._trips = 0
        self._slow_left = 0
        self._failures = 0  # failed sends in a row
        self._latest: datetime | None = None  # the latest moment the governor was told of
        self._why: str | None = None  # the last pause's cause, for staff
        self._turns = itertools.count()
        self._room_turn: dict[str, int] = {}  # target -> the turn it was last sent to (oldest first)
        self._member_turn: dict[str, int] = {}  # member -> the turn they were last answered

    # -- deciding

    def plan(self, queue: Iterable[Queued], now: datetime) -> Plan:
        """The first queued message (by kind, then turn, then age) allowed at `now`, with any welcomes merged
        into it."""
        self._tick(now)
        room_turn, member_turn = self._room_turn.get, self._member_turn.get
        ordered = sorted(
            queue, key=lambda q: (PRIORITY[q.kind], room_turn(q.target, NEVER), member_turn(q.who, NEVER), q.id)
        )
        wake: datetime | None = None
        for q in ordered:
            at = self.ready_at(q, now)
            if at <= now:
                return Plan(self._merge_group(q, ordered))
            wake = at if wake is None else min(wake, at)
        return Plan((), wake)

    def ready_at(self, q: Queued, now: datetime) -> datetime:
        """The earliest moment every rule lets `q` go, as far as is known at `now`."""
        # Queued by a clock that was ahead: its own wait (welcome batching, a retry) was from a time not come yet.
        t = now if q.queued_at is not None and q.queued_at > now else max(now, q.not_before)
        if self.breaker == "open" and self._open_until is not None:
            t = max(t, self._open_until)
        if not self.paced:
            return t
        if self._account_at is not None:
            t = max(t, self._account_at)
        limit = self.settings.per_minute
        if len(self._recent) >= limit:
            t = max(t, self._recent[-limit] + MINUTE)
        room_at = self._room_at.get(q.target)
        if room_at is not None:
            t = max(t, room_at)
        if q.kind not in ("reply", "remove"):
            t = self._after_cap(t)
        if q.kind == "broadcast":
            t = self._after_quiet(t)
        return t

    def status(self) -> Status:
        """The breaker as it stands (a read: nothing changes)."""
        if self.breaker == "closed":
            return Status("closed")
        return Status(self.breaker, self._open_until, self._why, self._trips, self._slow_left)

    def estimate(self, count: int, now: datetime) -> Estimate:
        """How long `count` broadcast messages to different targets take at the configured pace, and what holds
        them back now (a /群发 preview); other traffic comes on top."""
        if not self.paced:
            return Estimate(timedelta())
        s = self.settings
        spacing = max(s.gap + (s.jitter or timedelta()) / 2, MINUTE / s.per_minute)
        quiet = self._after_quiet(now)
        paused = self._open_until if self.breaker == "open" and self._open_until and self._open_until > now else None
        capped = self._after_cap(now)
        return Estimate(
            spacing * max(count - 1, 0),
            quiet_until=quiet if quiet > now else None,
            paused_until=paused,
            capped_until=capped if capped > now else None,
        )

    def _merge_group(self, lead: Queued, ordered: Sequence[Queued]) -> tuple[int, ...]:
        most = self.settings.welcome_batch_max
        if not self.paced or lead.group is None or most <= 1:
            return (lead.id,)
        others = [q.id for q in ordered if q.group == lead.group and q.id != lead.id]
        return (lead.id, *others[: most - 1])

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.tz)

    def _after_cap(self, t: datetime) -> datetime:
        local = self._local(t)
        if local.date() != self._day or self._count < self.settings.daily_limit:
            return t
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.tz)
        return midnight.astimezone(UTC)

    def _after_quiet(self, t: datetime) -> datetime:
        quiet = self.settings.quiet_hours
        if quiet is None or quiet.start == quiet.end:
            return t
        local = self._local(t)
        moment = local.time().replace(tzinfo=None)
        day = local.date()
        if quiet.start < quiet.end:
            inside = quiet.start <= moment < quiet.end
        else:  # over midnight, e.g. 22:00-08:00
            inside = moment >= quiet.start or moment < quiet.end
            if moment >= quiet.start:
                day += timedelta(days=1)
        if not inside:
            return t
        return datetime.combine(day, quiet.end, tzinfo=self.tz).astimezone(UTC)

    # -- what happened

    def sent(self, target: str, now: datetime, who: str | None = None) -> None:
        """One message left (merged welcomes count once); `who`: the member it answered."""
        s = self.settings
        self._see(now)
        turn = next(self._turns)
        _take_turn(self._room_turn, target, turn)
        if who is not None:
            _take_turn(self._member_turn, who, turn)
        day = self._local(now).date()
        if day != self._day:
            self._day, self._count = day, 0
        self._count += 1
        self._failures = 0
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - MINUTE:
            self._recent.popleft()
        gap = s.gap + (timedelta(seconds=self._rng.uniform(0, s.jitter.total_seconds())) if s.jitter else timedelta())
        if self.breaker == "slow":
            gap *= SLOW_FACTOR
            self._slow_left -= 1
            if self._slow_left <= 0:
                self._close()
        self._account_at = now + gap
        self._room_at = {k: v for k, v in self._room_at.items() if v > now}
        self._room_at[target] = now + s.room_gap

    def refused(self, now: datetime) -> None:
        """The platform said 操作过于频繁: stop everything for a while."""
        self._see(now)
        self._failures = 0
        self._trip(now, "WeChat refused a send as too frequent", "微信拒绝发送（操作过于频繁）")

    def failed(self, now: datetime) -> None:
        """A send raised; several in a row look like trouble with the account, not with one message."""
        self._see(now)
        self._failures += 1
        if self._failures >= self.settings.failures_to_pause:
            count, self._failures = self._failures, 0
            self._trip(now, f"{count} sends failed in a row", f"连续 {count} 次发送失败")

    def restore(self, sends: Iterable[tuple[datetime, str]], today: int, now: datetime) -> None:
        """Pick up after a restart: recent sends (time, target) and how many went out today.

        Sends recorded in the future (by a clock that was ahead) count as if the last of them was just now."""
        s = self.settings
        ordered = sorted(sends)
        latest = max(now, ordered[-1][0]) if ordered else now
        for at, target in ordered:
            self._account_at = max(self._account_at or at, at + s.gap)
            self._room_at[target] = max(self._room_at.get(target, at), at + s.room_gap)
            if at > latest - MINUTE:
                self._recent.append(at)
        self._day, self._count = self._local(now).date(), today
        self._latest = latest
        self._see(now)

    def _see(self, now: datetime) -> None:
        """Time only moves forward here: when the clock goes back, every time kept moves back by as much, so
        the latest moment known is now and pacing goes on from there instead of stalling for the difference."""
        latest = self._latest
        self._latest = now
        if latest is None or now >= latest:
            return
        back = latest - now
        if self._account_at is not None:
            self._account_at -= back
        self._room_at = {k: v - back for k, v in self._room_at.items()}
        self._recent = deque(t - back for t in self._recent)
        if self._open_until is not None:
            self._open_until -= back
        today = self._local(now).date()
        if self._day is not None and self._day > today:
            self._day = today  # the sends of the local day that was "tomorrow" count for today
        if back >= timedelta(seconds=1):
            log.warning("the clock went back by %s; sending goes on at its pace from the new time", back)

    # -- the circuit breaker

    def _trip(self, now: datetime, why: str, why_zh: str) -> None:
        s = self.settings
        self._trips += 1
        self._why = why_zh
        pause = min(s.refused_pause * 2 ** (self._trips - 1), s.refused_pause_max)
        self._open_until = now + pause
        self.breaker = "open"
        log.warning(
            "%s: pausing all sending for %s, until %s (pause #%d)",
            why,
            pause,
            self._local(self._open_until).strftime("%Y-%m-%d %H:%M:%S"),
            self._trips,
        )

    def _tick(self, now: datetime) -> None:
        self._see(now)
        if self.breaker != "open" or self._open_until is None or now < self._open_until:
            return
        if self.settings.slow_start > 0:
            self.breaker, self._slow_left = "slow", self.settings.slow_start
            log.info("sending pause over: resuming slowly (%d sends at %dx the gap)", self._slow_left, SLOW_FACTOR)
        else:
            self._close()

    def _close(self) -> None:
        self.breaker, self._trips, self._open_until, self._why = "closed", 0, None, None
        log.info("sending back to its normal pace")


def _take_turn(turns: dict[str, int], key: str, turn: int) -> None:
    """Record `key`'s turn, keeping the dict ordered oldest turn first and its size bounded."""
    turns.pop(key, None)
    turns[key] = turn
    if len(turns) > TURNS_KEPT:
        for old in list(itertools.islice(turns, len(turns) // 2)):
            del turns[old]


_NAME = "\ue000"  # stands for "the newcomers' names" while texts are compared


def merge_welcomes(parts: Sequence[tuple[str, Sequence[MemberRef]]]) -> tuple[str, tuple[MemberRef, ...]]:
    """One text and one mention list for welcomes that leave as one message.

    - the texts are all the same: that text;
    - they differ only in the names of the members each one mentions (`欢迎 {{ member.name }} …`):
      the first text, its names replaced by every newcomer's name joined with 、;
    - otherwise: the distinct texts, one per line, in order.
    Every newcomer is @-mentioned once, in the order they joined.
    """
    mentions = tuple({m.id: m for _text, ms in parts for m in ms}.values())
    texts = [text for text, _ms in parts]
    if len(set(texts)) == 1:
        return texts[0], mentions
    masks = set()
    for text, ms in parts:
        names = sorted({m.name for m in ms if m.name}, key=len, reverse=True)
        mask = text
        for name in names:
            mask = mask.replace(name, _NAME)
        masks.add(mask)
    (mask, *rest) = masks
    if not rest and _NAME in mask:
        return mask.replace(_NAME, "、".join(m.name for m in mentions if m.name)), mentions
    return "\n".join(dict.fromkeys(texts)), mentions
