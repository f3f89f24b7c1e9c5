"""The durable outbox and the send governor through the whole bot, under the virtual clock.

No test sleeps: a paced bot sends as `advance` moves virtual time, and `say`/`join`
return once the bot has sent everything the governor allows at that moment.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from backends import Backend
from sqlalchemy import select

from bot.config import Config
from bot.connectors.base import SendRefused
from bot.connectors.memory import MemoryConnector
from bot.events import MemberRef, MessageEvent, Outgoing, RoomRef
from bot.store.tables import OutboxMessage, SeenEvent
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

S = timedelta(seconds=1)
OUTBOX = OutboxMessage.__table__

PLAYBOOKS = {
    "playbooks/hello.yaml": """
id: hello
when:
  - message: {text: 你好}
do:
  - reply: 你好 {{ member.name }}
""",
    "playbooks/welcome.yaml": """
id: welcome
when:
  - join: {}
do:
  - reply: 欢迎 {{ member.name }} 加入「{{ room.topic }}」
    mention: true
""",
    "playbooks/later.yaml": """
id: later
when:
  - message: {text: 稍后}
do:
  - reply: 一
  - wait: 1m
  - reply: 二
""",
    "playbooks/news.yaml": """
id: news
when:
  - schedule: {cron: "0 10 * * *"}
do:
  - say: 早间快讯
""",
    "playbooks/night.yaml": """
id: night
when:
  - schedule: {cron: "0 23 * * *"}
do:
  - say: 晚间活动预告
""",
}


class Connector(MemoryConnector):
    """Records when each message left; refuses, fails or hangs as a test tells it to."""

    def __init__(self, *, refuse: int = 0, fail: int = 0, broken: tuple[str, ...] = (), hang: str = "") -> None:
        super().__init__()
        self.clock: Any = None
        self.times: list[datetime] = []
        self.calls = 0
        self.refuse, self.fail, self.broken, self.hang = refuse, fail, set(broken), hang
        self.hanging = asyncio.Event()

    async def send(self, message: Outgoing) -> str | None:
        self.calls += 1
        if message.target_id in self.broken:
            raise RuntimeError("no such room")
        if self.refuse:
            self.refuse -= 1
            raise SendRefused("操作过于频繁")
        if self.fail:
            self.fail -= 1
            raise RuntimeError("network down")
        if self.hang and self.hang in message.text:
            self.hanging.set()
            await asyncio.Event().wait()  # a send that never returns, until the process dies
        self.times.append(self.clock.now())
        return await super().send(message)


def sending(**values: Any) -> Config:
    """Deterministic pacing unless a test asks for jitter."""
    return Config.model_validate({"sending": {"jitter": None, **values}})


async def make(
    *,
    governor: bool = True,
    config: Config | None = None,
    connector: Connector | None = None,
    database: str | None = None,
    start: datetime | None = None,
    rooms: int = 0,
) -> TestBot:
    connector = connector or Connector()
    bot = await TestBot.create(
        PLAYBOOKS, config=config, governor=governor, connector=connector, database=database, start=start
    )
    connector.clock = bot.clock
    for i in range(1, rooms + 1):
        await bot.add_room(f"r{i}", f"{i}群")
    return bot


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def rows(bot: TestBot) -> list[Any]:
    return list(await bot.rows(select(OUTBOX).order_by(OUTBOX.c.id)))


def offsets(bot: TestBot, start: datetime) -> list[timedelta]:
    return [t - start for t in bot.connector.times]  # type: ignore[attr-defined]


# -- the table


async def test_with_the_governor_off_each_message_is_sent_at_once_and_its_row_ends_sent() -> None:
    bot = await make(governor=False)
    try:
        out = await bot.say("u1", "你好", room="r1")
        assert texts(out) == ["你好 u1"]
        (row,) = await rows(bot)
        assert (row.state, row.platform_id, row.kind, row.attempts, row.playbook_id) == (
            "sent",
            "sent-1",
            "reply",
            1,
            "hello",
        )
        assert row.sent_at is not None and row.room_id == "r1"
    finally:
        await bot.close()


async def test_rows_are_written_in_the_event_transaction_so_they_commit_with_it_or_not_at_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash before the commit loses both the event's writes and its messages; a redelivery then acts once."""
    bot = await make(governor=False)
    try:
        queue = bot.outbox.queue

        async def queue_then_crash(conn: Any, entries: Any, **how: Any) -> None:
            await queue(conn, entries, **how)
            raise RuntimeError("power cut before the commit")

        monkeypatch.setattr(bot.outbox, "queue", queue_then_crash)
        with pytest.raises(RuntimeError):
            await bot.say("u1", "你好", room="r1", event_id="wx-1")
        assert await rows(bot) == []
        assert await bot.rows(select(SeenEvent.__table__)) == []
        assert bot.sent == []
        monkeypatch.setattr(bot.outbox, "queue", queue)
        assert texts(await bot.say("u1", "你好", room="r1", event_id="wx-1")) == ["你好 u1"]
        assert [r.state for r in await rows(bot)] == ["sent"]
    finally:
        await bot.close()


async def test_a_redelivered_event_and_a_resumed_wait_never_queue_a_message_twice() -> None:
    bot = await make()
    try:
        event = MessageEvent("wx-7", bot.clock.now(), MemberRef("u1", "小王"), "你好", RoomRef("r1", "r1"))
        await bot.dispatch(event)
        await bot.dispatch(event)
        await bot.say("u2", "稍后", room="r2", event_id="wx-8")
        await bot.advance(timedelta(minutes=2))
        stored = await rows(bot)
        assert [(r.dedup_key, r.state) for r in stored] == [
            ("wx-7/hello/0/0", "sent"),
            ("wx-8/later/0/0", "sent"),
            ("wx-8/later/1/0", "sent"),  # the part after `wait:` has keys of its own
        ]
        assert texts(bot.sent) == ["你好 小王", "一", "二"]
        # The same decisions queued again (a resumed run replayed, a second delivery path): nothing new.
        entries = bot.outbox.entries(event, "hello", 0, [Outgoing("你好 小王", RoomRef("r1", "r1"))], bot.clock.now())
        async with bot.bot.store.unit() as conn:
            await bot.outbox.queue(conn, entries)
        await bot.advance(timedelta(minutes=1))
        assert len(await rows(bot)) == 3
        assert len(bot.sent) == 3
    finally:
        await bot.close()


# -- pacing


async def test_paced_replies_leave_in_order_one_gap_plus_jitter_apart_as_time_moves() -> None:
    bot = await make(config=Config.model_validate({"sending": {"gap": "1s", "jitter": "2s"}}))
    try:
        start = bot.clock.now()
        first = await bot.say("u0", "你好", room="r0")
        for i in range(1, 8):
            assert await bot.say(f"u{i}", "你好", room=f"r{i}") == []  # queued behind the account gap
        assert texts(first) == ["你好 u0"]
        assert len(await bot.queued()) == 7
        await bot.advance(timedelta(seconds=30))
        assert texts(bot.sent) == [f"你好 u{i}" for i in range(8)]
        times = offsets(bot, start)
        spaces = [b - a for a, b in pairwise(times)]
        assert times[0] == timedelta() and all(S <= g <= 3 * S for g in spaces)
        assert len(set(spaces)) == len(spaces)  # jittered, not a fixed beat
        assert await bot.queued() == []
    finally:
        await bot.close()


async def test_one_room_is_spoken_to_at_most_once_per_room_gap() -> None:
    bot = await make(config=sending(gap="1s", room_gap="5s"))
    try:
        start = bot.clock.now()
        for member, room in (("u1", "r1"), ("u2", "r1"), ("u3", "r2"), ("u4", "r1")):
            await bot.say(member, "你好", room=room)
        await bot.advance(timedelta(seconds=30))
        assert [(m.text, t) for m, t in zip(bot.sent, offsets(bot, start), strict=True)] == [
            ("你好 u1", 0 * S),
            ("你好 u3", 1 * S),
            ("你好 u2", 5 * S),
            ("你好 u4", 10 * S),
        ]
    finally:
        await bot.close()


async def test_a_join_burst_of_fifty_is_welcomed_in_a_handful_of_messages_mentioning_everyone() -> None:
    bot = await make()  # the shipped defaults: welcomes wait 10 s for company, at most 20 per message
    try:
        start = bot.clock.now()
        for i in range(50):
            assert await bot.join(f"u{i:02d}", "r1") == []
        await bot.advance(timedelta(seconds=9))
        assert bot.sent == []
        await bot.advance(timedelta(minutes=1))
        assert len(bot.sent) == 3
        assert [len(m.mentions) for m in bot.sent] == [20, 20, 10]
        mentioned = [m.id for message in bot.sent for m in message.mentions]
        assert mentioned == [f"u{i:02d}" for i in range(50)]
        assert bot.sent[0].text == "欢迎 " + "、".join(f"u{i:02d}" for i in range(20)) + " 加入「r1」"
        assert offsets(bot, start)[0] == 10 * S
        stored = await rows(bot)
        assert {r.state for r in stored} == {"sent"}
        leads = [r for r in stored if r.merged_into is None]
        assert len(leads) == 3
        assert {r.platform_id for r in stored} == {"sent-1", "sent-2", "sent-3"}
    finally:
        await bot.close()


async def test_replies_go_before_scheduled_broadcasts_that_were_queued_earlier() -> None:
    bot = await make(config=sending(gap="1s", room_gap="1s"), rooms=5)
    try:
        await bot.advance(timedelta(hours=1))  # 10:00: the news goes to five rooms, one after another
        assert texts(bot.sent) == ["早间快讯"]
        await bot.say("u1", "你好", room="r9")
        await bot.advance(timedelta(minutes=1))
        assert [(m.text, m.target_id) for m in bot.sent] == [
            ("早间快讯", "r1"),
            ("你好 u1", "r9"),
            ("早间快讯", "r2"),
            ("早间快讯", "r3"),
            ("早间快讯", "r4"),
            ("早间快讯", "r5"),
        ]
    finally:
        await bot.close()


async def test_quiet_hours_hold_broadcasts_till_morning_while_replies_still_go() -> None:
    bot = await make(config=sending(), rooms=1)
    try:
        await bot.advance_to(datetime(2026, 11, 23, 23, 0, 5, tzinfo=bot.bot.config.tz))
        assert texts(bot.sent) == ["早间快讯"]  # 10:00 went; 23:00's waits
        assert texts(await bot.say("u1", "你好", room="r1")) == ["你好 u1"]
        await bot.advance_to(datetime(2026, 11, 24, 7, 59, tzinfo=bot.bot.config.tz))
        assert texts(bot.sent) == ["早间快讯", "你好 u1"]
        await bot.advance(timedelta(minutes=2))
        assert texts(bot.sent) == ["早间快讯", "你好 u1", "晚间活动预告"]
        morning = datetime(2026, 11, 24, 8, 0, tzinfo=bot.bot.config.tz)
        assert bot.connector.times[-1] == morning  # type: ignore[attr-defined]
    finally:
        await bot.close()


async def test_a_message_that_expires_during_quiet_hours_is_dropped_unsent_and_recorded() -> None:
    """`expires:` in a playbook: a 23:00 teaser worth nothing by morning is not sent at 08:00."""
    expiring = PLAYBOOKS["playbooks/night.yaml"].replace(
        "  - say: 晚间活动预告", "  - say: 晚间活动预告\n    expires: 2h"
    )
    connector = Connector()
    bot = await TestBot.create(
        {**PLAYBOOKS, "playbooks/night.yaml": expiring}, config=sending(), governor=True, connector=connector
    )
    connector.clock = bot.clock
    try:
        await bot.add_room("r1", "1群")
        await bot.advance_to(datetime(2026, 11, 24, 9, 0, tzinfo=bot.bot.config.tz))
        assert texts(bot.sent) == ["早间快讯"]  # 23:00's teaser waited for 08:00 and was stale by then
        teaser = [r for r in await rows(bot) if r.text == "晚间活动预告"]
        assert [(r.state, r.sent_at) for r in teaser] == [("expired", None)]
    finally:
        await bot.close()


async def test_beyond_the_daily_limit_only_replies_go_and_welcomes_wait_for_the_next_day() -> None:
    bot = await make(config=sending(daily_limit=2, welcome_batch_max=1))
    try:
        await bot.say("u1", "你好", room="r1")
        await bot.say("u2", "你好", room="r2")
        await bot.join("u3", "r3")
        await bot.say("u4", "你好", room="r4")
        await bot.advance(timedelta(hours=1))
        assert texts(bot.sent) == ["你好 u1", "你好 u2", "你好 u4"]
        await bot.advance_to(datetime(2026, 11, 24, 0, 0, 1, tzinfo=bot.bot.config.tz))
        assert texts(bot.sent)[-1] == "欢迎 u3 加入「r3」"
    finally:
        await bot.close()


# -- failures


async def test_a_failed_send_is_retried_with_a_growing_backoff_and_then_sent_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="qunguan")
    bot = await make(config=sending(retry_after="30s"), connector=Connector(fail=2))
    try:
        start = bot.clock.now()
        assert await bot.say("u1", "你好", room="r1") == []
        await bot.advance(timedelta(minutes=5))
        assert texts(bot.sent) == ["你好 u1"]
        assert offsets(bot, start) == [90 * S]  # failed at 0 s and 30 s, sent at 30 + 60 s
        (row,) = await rows(bot)
        assert (row.state, row.attempts) == ("sent", 3)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("room r1" in w and "try 1 of 4" in w and "playbook hello" in w for w in warnings)
    finally:
        await bot.close()


async def test_a_send_that_keeps_failing_ends_failed_logged_and_never_stops_the_other_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="qunguan")
    for governor in (False, True):
        caplog.clear()
        bot = await make(governor=governor, config=sending(retries=2), connector=Connector(broken=("r-bad",)))
        try:
            await bot.say("u1", "你好", room="r-bad")  # the engine carries on
            await bot.say("u2", "你好", room="r1")
            await bot.advance(timedelta(minutes=10))
            await bot.say("u3", "你好", room="r2")
            await bot.advance(timedelta(minutes=1))
            assert texts(bot.sent) == ["你好 u2", "你好 u3"]
            states = {r.room_id: (r.state, r.attempts, r.last_error) for r in await rows(bot)}
            assert states["r-bad"] == ("failed", 3, "RuntimeError: no such room")
            assert states["r1"][0] == states["r2"][0] == "sent"
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert errors == [
                "send to room r-bad failed for good after 3 tries (playbook hello): RuntimeError: no such room"
            ]
        finally:
            await bot.close()


async def test_refusals_trip_the_circuit_breaker_pausing_everything_then_sending_resumes_slowly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="qunguan")
    config = sending(gap="1s", room_gap="1s", refused_pause="10m", slow_start=2)
    bot = await make(config=config, connector=Connector(refuse=2))
    try:
        start = bot.clock.now()
        for i in range(5):
            await bot.say(f"u{i}", "你好", room=f"r{i}")
        await bot.advance(timedelta(minutes=9, seconds=59))
        assert bot.sent == []  # refused at 0 s: ten minutes of silence
        await bot.advance(timedelta(minutes=20))
        assert bot.sent == []  # refused again at 10 min: twenty more
        await bot.advance(timedelta(minutes=1))
        assert texts(bot.sent) == [f"你好 u{i}" for i in range(5)]
        assert offsets(bot, start) == [
            timedelta(minutes=30),
            timedelta(minutes=30, seconds=3),  # slow start: three times the gap
            timedelta(minutes=30, seconds=6),
            timedelta(minutes=30, seconds=7),  # back to normal
            timedelta(minutes=30, seconds=8),
        ]
        assert bot.connector.calls == 7  # type: ignore[attr-defined]
        assert {(r.state, r.attempts) for r in await rows(bot)} == {("sent", 1)}  # refusals are not failures
        log = [r.getMessage() for r in caplog.records if r.name == "qunguan.governor"]
        assert [m.split(":")[0] for m in log] == [
            "WeChat refused a send as too frequent",
            "sending pause over",
            "WeChat refused a send as too frequent",  # refused again while resuming: a longer pause
            "sending pause over",
            "sending back to its normal pace",
        ]
        assert "for 0:20:00" in log[2]
    finally:
        await bot.close()


# -- stopping and starting


async def test_close_sends_for_a_short_grace_and_leaves_the_rest_queued_for_the_next_start(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qunguan")
    database = backend.database
    config = sending(gap="1s", room_gap="1s", shutdown_grace="2s")
    first = await make(config=config, database=database)
    for i in range(6):
        await first.say(f"u{i}", "你好", room=f"r{i}")
    await first.close()
    assert texts(first.sent) == ["你好 u0", "你好 u1", "你好 u2"]  # at 0 s, then within the 2 s grace
    assert "3 message(s) left queued; they are sent after the next start" in caplog.messages

    second = await make(config=config, database=database, start=first.clock.now() + timedelta(minutes=1))
    try:
        await second.advance(timedelta(minutes=1))
        assert texts(second.sent) == ["你好 u3", "你好 u4", "你好 u5"]  # each message exactly once overall
        assert {r.state for r in await rows(second)} == {"sent"}
    finally:
        await second.close()


async def test_a_crash_during_a_send_marks_that_message_unknown_and_never_sends_it_again(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """At most once: WeChat cannot say whether the interrupted send went out. Nothing pending is lost."""
    caplog.set_level(logging.INFO, logger="qunguan")
    database = backend.database
    first = await make(database=database, connector=Connector(hang="你好"))
    await first.join("u2", "r2")  # its welcome waits 10 s for other newcomers
    talking = asyncio.ensure_future(first.say("u1", "你好", room="r1"))
    await first.connector.hanging.wait()  # type: ignore[attr-defined]
    await first.crash()
    await talking
    assert first.sent == []

    second = await make(database=database, start=first.clock.now() + timedelta(minutes=1))
    try:
        assert any("1 message(s) were being sent when the bot last stopped" in m for m in caplog.messages)
        await second.advance(timedelta(minutes=1))
        assert texts(second.sent) == ["欢迎 u2 加入「r2」"]
        states = {r.kind: r.state for r in await rows(second)}
        assert states == {"reply": "unknown", "welcome": "sent"}
    finally:
        await second.close()


async def test_a_paced_bot_that_never_saw_an_event_still_delivers_what_was_queued_before(backend: Backend) -> None:
    database = backend.database
    first = await make(database=database, config=sending(shutdown_grace="1s", room_gap="1s"))
    for i in range(4):
        await first.say(f"u{i}", "你好", room=f"r{i}")
    await first.crash()
    assert texts(first.sent) == ["你好 u0"]
    second = await make(database=database, start=first.clock.now() + timedelta(hours=1))
    try:
        await second.advance(timedelta(seconds=30))
        assert texts(second.sent) == ["你好 u1", "你好 u2", "你好 u3"]
    finally:
        await second.close()


async def test_the_whole_bot_holds_every_limit_when_pushed_at_ten_times_its_rate() -> None:
    """100 replies in 5 rooms within one virtual second (its rate is 20 a minute), at the shipped defaults:
    the account gap, the room gap and the minute cap all hold, and everything is sent once, in order."""
    bot = await make(config=Config())
    try:
        for i in range(100):
            await bot.say(f"u{i}", "你好", room=f"r{i % 5}")
        await bot.advance(timedelta(minutes=10))
        times = bot.connector.times  # type: ignore[attr-defined]
        assert texts(bot.sent) == [f"你好 u{i}" for i in range(100)]
        assert all(b - a >= S for a, b in pairwise(times))
        assert all(b - a >= 3 * S for i in range(5) for a, b in pairwise(times[i::5]))  # one room: every 5th
        assert max(sum(1 for u in times if t <= u < t + timedelta(minutes=1)) for t in times) == 20
        assert times[-1] - times[0] >= timedelta(minutes=4)  # 100 at 20 a minute: five windows
    finally:
        await bot.close()


# -- where pacing is on


def test_the_shipped_config_paces_with_the_safe_defaults() -> None:
    from bot.config import load_config

    config, _note = load_config(str(Path(__file__).resolve().parent.parent / "config.yaml"))
    assert config.sending == Config().sending


def test_real_connectors_are_paced_and_local_ones_are_not_unless_config_or_the_connector_says() -> None:
    from bot.app import paced_by_default

    class Remote:
        pass

    class Declared:
        paced = False

    assert paced_by_default(Config(), Remote()) is True  # type: ignore[arg-type]
    assert paced_by_default(Config(), MemoryConnector()) is False
    assert paced_by_default(Config(), Declared()) is False  # type: ignore[arg-type]
    assert paced_by_default(sending(pacing=False), Remote()) is False  # type: ignore[arg-type]


async def test_when_a_friend_request_cannot_be_accepted_nothing_decided_for_it_is_sent() -> None:
    """Accepting goes first, as a row of its own: the greeting waits behind it (WeChat would not deliver it to
    someone who is not a friend), and when accepting fails for good the greeting fails with it, unsent."""

    class Refusing(Connector):
        async def accept_friend(self, request: Any) -> None:
            raise RuntimeError("the puppet service is gone")

    funnel = {"playbooks/friend.yaml": "id: funnel\nwhen:\n  - friend: {}\ndo:\n  - reply: 你好，拉你进群～\n"}
    bot = await TestBot.create(funnel, connector=Refusing())
    try:
        assert await bot.befriend("u1", "你好") == []
        assert [(r.playbook_id, r.state) for r in await rows(bot)] == [("accept", "pending"), ("funnel", "pending")]
        assert await bot.advance(timedelta(hours=1)) == []  # every retry fails
        assert [(r.playbook_id, r.state) for r in await rows(bot)] == [("accept", "failed"), ("funnel", "failed")]
        assert (await rows(bot))[1].last_error == "the friend request it follows could not be accepted"
    finally:
        await bot.close()
