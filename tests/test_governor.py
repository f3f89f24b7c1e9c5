"""The send governor on its own: pure rules over given times, no database, no clock, no sleeping."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.events import MemberRef
from bot.governor import Governor, Queued, merge_welcomes
from bot.sending_settings import SendingSection

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ).astimezone(UTC)  # a Monday, 10:00 local
S = timedelta(seconds=1)


def governor(seed: int | None = 0, paced: bool = True, **settings: Any) -> Governor:
    return Governor(SendingSection.model_validate(settings), TZ, paced=paced, seed=seed)


def queue(n: int, kind: str = "reply", *, rooms: int | None = None, start: int = 1) -> list[Queued]:
    """n messages, to n different rooms unless `rooms` says how many they share."""
    return [Queued(i, kind, f"r{(i - start) % (rooms or n)}", T0) for i in range(start, start + n)]


def drain(g: Governor, items: Sequence[Queued], now: datetime = T0, until: datetime | None = None) -> list[tuple]:
    """Run the governor as the outbox does: send what it allows, else jump to its wake time."""
    items = list(items)
    log: list[tuple] = []
    while items:
        plan = g.plan(items, now)
        if not plan.ids:
            assert plan.wake is not None and plan.wake > now
            if until is not None and plan.wake > until:
                break
            now = plan.wake
            continue
        sent = [q for q in items if q.id in plan.ids]
        items = [q for q in items if q.id not in plan.ids]
        log.append((now, sent[0].target, sent[0].kind, plan.ids))
        g.sent(sent[0].target, now, sent[0].who)
    return log


def gaps(log: list[tuple]) -> list[timedelta]:
    return [b[0] - a[0] for a, b in pairwise(log)]


def test_account_gap_plus_jitter_stays_within_bounds_and_is_not_regular() -> None:
    log = drain(governor(gap="1s", jitter="2s", per_minute=1000), queue(200))
    spaces = gaps(log)
    assert len(log) == 200
    assert all(S <= g <= 3 * S for g in spaces)
    assert len(set(spaces)) > 150  # random, not a fixed sleep WeChat could recognise
    assert min(spaces) < 1.5 * S and max(spaces) > 2.5 * S  # the whole range is used


def test_jitter_is_repeatable_with_a_seed_and_differs_without_it() -> None:
    def times(seed: int | None) -> list[datetime]:
        return [t for t, *_ in drain(governor(seed, per_minute=1000), queue(20))]

    assert times(7) == times(7)
    assert times(7) != times(8)


def test_without_jitter_the_gap_is_exact() -> None:
    log = drain(governor(gap="2s", jitter=None, room_gap="1s", per_minute=1000), queue(5))
    assert gaps(log) == [2 * S] * 4


def test_one_room_waits_room_gap_while_other_rooms_fill_the_account_gaps() -> None:
    items = [Queued(1, "reply", "r1", T0), Queued(2, "reply", "r1", T0), Queued(3, "reply", "r2", T0)]
    log = drain(governor(gap="1s", jitter=None, room_gap="5s"), items)
    assert [(t - T0, ids) for t, _room, _kind, ids in log] == [(0 * S, (1,)), (1 * S, (3,)), (5 * S, (2,))]


def test_per_minute_limit_holds_when_ten_times_as_many_messages_wait() -> None:
    """The account sends at most `per_minute` in any 60 s, and every gap holds, however much is queued."""
    settings = {"gap": "1s", "jitter": "1s", "room_gap": "3s", "per_minute": 20}
    log = drain(governor(**settings), queue(400, rooms=5))  # 10x what 2 minutes allow
    times = [t for t, *_ in log]
    assert len(times) == 400
    for i, t in enumerate(times):
        in_window = [u for u in times[: i + 1] if u > t - timedelta(minutes=1)]
        assert len(in_window) <= 20
    assert all(g >= S for g in gaps(log))
    last: dict[str, datetime] = {}
    for t, room, *_ in log:
        assert room not in last or t - last[room] >= 3 * S
        last[room] = t
    assert times[-1] - times[0] >= timedelta(minutes=19)  # 400 at 20 a minute


def test_replies_go_before_welcomes_before_broadcasts_and_first_come_first_served_within_a_kind() -> None:
    items = [
        Queued(1, "broadcast", "r1", T0),
        Queued(2, "welcome", "r2", T0),
        Queued(3, "reply", "r3", T0),
        Queued(4, "broadcast", "r4", T0),
        Queued(5, "reply", "r5", T0),
        Queued(6, "notice", "r6", T0),
    ]
    log = drain(governor(quiet_hours=None), items)
    assert [ids[0] for *_rest, ids in log] == [3, 5, 2, 6, 1, 4]


def test_a_new_reply_overtakes_a_queue_of_broadcasts() -> None:
    g = governor(quiet_hours=None)
    broadcasts = queue(10, "broadcast")
    first = g.plan(broadcasts, T0)
    g.sent("r0", T0)
    wake = g.plan(broadcasts[1:], T0).wake
    assert first.ids == (1,) and wake is not None
    plan = g.plan([*broadcasts[1:], Queued(99, "reply", "r9", T0)], wake)
    assert plan.ids == (99,)


def test_daily_limit_lets_only_replies_through_until_the_next_local_day() -> None:
    g = governor(daily_limit=3, quiet_hours=None, per_minute=1000)
    log = drain(g, queue(3, "broadcast"))
    assert len(log) == 3
    now = log[-1][0] + timedelta(minutes=1)
    late = Queued(10, "broadcast", "rx", now)
    welcome = Queued(11, "welcome", "ry", now)
    reply = Queued(12, "reply", "rz", now)
    assert g.plan([late, welcome, reply], now).ids == (12,)
    g.sent("rz", now)
    plan = g.plan([late, welcome], now + timedelta(minutes=1))
    midnight = datetime(2026, 11, 24, 0, 0, tzinfo=TZ)
    assert plan.ids == () and plan.wake == midnight
    assert g.plan([late, welcome], midnight).ids == (11,)  # a new day: welcome first, then the broadcast


def test_quiet_hours_hold_broadcasts_until_morning_but_not_replies_or_welcomes() -> None:
    g = governor()  # 22:00-08:00 by default
    night = datetime(2026, 11, 23, 23, 30, tzinfo=TZ)
    broadcast = Queued(1, "broadcast", "r1", night)
    assert g.plan([broadcast], night).wake == datetime(2026, 11, 24, 8, 0, tzinfo=TZ)
    assert g.plan([broadcast, Queued(2, "reply", "r2", night)], night).ids == (2,)
    assert g.plan([broadcast, Queued(3, "welcome", "r3", night)], night).ids == (3,)
    after_midnight = datetime(2026, 11, 24, 2, 0, tzinfo=TZ)
    assert g.plan([broadcast], after_midnight).wake == datetime(2026, 11, 24, 8, 0, tzinfo=TZ)
    assert g.plan([broadcast], datetime(2026, 11, 24, 8, 0, tzinfo=TZ)).ids == (1,)


def test_quiet_hours_within_one_day_and_none() -> None:
    lunch = governor(quiet_hours={"start": "12:00", "end": "13:30"})
    noon = datetime(2026, 11, 23, 12, 10, tzinfo=TZ)
    assert lunch.plan([Queued(1, "broadcast", "r", noon)], noon).wake == datetime(2026, 11, 23, 13, 30, tzinfo=TZ)
    evening = datetime(2026, 11, 23, 23, 0, tzinfo=TZ)
    assert lunch.plan([Queued(1, "broadcast", "r", evening)], evening).ids == (1,)
    assert governor(quiet_hours=None).plan([Queued(1, "broadcast", "r", evening)], evening).ids == (1,)


def test_a_refusal_pauses_everything_then_sending_resumes_slowly_and_returns_to_normal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="qunguan.governor")
    g = governor(gap="1s", jitter=None, room_gap="1s", refused_pause="10m", slow_start=2, per_minute=1000)
    items = queue(6)
    g.refused(T0)
    assert g.breaker == "open"
    plan = g.plan([Queued(1, "reply", "r", T0)], T0 + timedelta(minutes=9))
    assert plan.ids == () and plan.wake == T0 + timedelta(minutes=10)  # replies wait too
    log = drain(g, items, T0 + timedelta(minutes=10))
    assert log[0][0] == T0 + timedelta(minutes=10)
    assert gaps(log) == [3 * S, 3 * S, S, S, S]  # two sends at three times the gap, then normal
    assert g.breaker == "closed"
    messages = [r.getMessage() for r in caplog.records]
    assert any("refused" in m and "pausing all sending for 0:10:00" in m for m in messages)
    assert any("resuming slowly" in m for m in messages)
    assert any("normal pace" in m for m in messages)


def test_repeated_refusals_double_the_pause_up_to_the_maximum() -> None:
    g = governor(refused_pause="10m", refused_pause_max="30m", slow_start=5)
    pauses = []
    now = T0
    for _ in range(4):
        g.refused(now)
        wake = g.plan([Queued(1, "reply", "r", now)], now).wake
        assert wake is not None
        pauses.append(wake - now)
        now = wake
        assert g.plan([Queued(1, "reply", "r", now)], now).ids == (1,)  # slow phase: one goes, then refused again
    assert pauses == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=30), timedelta(minutes=30)]


def test_failures_in_a_row_also_pause_but_a_success_resets_the_count() -> None:
    g = governor(failures_to_pause=3)
    g.failed(T0)
    g.failed(T0)
    g.sent("r", T0)
    g.failed(T0)
    g.failed(T0)
    assert g.breaker == "closed"
    g.failed(T0)
    assert g.breaker == "open"


def test_welcomes_of_one_playbook_to_one_room_are_planned_together_up_to_the_maximum() -> None:
    g = governor(welcome_batch_max=3)
    items = [Queued(i, "welcome", "r1", T0, group="r1/welcome/0/0") for i in range(1, 6)]
    items.append(Queued(9, "welcome", "r1", T0, group="r1/other/0/0"))
    assert g.plan(items, T0).ids == (1, 2, 3)
    assert governor(welcome_batch_max=1).plan(items, T0).ids == (1,)


def test_unpaced_ignores_gaps_caps_and_quiet_hours_but_not_not_before() -> None:
    g = governor(paced=False, daily_limit=1)
    night = datetime(2026, 11, 23, 23, 0, tzinfo=TZ)
    log = drain(g, queue(5, "broadcast"), night)
    assert [t for t, *_ in log] == [night] * 5
    later = Queued(7, "reply", "r", night + timedelta(seconds=30))
    assert g.plan([later], night).wake == night + timedelta(seconds=30)


def test_restore_after_a_restart_keeps_the_gaps_and_the_daily_count() -> None:
    g = governor(gap="1s", jitter=None, room_gap="3s", daily_limit=2, quiet_hours=None)
    g.restore([(T0 - 2 * S, "r1"), (T0 - S, "r2")], today=2, now=T0)
    assert g.plan([Queued(1, "reply", "r1", T0)], T0).wake == T0 + S  # r1 last heard from the bot 2 s ago
    assert g.plan([Queued(2, "reply", "r2", T0)], T0).wake == T0 + 2 * S
    assert g.plan([Queued(3, "reply", "r3", T0)], T0).ids == (3,)  # the account gap has passed
    plan = g.plan([Queued(4, "broadcast", "r4", T0)], T0)
    assert plan.wake == datetime(2026, 11, 24, 0, 0, tzinfo=TZ)  # two sent today already


def refs(*names: str) -> tuple[MemberRef, ...]:
    return tuple(MemberRef(f"id-{n}", n) for n in names)


def test_merge_identical_texts_keeps_one_text_and_mentions_everyone_once() -> None:
    text, mentions = merge_welcomes([("欢迎新朋友！", refs("小王")), ("欢迎新朋友！", refs("小李", "小王"))])
    assert text == "欢迎新朋友！"
    assert [m.name for m in mentions] == ["小王", "小李"]


def test_merge_texts_that_differ_only_in_the_name_names_everyone_in_the_first_text() -> None:
    parts = [(f"欢迎 {n} 加入「会员福利1群」🎉\n回复【签到】试试吧～", refs(n)) for n in ("小王", "小李", "阿强")]
    text, mentions = merge_welcomes(parts)
    assert text == "欢迎 小王、小李、阿强 加入「会员福利1群」🎉\n回复【签到】试试吧～"
    assert [m.name for m in mentions] == ["小王", "小李", "阿强"]


def test_merge_names_that_contain_each_other() -> None:
    text, _ = merge_welcomes([("欢迎 u1！", refs("u1")), ("欢迎 u10！", refs("u10"))])
    assert text == "欢迎 u1、u10！"


def test_merge_texts_that_differ_otherwise_joins_the_distinct_texts_line_by_line() -> None:
    parts = [
        ("欢迎 小王，你是第 1 位", refs("小王")),
        ("欢迎 小李，你是第 2 位", refs("小李")),
        ("欢迎 小王，你是第 1 位", refs("小王")),
    ]
    text, mentions = merge_welcomes(parts)
    assert text == "欢迎 小王，你是第 1 位\n欢迎 小李，你是第 2 位"
    assert len(mentions) == 2


# -- the clock going back (an NTP step, a wrong clock fixed): pacing runs on from the new time


def test_a_clock_stepped_back_an_hour_treats_the_last_send_as_now_and_never_stalls() -> None:
    g = governor(gap="1s", jitter=None, room_gap="3s", per_minute=3, quiet_hours=None)
    ahead = T0 + timedelta(hours=1)
    last = drain(g, queue(3, rooms=1), ahead)[-1][0]  # three sends to r0 "at 11:00": the minute cap is reached
    assert g.plan([Queued(9, "reply", "r0", last)], last).wake == ahead + timedelta(minutes=1)
    plan = g.plan([Queued(9, "reply", "r0", T0)], T0)  # the clock is corrected back to 10:00
    assert plan.wake is not None and plan.wake - T0 <= timedelta(minutes=1)  # not 11:01
    g.sent("r1", T0 + timedelta(minutes=1))
    assert g.plan([Queued(10, "reply", "r2", T0 + timedelta(minutes=1))], T0 + timedelta(minutes=1, seconds=1)).ids


def test_a_pause_after_a_refusal_keeps_its_length_when_the_clock_goes_back() -> None:
    g = governor(refused_pause="10m")
    g.refused(T0 + timedelta(hours=1))
    assert g.plan([Queued(1, "reply", "r", T0)], T0).wake == T0 + timedelta(minutes=10)


def test_restore_treats_sends_recorded_in_the_future_as_just_now() -> None:
    g = governor(gap="1s", jitter=None, room_gap="3s", daily_limit=2, quiet_hours=None)
    tomorrow = T0 + timedelta(days=1)  # a clock a day fast sent two messages "tomorrow"
    g.restore([(tomorrow - S, "r1"), (tomorrow, "r2")], today=2, now=T0)
    assert g.plan([Queued(1, "reply", "r2", T0)], T0).wake == T0 + 3 * S  # r2 was the last: as if just now
    assert g.plan([Queued(2, "reply", "r1", T0)], T0).wake == T0 + 2 * S  # r1 heard from the bot 1 s before
    assert g.plan([Queued(4, "reply", "r4", T0)], T0).wake == T0 + S  # the account gap from that last send
    assert g.plan([Queued(3, "broadcast", "r3", T0)], T0).wake == datetime(2026, 11, 24, 0, 0, tzinfo=TZ)


def test_a_message_queued_by_a_clock_that_was_ahead_is_not_held_by_its_own_wait() -> None:
    g = governor()
    ahead = T0 + timedelta(hours=1)
    welcome = Queued(1, "welcome", "r1", ahead + 10 * S, queued_at=ahead)  # queued with a 10 s batching wait
    assert g.plan([welcome], T0).ids == (1,)  # not at 11:00:10
    assert g.plan([Queued(2, "welcome", "r2", T0 + 10 * S, queued_at=T0)], T0).wake == T0 + 10 * S


# -- fairness: replies to one member never hold up another's


def answering(n: int, who: str, room: str, start: int) -> list[Queued]:
    return [Queued(i, "reply", room, T0, who=who) for i in range(start, start + n)]


def test_a_flooder_backlog_in_one_room_holds_up_neither_another_member_there_nor_another_room() -> None:
    g = governor(gap="1s", jitter=None, room_gap="1s", per_minute=1000)
    flood = answering(50, "f", "A", 1)
    other, elsewhere = Queued(100, "reply", "A", T0, who="m"), Queued(101, "reply", "B", T0, who="n")
    log = drain(g, [*flood, other, elsewhere])
    order = [ids[0] for *_rest, ids in log]
    assert order.index(101) <= 1  # room B gets the next turn of the account
    assert order.index(100) <= 3  # in room A, m is answered right after the flooder's first reply
    assert [i for i in order if i < 100] == list(range(1, 51))  # the flooder's replies in their order


def test_round_robin_over_members_within_a_room_and_over_rooms() -> None:
    g = governor(gap="1s", jitter=None, room_gap="1s", per_minute=1000)
    items = [*answering(3, "a", "r1", 1), *answering(3, "b", "r1", 4), *answering(3, "c", "r2", 7)]
    log = drain(g, items)
    assert [ids[0] for *_rest, ids in log] == [1, 7, 4, 8, 2, 9, 5, 3, 6]


def test_kind_still_comes_before_turns() -> None:
    g = governor(gap="1s", jitter=None, room_gap="1s", quiet_hours=None)
    g.sent("r1", T0, who="a")
    items = [Queued(1, "welcome", "r2", T0), Queued(2, "reply", "r1", T0 + S, who="a")]
    assert g.plan(items, T0 + S).ids == (2,)  # a reply to a member just answered still beats a welcome
