"""One member flooding: a reply budget per member, and fair queueing so nobody waits behind a flood.

The budget is about what is queued, so it holds with pacing off (the default TestBot) as well as on;
fairness is about what leaves first, so those tests pace under the virtual clock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from timed import Timed

from bot.budget import Budget
from bot.config import Config, StaffSection
from bot.events import MemberRef, MessageEvent, Outgoing
from bot.sending_settings import ReplyBudget
from bot.store.tables import OutboxMessage
from bot.testing import TestBot
from handlers.checkin import Checkin

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = {
    f"playbooks/{name}": (ROOT / "playbooks" / name).read_text("utf-8")
    for name in ("daily-checkin.yaml", "my-points.yaml")
}
MINUTE = timedelta(minutes=1)


async def paced(config: Config | None = None, **options: Any) -> TestBot:
    connector = Timed()
    bot = await TestBot.create(PLAYBOOKS, config=config, governor=True, connector=connector, **options)
    connector.clock = bot.clock
    return bot


def over_budget(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "reply budget" in r.getMessage()]


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


# -- the reply budget


async def test_past_the_reply_budget_a_member_gets_no_answer_until_the_minute_passes_but_playbooks_still_act(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="qunguan")
    async with TestBot.running(PLAYBOOKS) as bot:  # pacing off, the shipped budget: 10 replies a minute
        bot.member("u1", "小王")
        for _ in range(10):
            assert len(await bot.say("u1", "查积分", room="r1")) == 1
        assert await bot.say("u1", "签到", room="r1") == []  # over budget: no answer...
        assert await bot.field("u1", "points") == 5  # ...but checked in all the same
        assert texts(await bot.say("u2", "查积分", room="r1")) == ["u2，你当前有 0 积分，已连续签到 0 天"]
        for _ in range(5):
            assert await bot.say("u1", "查积分") == []  # privately too: the budget is the member's
        assert len(over_budget(caplog)) == 1 and "小王 (u1)" in over_budget(caplog)[0]
        await bot.advance(MINUTE)
        assert texts(await bot.say("u1", "查积分", room="r1")) == ["小王，你当前有 5 积分，已连续签到 1 天"]
        stored = await bot.rows(select(OutboxMessage.__table__.c.reply_to))
        assert [r.reply_to for r in stored] == ["u1"] * 10 + ["u2", "u1"]  # dropped answers were never queued
        assert len(over_budget(caplog)) == 1


async def test_staff_are_never_held_back_by_the_reply_budget() -> None:
    config = Config(staff=StaffSection(staff=["clerk"]))
    async with TestBot.running(PLAYBOOKS, config=config) as bot:
        bot.member("u1", "小王")
        await bot.say("u1", "签到", room="r1")
        for i in range(1, 16):
            (answer,) = await bot.say("clerk", "/加分 u1 1 活动", room="r1")
            assert answer.text == f"已给 小王 加 1 分（活动），现在共 {5 + i} 分"
        assert len(await bot.say("clerk", "查积分", room="r1")) == 1


async def test_the_reply_budget_is_set_in_config_and_can_be_turned_off() -> None:
    tight = Config.model_validate({"sending": {"reply_budget": {"messages": 2, "per": "10s"}}})
    async with TestBot.running(PLAYBOOKS, config=tight) as bot:
        answers = [len(await bot.say("u1", "查积分", room="r1")) for _ in range(4)]
        assert answers == [1, 1, 0, 0]
        await bot.advance(timedelta(seconds=10))
        assert len(await bot.say("u1", "查积分", room="r1")) == 1
    off = Config.model_validate({"sending": {"reply_budget": None}})
    async with TestBot.running(PLAYBOOKS, config=off) as bot:
        assert sum([len(await bot.say("u1", "查积分", room="r1")) for _ in range(30)]) == 30
    for wrong in ({"messages": 0}, {"per": "0s"}):
        with pytest.raises(ValidationError, match="reply_budget"):
            Config.model_validate({"sending": {"reply_budget": wrong}})


def test_a_clock_going_back_never_mutes_a_member_for_longer_than_the_span() -> None:
    budget = Budget(ReplyBudget(messages=2), ZoneInfo("Asia/Shanghai"))
    member, now = MemberRef("u1", "小王"), datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert budget.take(member, 3, now + timedelta(hours=1)) == 2  # by a clock an hour fast
    assert budget.take(member, 1, now) == 0  # corrected: those two answers count as just now...
    assert budget.take(member, 1, now + MINUTE) == 1  # ...so a minute later there is budget again, not at 11:01


# -- fair queueing, and the hostile member


@pytest.mark.slow
async def test_a_member_sending_ten_thousand_check_ins_gets_only_the_budget_and_holds_up_nobody(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """10,000 × 签到 from one member, 20 a second, at the shipped pacing: at most 10 answers queued in any minute,
    one check-in, and two other customers asking 查积分 mid-flood, in the same group and in another, are answered
    within seconds."""
    caplog.set_level(logging.INFO, logger="qunguan")
    bot = await paced()
    try:
        flooder, room = bot.member("f", "刷屏哥"), bot.room("r1", "会员福利1群")
        asked: dict[str, datetime] = {}
        for i in range(10_000):
            await bot.engine.dispatch(MessageEvent(f"flood-{i}", bot.clock.now(), flooder, "签到", room))
            if i % 20 == 19:
                await bot.advance(timedelta(seconds=1))
            if i == 40:  # the flooder's first ten answers are queued and the first has gone
                for member, where in (("u2", "r1"), ("u3", "r2")):
                    asked[member] = bot.clock.now()
                    await bot.say(member, "查积分", room=where)
        await bot.advance(timedelta(minutes=5))
        sent = list(zip(bot.sent, bot.connector.times, strict=True))  # type: ignore[attr-defined]
        for member, where in (("u2", "r1"), ("u3", "r2")):
            (at,) = [t for m, t in sent if m.text.startswith(f"{member}，你当前有") and m.target_id == where]
            assert at - asked[member] <= timedelta(seconds=5), (member, at - asked[member])
        outbox = OutboxMessage.__table__
        answers = await bot.rows(select(outbox.c.created_at, outbox.c.state).where(outbox.c.reply_to == "f"))
        queued = [r.created_at for r in answers]
        assert 10 <= len(queued) <= 10 * 9  # the budget per minute, over a flood of 500 s
        assert max(sum(1 for u in queued if t <= u < t + MINUTE) for t in queued) <= 10
        assert {r.state for r in answers} == {"sent"}
        assert len([m for m in bot.sent if "刷屏哥" in m.text or m.text.startswith("签到成功")]) == len(queued)
        assert len(await bot.rows(select(Checkin.__table__))) == 1
        assert await bot.field("f", "points") == 5
        assert len(over_budget(caplog)) == 1
    finally:
        await bot.close()


async def test_fair_turns_hold_for_replies_queued_before_a_restart(tmp_path: Path) -> None:
    """Who each queued reply answers is kept with it, so after a restart another member still goes before the
    flooder's backlog."""
    database = str(tmp_path / "shop.db")
    first = await paced(database=database)
    for _ in range(10):
        await first.say("f", "查积分", room="r1")
    await first.crash()
    assert len(first.sent) == 1  # nine answers to f wait for the room's gap

    second = await paced(database=database, start=first.clock.now() + MINUTE)
    try:
        await second.say("u2", "查积分", room="r1")
        await second.advance(MINUTE)
        assert len(second.sent) == 10
        assert [m.text.split("，")[0] for m in second.sent].index("u2") <= 1
    finally:
        await second.close()
