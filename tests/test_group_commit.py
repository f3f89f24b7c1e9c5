"""Group commit (bot/intake.py): the events of a burst are handled in arrival order, together in one
transaction, each in its own savepoint; nothing is sent before their commit, a failing event rolls back alone,
and a staff command or an opened window in the middle of a burst is seen by the messages after it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from store_faults import REFUSE, REFUSE_AT_COMMIT, install, write_lock

from bot.config import Config, StaffSection
from bot.connectors.memory import MemoryConnector
from bot.connectors.wechaty import WechatyConnector
from bot.console.tables import Trace
from bot.events import Outgoing
from bot.stages import Stage, Turn
from bot.store.tables import Room, TopicChange
from bot.testing import TestBot
from handlers.checkin import Checkin
from handlers.coupons import Coupon

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 12, 0, tzinfo=TZ)
STAFF = Config(staff=StaffSection(owner=["boss"], admin=["mgr"]))

CHECKIN = """
id: checkin
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - reply: "{{ member.name }} 签到成功，共 {{ member.points }} 分"
"""

ECHO = """
id: echo
when:
  - message: {text: 你好}
do:
  - reply: 你好呀
"""

DROP = """
id: drop
when:
  - command: 开抢
do:
  - say: 开抢！
  - claim: {batch: lucky, keyword: 抢券, window: 30m}
coupons:
  - {id: lucky, title: 幸运券, stock: 5}
"""


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


@contextmanager
def commits(bot: TestBot) -> Iterator[list[int]]:
    """Count the transactions committed meanwhile (the engine's and the outbox's alike)."""
    counted = [0]
    engine: Any = bot.bot.store.engine
    engine = getattr(engine, "sync_engine", engine)

    def on_commit(_conn: Any) -> None:
        counted[0] += 1

    event.listen(engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(engine, "commit", on_commit)


async def test_a_burst_of_check_ins_is_committed_together_and_answered_in_arrival_order() -> None:
    said = [f"m{i:02d}" for i in range(30)]
    async with TestBot.running({"checkin": CHECKIN}, start=START) as alone:
        with commits(alone) as one_by_one:
            for member in said:
                await alone.say(member, "签到", room="r1")
    async with TestBot.running({"checkin": CHECKIN}, start=START) as bot:
        with commits(bot) as together:
            sent = await bot.burst([bot.message(m, "签到", room="r1") for m in said])
        assert texts(sent) == [f"{m} 签到成功，共 5 分" for m in said]
        assert [r.member_id for r in await bot.rows(select(Checkin).order_by(Checkin.id))] == said
    assert together[0] <= one_by_one[0] - len(said) + 1  # the burst's 30 events took one transaction, not 30


class HandingOver(MemoryConnector):
    """A connector that reads a stream of events, as the wechaty connector does (`hands_over`)."""

    hands_over = True


async def test_a_connector_that_hands_over_reads_on_while_its_events_wait_for_their_commit() -> None:
    assert WechatyConnector.hands_over  # WeChat's events come in this way
    said = [f"m{i}" for i in range(10)]
    connector = HandingOver()
    async with TestBot.running({"checkin": CHECKIN}, start=START, connector=connector) as bot:
        with commits(bot) as counted:
            answers = [await connector.deliver(bot.message(m, "签到", room="r1")) for m in said]
            assert all(isinstance(a, asyncio.Future) and not a.done() for a in answers)  # handed over, not awaited
            assert counted == [0]  # the connector read all ten before any commit
            assert await asyncio.gather(*answers) == [True] * len(said)  # type: ignore[arg-type]
        assert texts(bot.sent) == [f"{m} 签到成功，共 5 分" for m in said]


async def test_first_come_first_served_the_first_five_of_a_burst_win_the_five_coupons() -> None:
    async with TestBot.running({"drop": DROP}, start=START) as bot:
        await bot.say("boss", "/开抢", room="r1")
        claimers = [f"m{i:02d}" for i in range(40)]
        sent = await bot.burst([bot.message(m, "抢券", room="r1") for m in claimers])
        won = [m.mentions[0].id for m in sent if "抢到了" in m.text]
        assert won == claimers[:5]
        assert sorted(r.member_id for r in await bot.rows(select(Coupon))) == claimers[:5]
        assert texts(sent).count("幸运券已抢完，下次早点来哦～") == 1


async def test_the_same_event_twice_in_one_burst_acts_once() -> None:
    async with TestBot.running({"checkin": CHECKIN}, start=START) as bot:
        first = bot.message("u1", "签到", room="r1", event_id="wx-1")
        sent = await bot.burst([first, bot.message("u2", "签到", room="r1"), first])
        assert texts(sent) == ["u1 签到成功，共 5 分", "u2 签到成功，共 5 分"]


async def test_a_group_renamed_in_the_middle_of_a_burst_keeps_its_new_name_and_its_last_activity() -> None:
    async with TestBot.running({"echo": ECHO}, start=START) as bot:
        await bot.say("u0", "早", room=bot.room("r1", "秒杀群").id)
        later = START + timedelta(minutes=5)
        bot.clock.set(later)
        before = [bot.message(m, "你好", room="r1") for m in ("u1", "u2")]
        bot.room("r1", "秒杀二群")
        after = [bot.message(m, "你好", room="r1") for m in ("u3", "u4")]
        assert texts(await bot.burst(before + after)) == ["你好呀"] * 4
        [room] = await bot.rows(select(Room))
        assert (room.topic, room.last_active.replace(tzinfo=None)) == (
            "秒杀二群",
            later.astimezone(UTC).replace(tzinfo=None),
        )
        topics = await bot.rows(select(TopicChange).order_by(TopicChange.id))
        assert [t.topic for t in topics] == ["秒杀群", "秒杀二群"]


class Faulty(Stage):
    """A defect in one event's handling, outside any playbook's savepoint (the whole event fails)."""

    name = "faulty"

    async def handle(self, turn: Turn) -> bool:
        if getattr(turn.event, "text", "") == "签到" and turn.event.sender.id == "bad":  # type: ignore[attr-defined]
            raise RuntimeError("a defect")
        return False


async def test_a_failing_event_rolls_back_alone_and_the_others_of_its_burst_stand(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    async with TestBot.running({"checkin": CHECKIN}, start=START, database=str(database)) as bot:
        stages = bot.engine.stages
        stages.insert(len(stages) - 1, Faulty(bot.engine))  # after dedup, activity and the rest: all roll back
        sent = await bot.burst([bot.message(m, "签到", room="r1") for m in ("u1", "bad", "u2")])
        assert texts(sent) == ["u1 签到成功，共 5 分", "u2 签到成功，共 5 分"]
        assert [r.member_id for r in await bot.rows(select(Checkin).order_by(Checkin.id))] == ["u1", "u2"]
        letters = (tmp_path / "q.dead-letters.jsonl").read_text(encoding="utf-8")
        assert letters.count("\n") == 1 and '"bad"' in letters and "a defect" in letters
        stages.pop(len(stages) - 2)
        assert texts(await bot.say("bad", "签到", room="r1")) == ["bad 签到成功，共 5 分"]  # nothing of it stood


class FaultyBefore(Stage):
    """A defect in one event's reads ahead of the transaction (`before`): the whole batch it was in fails."""

    name = "faulty-before"

    async def before(self, turn: Turn) -> None:
        if getattr(turn.event, "text", "") == "签到" and turn.event.sender.id == "bad":  # type: ignore[attr-defined]
            raise RuntimeError("a defect before")

    async def handle(self, turn: Turn) -> bool:
        return False


async def test_a_batch_failing_as_a_whole_is_tried_again_one_by_one_and_only_the_bad_event_is_lost(
    tmp_path: Path,
) -> None:
    async with TestBot.running({"checkin": CHECKIN}, start=START, database=str(tmp_path / "q.db")) as bot:
        bot.engine.stages.insert(0, FaultyBefore(bot.engine))
        sent = await bot.burst([bot.message(m, "签到", room="r1") for m in ("u1", "u2", "bad", "u3")])
        assert texts(sent) == [f"{m} 签到成功，共 5 分" for m in ("u1", "u2", "u3")]
        assert [r.member_id for r in await bot.rows(select(Checkin).order_by(Checkin.id))] == ["u1", "u2", "u3"]
        letters = (tmp_path / "q.dead-letters.jsonl").read_text(encoding="utf-8")
        assert letters.count("\n") == 1 and "a defect before" in letters


@pytest.mark.parametrize(
    ("faults", "reasons"),
    [(REFUSE, ("refused",)), (REFUSE_AT_COMMIT, ("FOREIGN KEY", "refused at commit"))],
    ids=["at-the-insert", "at-the-commit"],
)
async def test_an_outbox_row_the_database_refuses_loses_only_its_own_event_and_the_burst_stands(
    tmp_path: Path, faults: dict[str, list[str]], reasons: tuple[str, ...]
) -> None:
    """The burst's outbox and trace rows are written together just before the commit (bot/store/deferred.py): one
    refused row fails that write, or the COMMIT itself, and the events are tried again one by one; the bad one
    alone is lost, with its check-in, and nothing is sent for it. Replies leave only after their batch's commit,
    so every other answer goes once."""
    async with TestBot.running({"checkin": CHECKIN}, start=START, database=str(tmp_path / "q.db")) as bot:
        await install(bot, faults)
        sent = await bot.burst([bot.message(m, "签到", room="r1") for m in ("u1", "bad", "u2")])
        assert texts(sent) == ["u1 签到成功，共 5 分", "u2 签到成功，共 5 分"]
        assert [r.member_id for r in await bot.rows(select(Checkin).order_by(Checkin.id))] == ["u1", "u2"]
        assert {r.member_id for r in await bot.rows(select(Trace))} == {"u1", "u2"}
        letters = (tmp_path / "q.dead-letters.jsonl").read_text(encoding="utf-8")
        assert letters.count("\n") == 1 and '"bad"' in letters and any(r in letters for r in reasons)


async def test_answers_of_a_batch_tried_again_count_once_against_the_reply_budget(tmp_path: Path) -> None:
    """The reply budget (10 answers a minute) is counted as a batch's rows are made, before its commit: a batch
    that fails as a whole and is tried again one by one must not count its answers twice, or a member whose
    messages shared a batch with a bad one loses answers nobody sent."""
    playbooks = {"checkin": CHECKIN, "echo": ECHO}
    async with TestBot.running(playbooks, start=START, database=str(tmp_path / "q.db")) as bot:
        await install(bot, REFUSE)
        burst = [bot.message("u1", "你好", room="r1") for _ in range(6)] + [bot.message("bad", "签到", room="r1")]
        assert texts(await bot.burst(burst)) == ["你好呀"] * 6
        assert texts(await bot.burst([bot.message("u1", "你好", room="r1") for _ in range(5)])) == ["你好呀"] * 4


class FaultyAfterAnswers(Stage):
    """The playbooks run and their answers are made; then the event fails as a whole (a defect after them)."""

    name = "faulty-after-answers"

    def __init__(self, playbooks: Stage) -> None:
        super().__init__(playbooks.runtime)
        self.playbooks = playbooks

    async def handle(self, turn: Turn) -> bool:
        await self.playbooks.handle(turn)
        if turn.queued and turn.event.sender.id == "u1" and getattr(turn.event, "text", "") == "你好":  # type: ignore[attr-defined]
            raise RuntimeError("a defect after the answers")
        return True


async def test_answers_of_an_event_that_failed_alone_do_not_count_against_the_reply_budget(tmp_path: Path) -> None:
    async with TestBot.running({"echo": ECHO}, start=START, database=str(tmp_path / "q.db")) as bot:
        stages = bot.engine.stages
        stages[-1] = FaultyAfterAnswers(stages[-1])
        await bot.burst([bot.message("u1", "你好", room="r1") for _ in range(10)])  # each fails: nothing sent
        assert bot.sent == []
        stages[-1] = stages[-1].playbooks  # type: ignore[attr-defined]
        assert texts(await bot.burst([bot.message("u1", "你好", room="r1") for _ in range(10)])) == ["你好呀"] * 10


LATER = """
id: later
when:
  - message: {text: 稍后}
do:
  - wait: 1m
  - reply: bad 稍后的回答
"""


async def test_an_answer_after_a_wait_that_never_committed_does_not_count_against_the_reply_budget(
    tmp_path: Path,
) -> None:
    async with TestBot.running({"later": LATER, "echo": ECHO}, start=START, database=str(tmp_path / "q.db")) as bot:
        await install(bot, REFUSE)
        assert await bot.say("u1", "稍后", room="r1", settle=False) == []
        assert await bot.settle() == []  # the part after the wait could not queue its answer
        assert texts(await bot.burst([bot.message("u1", "你好", room="r1") for _ in range(10)])) == ["你好呀"] * 10


FLOOD = """
id: anti-flood
when:
  - flood: {messages: 6, within: 10s}
do:
  - reply: 请不要刷屏哦～
"""


async def test_messages_of_a_batch_tried_again_count_once_towards_a_flood(tmp_path: Path) -> None:
    """Flood counts live in memory and are counted in the event's transaction: a batch that fails as a whole and
    is tried again one by one must not count its messages twice, or a member who said four things is warned."""
    async with TestBot.running(
        {"checkin": CHECKIN, "anti-flood": FLOOD}, start=START, database=str(tmp_path / "q.db")
    ) as bot:
        await install(bot, REFUSE)
        said = [bot.message("u1", f"第{i}句", room="r1") for i in range(4)]
        assert await bot.burst([*said, bot.message("bad", "签到", room="r1")]) == []
        assert await bot.burst([bot.message("u1", "第五句", room="r1")]) == []
        sixth = await bot.burst([bot.message("u1", "第六句", room="r1")])  # each of the six counted once
        assert texts(sixth) == ["请不要刷屏哦～"]


@pytest.mark.sqlite_only  # another process's write lock is SQLite's; PostgreSQL locks rows, not the database
async def test_a_burst_that_cannot_commit_sends_nothing_and_is_handled_once_in_order_later(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    said = [f"m{i}" for i in range(12)]
    async with TestBot.running({"checkin": CHECKIN}, start=START, database=str(database)) as bot:
        with write_lock(database):
            assert await bot.burst([bot.message(m, "签到", room="r1") for m in said]) == []
        assert await bot.rows(select(Checkin)) == []
        sent = await bot.advance(timedelta(minutes=1))
        assert texts(sent) == [f"{m} 签到成功，共 5 分" for m in said]
        assert [r.member_id for r in await bot.rows(select(Checkin).order_by(Checkin.id))] == said


@pytest.mark.sqlite_only  # the store kept in trouble by another process's write lock
async def test_a_full_intake_makes_the_connector_wait_and_loses_nothing(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    async with TestBot.running({"checkin": CHECKIN}, start=START, database=str(database)) as bot:
        intake = bot.bot.intake
        intake.room = 3
        with write_lock(database):
            for member in ("u1", "u2", "u3"):  # held while the database is locked: the intake is full
                await bot.bot.offer(bot.connector.as_delivered(bot.message(member, "签到", room="r1")))
            fourth = asyncio.ensure_future(bot.bot.offer(bot.message("u4", "签到", room="r1")))
            await intake.settled()  # the worker waits for its next try: nothing more can be handed over
            await asyncio.sleep(0)  # a yield, no time passes: the fourth offer runs up to where it waits
            assert not fourth.done()
        await bot.advance(timedelta(minutes=1))
        assert await (await fourth) is True  # room again: handed over, then handled
        assert texts(bot.sent) == [f"u{i} 签到成功，共 5 分" for i in (1, 2, 3, 4)]


async def test_a_switch_in_the_middle_of_a_burst_holds_for_the_messages_after_it() -> None:
    async with TestBot.running({"echo": ECHO}, config=STAFF, start=START) as bot:
        sent = await bot.burst(
            [
                bot.message("u1", "你好", room="r1"),
                bot.message("mgr", "/停用 echo", room="r1"),
                bot.message("u2", "你好", room="r1"),
            ]
        )
        assert texts(sent) == ["你好呀", "已停用剧本「echo」（echo），重启后也保持"]


async def test_a_drop_opened_in_the_middle_of_a_burst_takes_the_claims_after_it() -> None:
    async with TestBot.running({"drop": DROP}, start=START) as bot:
        sent = await bot.burst(
            [
                bot.message("u1", "抢券", room="r1"),  # before the drop: nothing to claim
                bot.message("boss", "/开抢", room="r1"),
                bot.message("u2", "抢券", room="r1"),
                bot.message("u3", "抢券", room="r1"),
            ]
        )
        assert texts(sent)[0] == "开抢！"
        assert [m.mentions[0].id for m in sent if "抢到了" in m.text] == ["u2", "u3"]


async def test_once_and_cooldown_hold_inside_one_burst() -> None:
    greet_once = """
        id: hello-once
        when:
          - message: {text: 早}
        if: [{once: {per: day}}]
        do:
          - reply: "{{ member.name }} 早上好"
    """
    cooled = """
        id: menu
        when:
          - message: {text: 菜单}
        if: [{cooldown: 10m}]
        do:
          - reply: 今日菜单：奶茶
    """
    async with TestBot.running({"hello-once": greet_once, "menu": cooled}, start=START) as bot:
        said = [bot.message(m, "早", room="r1") for m in ("u1", "u1", "u2", "u1")]
        said += [bot.message(m, "菜单", room="r1") for m in ("u3", "u4", "u5")]
        sent = await bot.burst(said)
        assert texts(sent) == ["u1 早上好", "u2 早上好", "今日菜单：奶茶"]
