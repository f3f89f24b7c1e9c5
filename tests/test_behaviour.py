"""Behaviour counters (`member.checkins`, `claims`, `quiz_wins`, `invitees`, `messages_30d`), their segment keys,
and `tag_each`: tags that follow behaviour without messaging anyone."""

from __future__ import annotations

from datetime import datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import Config, StaffSection
from bot.events import MessageEvent, Outgoing
from bot.store.housekeeping import prune
from bot.testing import TestBot
from handlers.segments import Nudge

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
COUNTERS = ("checkins", "claims", "quiz_wins", "invitees", "messages_30d")

PROBE = dedent("""
    id: probe
    when:
      - command: 我的数据
    do:
      - reply: >-
          签到{{ member.checkins }} 抢券{{ member.claims }} 答对{{ member.quiz_wins }}
          邀请{{ member.invitees }} 发言{{ member.messages_30d }}
""")
CHECKIN = dedent("""
    id: checkin
    when:
      - message: {text: 签到}
    do:
      - checkin: {points: 5}
""")
DROP = dedent("""
    id: drop
    when:
      - command: 开抢
    do:
      - claim: {batch: lucky, keyword: 抢券, window: 30m}
    coupons:
      - {id: lucky, title: 幸运券, stock: 1, per_member: 1}
""")
QUIZ = dedent("""
    id: quiz
    when:
      - command: 出题
    do:
      - quiz: {questions: dishes, pick: next, window: 10m, winners: 1}
    questions:
      dishes:
        - {q: 招牌菜是什么？, a: 酸菜鱼}
        - {q: 最受欢迎的菜是什么？, a: 酸菜鱼}
""")


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def counters(bot: TestBot, member_id: str) -> dict[str, int]:
    return {name: await bot.field(member_id, name) for name in COUNTERS}


async def test_the_counters_read_what_members_did_through_chat() -> None:
    playbooks = {"playbooks/probe.yaml": PROBE, "playbooks/checkin.yaml": CHECKIN, "playbooks/drop.yaml": DROP}
    playbooks["playbooks/quiz.yaml"] = QUIZ
    async with TestBot.running(playbooks, start=START) as bot:
        assert texts(await bot.say("u1", "/我的数据")) == ["签到0 抢券0 答对0 邀请0 发言0"]
        for _day in range(3):
            await bot.say("u1", "签到", room="r1")
            await bot.say("u1", "签到", room="r1")  # once a day: one check-in
            await bot.advance(timedelta(days=1))
        # three drops of a batch of one: won it, then sold out or already had one: each one taken part in
        for late in ("u1", "u2", "u2"):
            await bot.say("boss", "/开抢", room="r1")
            await bot.say(late, "抢券", room="r1")
            await bot.say("u1", "抢券", room="r1")
            await bot.say("u1", "抢券", room="r1")  # twice in one drop: one entry
            await bot.advance(timedelta(minutes=30))
        await bot.say("u1", "抢券", room="r1")  # no drop open: nothing taken part in
        for winner in ("u1", "u2", "u1"):
            await bot.say("boss", "/出题", room="r1")
            await bot.say(winner, "酸菜鱼", room="r1")
            await bot.say("u3", "酸菜鱼", room="r1")  # too late: no win
            await bot.advance(timedelta(minutes=10))
        assert await bot.field("u1", "checkins") == 3
        assert await bot.field("u1", "claims") == 3
        assert await bot.field("u2", "claims") == 2
        assert await bot.field("u1", "quiz_wins") == 2
        assert await bot.field("u3", "quiz_wins") == 0
        assert texts(await bot.say("u1", "/我的数据"))[0].startswith("签到3 抢券3 答对2 邀请0 发言")


async def test_invitees_are_distinct_members_brought_in_never_yourself() -> None:
    async with TestBot.running({"playbooks/probe.yaml": PROBE}, start=START) as bot:
        for alt in ("alt1", "alt2"):  # the farmer's alts, in and out again and again, and into a second group
            for _round in range(5):
                await bot.join(alt, "r1", by="farmer")
                await bot.leave(alt, "r1")
            await bot.join(alt, "r2", by="farmer")
        await bot.join("farmer", "r2", by="farmer")  # inviting yourself is nobody
        await bot.join("u1", "r1")  # came by QR code: nobody's invitee
        assert await counters(bot, "farmer") == {**dict.fromkeys(COUNTERS, 0), "invitees": 2}
        for friend in ("f1", "f2", "f3", "f4", "f5"):
            await bot.join(friend, "r1", by="promoter")
        await bot.leave("f5", "r1")
        await bot.join("f5", "r1")  # back by QR code: still promoter's invitee
        assert await bot.field("promoter", "invitees") == 5


async def test_messages_30d_counts_group_messages_by_the_shops_local_day() -> None:
    """Today and the 29 local days before it. A message at 00:30 in Shanghai is the day before in UTC: counted
    by the shop's day, it is still in the window 29 days later, when a UTC day would already have dropped it."""
    start = datetime(2026, 11, 2, 0, 30, tzinfo=TZ)
    async with TestBot.running({"playbooks/probe.yaml": PROBE}, start=start) as bot:
        await bot.say("u1", "早", room="r1")
        await bot.say("u1", "大家好", room="r2")
        await bot.say("u1", "在吗")  # a private message to the bot is not group activity
        event = MessageEvent(id="wx-1", at=bot.clock.now(), sender=bot.member("u1"), text="hi", room=bot.room("r1"))
        await bot.dispatch(event)
        await bot.dispatch(event)  # redelivered by WeChat: one message
        await bot.say("u1", "/我的数据", room="r1")  # commands are messages in the group too
        assert await bot.field("u1", "messages_30d") == 4
        await bot.advance_to(datetime(2026, 12, 1, 23, 59, tzinfo=TZ))  # 29 days later
        assert await bot.field("u1", "messages_30d") == 4
        await bot.say("u1", "又来了", room="r1")
        assert await bot.field("u1", "messages_30d") == 5
        await bot.advance_to(datetime(2026, 12, 2, 0, 0, tzinfo=TZ))  # 30 days after: out of the window
        assert await bot.field("u1", "messages_30d") == 1
        await bot.advance_to(datetime(2026, 12, 30, 23, 59, tzinfo=TZ))  # 29 days after the last one
        assert await bot.field("u1", "messages_30d") == 1
        await bot.advance_to(datetime(2027, 1, 1, 0, 0, tzinfo=TZ))  # 31 days after
        assert await bot.field("u1", "messages_30d") == 0


async def test_message_days_are_pruned_after_90_days() -> None:
    from bot.store.tables import MessageDay

    async with TestBot.running({"playbooks/probe.yaml": PROBE}, start=START) as bot:
        await bot.say("u1", "早", room="r1")
        await bot.advance(timedelta(days=60))
        await bot.say("u1", "早", room="r1")
        await bot.say("u2", "早", room="r1")
        await bot.advance(timedelta(days=31))
        await prune(bot.bot.store, bot.clock.now())
        table = MessageDay.__table__
        rows = await bot.rows(select(table.c.member_id, table.c.messages).order_by(table.c.member_id))
        assert [tuple(r) for r in rows] == [("u1", 1), ("u2", 1)]


def fan(key: str, value: str) -> str:
    return dedent(f"""
        id: fan-{key.replace("_", "-")}
        when:
          - schedule: {{at: "2026-12-01 10:00"}}
        do:
          - for_each:
              segment: {{{key}: "{value}"}}
              do:
                - dm: {key}
    """)


SEGMENTS = {
    "checkins": ">=2",
    "claims": "1",  # a bare number means at least
    "quiz_wins": ">0",
    "invitees": ">=2",
    "messages_30d": "<1",  # members with no count at all are 0, not left out
}


async def test_each_counter_is_a_segment_key() -> None:
    playbooks = {f"playbooks/fan-{key}.yaml": fan(key, value) for key, value in SEGMENTS.items()}
    playbooks |= {"playbooks/checkin.yaml": CHECKIN, "playbooks/drop.yaml": DROP, "playbooks/quiz.yaml": QUIZ}
    async with TestBot.running(playbooks, start=START) as bot:
        for member in ("a", "b", "c", "quiet"):
            await bot.seed(member, rooms=["r1"], joined=START - timedelta(days=40))
        for member in ("x1", "x2", "x3"):
            await bot.seed(member)  # friends of the bot, joining later
        await bot.say("a", "签到", room="r1")
        await bot.advance(timedelta(days=1))
        await bot.say("a", "签到", room="r1")
        await bot.say("b", "签到", room="r1")
        await bot.say("boss", "/开抢", room="r1")
        await bot.say("b", "抢券", room="r1")
        await bot.say("boss", "/出题", room="r1")
        await bot.say("c", "酸菜鱼", room="r1")
        await bot.join("x1", "r1", by="c")
        await bot.join("x2", "r1", by="c")
        await bot.join("x3", "r1", by="b")
        sent = await bot.advance_to(datetime(2026, 12, 1, 10, 30, tzinfo=TZ))
        reached: dict[str, list[str]] = {}
        for message in sent:
            if message.text in SEGMENTS:
                reached.setdefault(message.text, []).append(message.target_id)
        assert {key: sorted(ids) for key, ids in reached.items()} == {
            "checkins": ["a"],
            "claims": ["b"],
            "quiz_wins": ["c"],
            "invitees": ["c"],
            "messages_30d": ["quiet", "x1", "x2", "x3"],
        }


TAGGER = dedent("""
    id: tagger
    when:
      - schedule: {cron: "0 3 * * *"}
    do:
      - tag_each: {segment: {claims: ">=2"}, tag: 促销敏感型}
""")
REACTIVATION = dedent("""
    id: reactivation
    when:
      - schedule: {cron: "0 10 * * *"}
    do:
      - for_each:
          segment: {lifecycle: dormant, not_nudged_days: 30}
          do:
            - dm: 好久不见
""")


async def test_tag_each_tags_the_segment_silently_and_is_no_nudge() -> None:
    """No message, no nudge row: a dormant member tagged at 03:00 is still reached by reactivation at 10:00."""
    config = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]))
    playbooks = {"playbooks/tagger.yaml": TAGGER, "playbooks/drop.yaml": DROP, "playbooks/re.yaml": REACTIVATION}
    async with TestBot.running(playbooks, config=config, start=START) as bot:
        for member in ("keen", "once", "clerk"):
            await bot.seed(member, rooms=["r1"], joined=START - timedelta(days=40))
        for _drop in range(2):
            await bot.say("boss", "/开抢", room="r1")
            await bot.say("keen", "抢券", room="r1")
            await bot.say("clerk", "抢券", room="r1")
            await bot.advance(timedelta(minutes=30))
        await bot.say("boss", "/开抢", room="r1")
        await bot.say("once", "抢券", room="r1")
        await bot.advance(timedelta(days=16))  # tagged the first night, dormant two weeks later
        to_members = sorted((m.target_id, m.text) for m in bot.sent if m.target_id != "r1")
        assert to_members == [("keen", "好久不见"), ("once", "好久不见")]
        assert await bot.field("keen", "tags") == ["促销敏感型"]
        assert await bot.field("once", "tags") == []
        assert await bot.field("clerk", "tags") == []  # staff are left out of segments
        nudged = await bot.rows(select(Nudge.playbook_id, func.count()).group_by(Nudge.playbook_id))
        assert [tuple(r) for r in nudged] == [("reactivation", 2)]


async def test_expr_reads_the_counters() -> None:
    source = dedent("""
        id: keen
        when:
          - message: {text: 抢券}
        if:
          - expr: "member.claims >= 2 and member.messages_30d >= 2"
        do:
          - reply: 老朋友又来抢券啦
    """)
    playbooks = {"playbooks/keen.yaml": source, "playbooks/drop.yaml": DROP}
    async with TestBot.running(playbooks, start=START) as bot:
        await bot.say("boss", "/开抢", room="r1")
        assert "老朋友又来抢券啦" not in texts(await bot.say("u1", "抢券", room="r1"))
        await bot.advance(timedelta(minutes=30))
        await bot.say("boss", "/开抢", room="r1")
        assert "老朋友又来抢券啦" in texts(await bot.say("u1", "抢券", room="r1"))
