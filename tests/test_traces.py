"""Traces (issue 15, Pages point 3): every event that reached a stage leaves, in its own transaction, a trace of
what each playbook, command, moderation rule or window did and why not; other chatter is only counted."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy import select

from bot import testing as bot_testing
from bot.config import Config
from bot.console.tables import Trace, TraceCount
from bot.events import MessageEvent
from bot.forget import forget
from bot.playbook.library import PlaybookSet, load_texts
from bot.store.housekeeping import prune
from bot.testing import TestBot
from bot.traces.config import TracesSection
from bot.traces.counts import FLUSH_EVERY

pytestmark = pytest.mark.usefixtures("backend")

CHECKIN = """
    id: checkin
    when:
      - message: {text: 签到}
    if:
      - once: {per: day}
    do:
      - points: 5
      - reply: "签到成功，+5 分"
"""
VIP = """
    id: vip
    when:
      - message: {text: 会员价}
    if:
      - role: admin
      - expr: "member.points >= 100"
    do:
      - reply: 会员价 88 元
"""
SPEND = """
    id: spend
    when:
      - message: {text: 兑换}
    do:
      - tag: 兑换过
      - points: -50
      - reply: 兑换成功
"""
ADS = """
    id: ads
    when:
      - message: {has: [link]}
    do:
      - reply: 请勿发广告
"""
STAFF = Config.model_validate({"staff": {"owner": ["boss"]}})


def playbooks(*texts: str) -> PlaybookSet:
    return load_texts({f"playbooks/{i:02d}.yaml": dedent(t) for i, t in enumerate(texts)})


async def traces(bot: TestBot) -> list[Any]:
    return list(await bot.rows(select(Trace.__table__).order_by(Trace.__table__.c.id)))


def steps(trace: Any) -> list[dict[str, Any]]:
    return json.loads(trace.steps)  # type: ignore[no-any-return]


async def test_a_check_in_refused_by_once_has_a_trace_whose_steps_say_why() -> None:
    async with TestBot.running(playbooks(CHECKIN)) as bot:
        await bot.say("u1", "签到", room="r1")
        assert [m.text for m in await bot.say("u1", "签到", room="r1")] == []
        first, second = await traces(bot)
        assert (first.stage, first.name, first.outcome, first.member_id, first.room_id) == (
            "playbook",
            "checkin",
            "ran",
            "u1",
            "r1",
        )
        assert first.text == "签到" and first.summary == "已执行：2 个动作，1 条消息待发"
        once, points, reply = steps(first)
        assert (once["kind"], once["what"], once["result"]) == ("condition", "once", True)
        assert once["at"].startswith("playbooks/00.yaml:")
        assert (points["what"], points["value"]) == ("points", {"add": 5})
        assert reply["result"] == {"queued": ["签到成功，+5 分"]}

        assert second.outcome == "skipped"
        assert second.summary == "没有执行：once：该成员今天已经执行过（每天一次）"
        [refused] = steps(second)
        assert refused["result"] is False
        assert refused["value"] == {"params": {"per": "day"}, "seen": "2026-11-23"}


async def test_a_role_and_an_expression_say_what_they_saw() -> None:
    async with TestBot.running(playbooks(VIP), config=Config.model_validate({"staff": {"admin": ["a1"]}})) as bot:
        await bot.say("u1", "会员价", room="r1")
        await bot.say("a1", "会员价", room="r1")
        member, admin = await traces(bot)
        assert member.summary == "没有执行：role：身份是 member，需要 admin"
        assert steps(member)[0]["value"]["seen"] == "member"
        assert admin.summary == "没有执行：expr：member.points >= 100 不成立"
        role, expr = steps(admin)
        assert role["result"] is True
        assert (expr["what"], expr["value"]["seen"], expr["result"]) == ("expr", {"member.points": 0}, False)


async def test_a_staff_command_is_traced_with_its_result() -> None:
    async with TestBot.running(playbooks(CHECKIN), config=STAFF) as bot:
        await bot.say("boss", "/帮助", room="r1")
        await bot.say("u1", "/重载", room="r1")
        helped, refused = await traces(bot)
        assert (helped.stage, helped.name, helped.outcome) == ("command", "帮助", "ran")
        assert helped.summary.startswith("/帮助：已执行：")
        assert (refused.stage, refused.name, refused.outcome, refused.member_id) == ("command", "重载", "skipped", "u1")
        assert refused.summary.startswith("/重载：被拒绝：")
        assert steps(refused)[0]["result"]["result"] == "refused"


async def test_a_moderation_rule_is_traced_under_its_stage() -> None:
    async with TestBot.running(playbooks(ADS, CHECKIN)) as bot:
        await bot.say("u9", "加我 https://evil.cn/x", room="r1")
        [trace] = await traces(bot)
        assert (trace.stage, trace.name, trace.outcome, trace.text) == (
            "moderation",
            "ads",
            "ran",
            "加我 https://evil.cn/x",
        )
        assert steps(trace)[0]["result"] == {"queued": ["请勿发广告"]}


CHECKIN_TWICE = """
    id: twice
    when:
      - message: {text: 签到}
    do:
      - checkin: {points: 5}
      - reply: "连续 {{ checkin.streak }} 天"
      - checkin: {points: 5}
      - points: 1
"""


async def test_each_action_step_says_which_variables_it_set_and_a_reply_sets_none() -> None:
    async with TestBot.running(playbooks(CHECKIN_TWICE)) as bot:
        await bot.say("u1", "签到", room="r1")
        [trace] = await traces(bot)
        first, reply, again, points = (step["result"] for step in steps(trace))
        assert first["set"] == {"checkin": {"already": False, "streak": 1, "points": 5}}
        assert reply == {"queued": ["连续 1 天"]}
        # the same variable set again, to a new value: shown again (the member's reloaded fields never are)
        assert again["set"] == {"checkin": {"already": True, "streak": 1, "points": 0}}
        assert "set" not in points


async def test_a_failing_playbook_is_traced_with_the_file_and_line_of_the_step() -> None:
    async with TestBot.running(playbooks(SPEND)) as bot:
        await bot.say("u1", "兑换", room="r1")
        [trace] = await traces(bot)
        assert trace.outcome == "failed"
        assert trace.summary.startswith("出错：playbooks/00.yaml:7:5（points）RunError")
        assert "fewer than 50 points" in trace.summary and "已撤销" in trace.summary
        tag, points, error = steps(trace)
        assert (tag["what"], points["what"], points["result"]) == ("tag", "points", None)
        assert (error["kind"], error["what"], error["at"]) == ("error", "points", "playbooks/00.yaml:7:5")


async def test_a_switched_off_playbook_is_traced_as_skipped() -> None:
    async with TestBot.running(playbooks(CHECKIN), config=STAFF) as bot:
        await bot.say("boss", "/停用 checkin")
        await bot.say("u1", "签到", room="r1")
        [_, trace] = await traces(bot)
        assert (trace.name, trace.outcome, trace.summary) == ("checkin", "skipped", "没有执行：已被停用（/停用）")


async def test_a_rolled_back_event_leaves_no_trace_and_no_count(monkeypatch: pytest.MonkeyPatch) -> None:
    async with TestBot.running(playbooks(CHECKIN)) as bot:

        async def broken(*args: object, **how: object) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(bot.engine.outbox, "queue", broken)
        for text in ("签到", "闲聊"):
            event = MessageEvent(
                id=f"e-{text}", at=bot.clock.now(), sender=bot.member("u1"), text=text, room=bot.room("r1")
            )
            with pytest.raises(RuntimeError, match="disk full"):
                await bot.engine.dispatch(event)
        await bot.engine.write_counts()
        assert await traces(bot) == []
        assert list(await bot.rows(select(TraceCount.__table__))) == []


async def counted(bot: TestBot) -> list[tuple[str, str, int]]:
    counts = await bot.rows(select(TraceCount.__table__).order_by("day", "room_id"))
    return [(str(c.day), c.room_id, c.events) for c in counts]


async def test_chatter_is_only_counted_per_day_and_room() -> None:
    """Counted in memory, written with a later event's transaction once a minute has passed (or 200 events), and
    when the bot stops."""
    async with TestBot.running(playbooks(CHECKIN)) as bot:
        for _ in range(3):
            await bot.say("u1", "今天天气不错", room="r1")
        await bot.say("u2", "在吗")
        assert await counted(bot) == []  # not yet written: one write for many messages
        await bot.advance(timedelta(days=1))
        await bot.say("u1", "早", room="r1")  # written with this one, which itself waits for the next
        assert await traces(bot) == []
        assert await counted(bot) == [("2026-11-23", "", 1), ("2026-11-23", "r1", 3)]
        await bot.engine.write_counts()
        assert await counted(bot) == [("2026-11-23", "", 1), ("2026-11-23", "r1", 3), ("2026-11-24", "r1", 1)]
        for _ in range(FLUSH_EVERY):
            await bot.say("u3", "哈哈", room="r2")
        await bot.say("u3", "哈哈", room="r2")
        assert ("2026-11-24", "r2", FLUSH_EVERY) in await counted(bot)


async def test_the_counts_not_yet_written_are_written_when_the_bot_stops(tmp_path: Path) -> None:
    database = str(tmp_path / "shop.db") if "postgresql" not in bot_testing.DATABASE else bot_testing.DATABASE
    async with TestBot.running(playbooks(CHECKIN), database=database) as bot:
        await bot.say("u1", "今天天气不错", room="r1")
    async with TestBot.running(playbooks(CHECKIN), database=database) as again:
        assert await counted(again) == [("2026-11-23", "r1", 1)]


async def test_pruning_keeps_the_newest_traces_of_each_playbook() -> None:
    config = Config.model_validate({"traces": {"keep": 2}})
    keep = config.section(TracesSection).keep
    async with TestBot.running(playbooks(CHECKIN, VIP), config=config) as bot:
        for member in ("u1", "u2", "u3", "u4"):
            await bot.say(member, "签到", room="r1")
        await bot.say("u1", "会员价", room="r1")
        await prune(bot.bot.store, bot.clock.now(), keep_traces=keep)
        assert [(t.name, t.member_id) for t in await traces(bot)] == [
            ("checkin", "u3"),
            ("checkin", "u4"),
            ("vip", "u1"),
        ]


async def test_texts_are_blanked_after_keep_texts_and_the_trace_stays() -> None:
    async with TestBot.running(playbooks(CHECKIN)) as bot:
        await bot.say("u1", "签到", room="r1")
        await bot.advance(timedelta(days=20))
        await bot.say("u2", "签到", room="r1")
        await prune(bot.bot.store, bot.clock.now() + timedelta(days=11), keep_texts=timedelta(days=30))
        old, recent = await traces(bot)
        assert (old.text, old.outcome, old.summary) == ("", "ran", "已执行：2 个动作，1 条消息待发")
        assert recent.text == "签到"


async def test_forgetting_a_member_erases_their_traces() -> None:
    async with TestBot.running(playbooks(CHECKIN)) as bot:
        await bot.say("u1", "签到", room="r1")
        await bot.say("u2", "签到", room="r1")
        async with bot.bot.store.unit() as conn:
            done = await forget(conn, "u1", at=bot.clock.now())
        assert done.erased["traces"] == 1
        [left] = await traces(bot)
        assert left.member_id == "u2"


def test_traces_keep_is_checked() -> None:
    with pytest.raises(ValueError, match="traces"):
        Config.model_validate({"traces": {"keep": 0}})
