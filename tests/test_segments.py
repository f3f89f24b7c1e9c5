"""Lifecycle stages and segments: who a scheduled nudge reaches, recorded so its effect can be measured."""

from __future__ import annotations

from datetime import datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from bot.playbook.library import load_texts
from bot.registry import load_abilities
from bot.store.tables import OptOut
from bot.testing import TestBot
from handlers.points import add_points
from handlers.segments import EXTENDED, Nudge, in_holdout

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)

REACTIVATION = dedent("""
    id: reactivation
    when:
      - schedule: {cron: "0 10 * * *"}
    do:
      - for_each:
          segment: {lifecycle: dormant, not_nudged_days: 30}
          limit: 50
          do:
            - coupon: {batch: comeback-5}
            - choose:
                - if: [{expr: "coupon.code"}]
                  do:
                    - dm: "{{ member.name }}，好久不见～送你一张回归券 {{ coupon.code }}，{{ coupon.expires }} 前有效"
                - else:
                    - dm: "{{ member.name }}，好久不见～回群里看看吧"
            - tag: 已唤醒
    coupons:
      - {id: comeback-5, title: 回归5元券, stock: 1000, per_member: 1, valid_for: 14d}
""")

PROBE = dedent("""
    id: probe
    when:
      - command: 阶段
    do:
      - reply: "{{ member.lifecycle }}"
""")


async def stage_of(bot: TestBot, member_id: str) -> str:
    return await bot.field(member_id, "lifecycle")


async def test_lifecycle_moves_from_new_to_dormant_to_churned_with_config_thresholds() -> None:
    async with TestBot.running({"playbooks/probe.yaml": PROBE}, start=START) as bot:
        await bot.join("u1", "r1")
        assert await stage_of(bot, "u1") == "new"
        await bot.advance(timedelta(days=8))
        await bot.say("u1", "在吗", room="r1")
        assert await stage_of(bot, "u1") == "growing"
        await bot.advance(timedelta(days=15))
        assert await stage_of(bot, "u1") == "dormant"
        await bot.say("u1", "我回来了", room="r1")
        assert await stage_of(bot, "u1") == "growing"
        await bot.advance(timedelta(days=10))
        await bot.say("u1", "在", room="r1")
        assert await stage_of(bot, "u1") == "active"  # a member for over 30 days who still talks
        await bot.advance(timedelta(days=61))
        assert await stage_of(bot, "u1") == "churned"
        await bot.join("u2", "r1")
        await bot.leave("u2", "r1")
        assert await stage_of(bot, "u2") == "churned"  # left every group
        assert [m.text for m in await bot.say("u2", "/阶段")] == ["churned"]  # a private message joins no group


async def dormant_shop(bot: TestBot, count: int) -> None:
    """`count` members who joined 40 days ago and went quiet 20 days ago, plus one who talks daily."""
    for i in range(count):
        await bot.seed(f"d{i}", rooms=["r1"], joined=START - timedelta(days=40))
        async with bot.bot.store.unit() as conn:
            from bot.store.tables import Member

            await conn.execute(
                Member.__table__.update()
                .where(Member.__table__.c.id == f"d{i}")
                .values(last_active=START - timedelta(days=20))
            )
    await bot.seed("busy", rooms=["r1"], joined=START - timedelta(days=40))
    await bot.say("busy", "每天都在", room="r1")


async def test_reactivation_nudges_dormant_members_once_in_30_days() -> None:
    async with TestBot.running({"playbooks/reactivation.yaml": REACTIVATION}, start=START) as bot:
        await dormant_shop(bot, 3)
        sent = await bot.advance(timedelta(hours=2))  # 10:00: the daily schedule fires
        assert sorted(m.target_id for m in sent) == ["d0", "d1", "d2"]
        assert all("回归券" in m.text and m.room is None for m in sent)
        assert await bot.field("d0", "tags") == ["已唤醒"]
        assert await bot.field("d0", "coupons") == 1
        assert await bot.advance(timedelta(days=1)) == []  # not_nudged_days: 30
        nudges = await bot.rows(select(Nudge.member_id, Nudge.holdout))
        assert sorted(tuple(r) for r in nudges) == [("d0", False), ("d1", False), ("d2", False)]


async def test_limit_caps_a_fan_out_and_the_rest_come_next_time() -> None:
    capped = REACTIVATION.replace("limit: 50", "limit: 2")
    async with TestBot.running({"playbooks/reactivation.yaml": capped}, start=START) as bot:
        await dormant_shop(bot, 3)
        assert len(await bot.advance(timedelta(hours=2))) == 2
        assert len(await bot.advance(timedelta(days=1))) == 1


async def test_holdout_keeps_a_recorded_share_of_the_segment_unnudged() -> None:
    held = REACTIVATION.replace("limit: 50", "limit: 50\n      holdout: 10%")
    async with TestBot.running({"playbooks/reactivation.yaml": held}, start=START) as bot:
        await dormant_shop(bot, 5)
        sent = await bot.advance(timedelta(hours=2))
        nudges = {r.member_id: r.holdout for r in await bot.rows(select(Nudge.member_id, Nudge.holdout))}
        again = await bot.advance(timedelta(days=31))  # past not_nudged_days: the next round
    assert {m.target_id for m in again} == {"d0", "d1", "d2", "busy"}  # the control group stays out next time too
    control = {m for m in nudges if in_holdout("reactivation", m, 0.10)}
    assert control == {"d3", "d4"}  # the stable pick for these ids
    assert nudges == {m: m in control for m in ("d0", "d1", "d2", "d3", "d4")}
    assert sorted(m.target_id for m in sent) == ["d0", "d1", "d2"]


def test_the_holdout_share_is_what_was_asked_for() -> None:
    share = sum(in_holdout("reactivation", f"wxid_{i}", 0.10) for i in range(20_000)) / 20_000
    assert 0.09 < share < 0.11


async def test_opted_out_members_are_not_in_any_segment() -> None:
    async with TestBot.running({"playbooks/reactivation.yaml": REACTIVATION}, start=START) as bot:
        await dormant_shop(bot, 2)
        async with bot.bot.store.unit() as conn:
            await conn.execute(insert(OptOut.__table__).values(member_id="d0", at=START))
        assert [m.target_id for m in await bot.advance(timedelta(hours=2))] == ["d1"]


async def test_one_members_failure_does_not_stop_the_fan_out() -> None:
    """A member whose balance cannot pay is skipped (logged); the others are still reached."""
    paying = dedent("""
        id: redeem-all
        when:
          - schedule: {cron: "0 10 * * *"}
        do:
          - for_each:
              segment: {points: ">=0"}
              do:
                - points: -10
                - dm: 已兑换
    """)
    async with TestBot.running({"playbooks/pay.yaml": paying}, start=START) as bot:
        for member, points in (("a", 20), ("b", 5), ("c", 10)):
            await bot.seed(member, rooms=["r1"])
            async with bot.bot.store.unit() as conn:
                await add_points(conn, member, points, at=START)
        sent = await bot.advance(timedelta(hours=2))
        assert sorted(m.target_id for m in sent) == ["a", "c"]
        assert [await bot.field(m, "points") for m in "abc"] == [10, 5, 0]


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("{points: '>=100'}", ["rich"]),
        ("{points: '<100'}", ["fresh", "quiet", "tagged"]),
        ("{tags: [VIP]}", ["tagged"]),
        ("{tags: {none: [VIP]}, points: 0}", ["fresh", "quiet", "rich"]),
        ("{inactive_days: '>=14'}", ["quiet"]),
        ("{joined_days: '<7'}", ["fresh"]),
        ("{rooms: [会员福利2群]}", ["rich"]),
        ("{rooms: ['tag:会员群'], lifecycle: [休眠期, new]}", ["fresh", "quiet"]),
    ],
)
async def test_segment_filters(segment: str, expected: list[str]) -> None:
    from bot.config import Config, RoomSection

    source = dedent(f"""
        id: fan
        when:
          - schedule: {{cron: "0 10 * * *"}}
        do:
          - for_each:
              segment: {segment}
              do:
                - dm: hi
    """)
    config = Config(rooms=[RoomSection(topic="会员福利1群", tags=["会员群"]), RoomSection(topic="会员福利2群")])
    async with TestBot.running({"playbooks/fan.yaml": source}, config=config, start=START) as bot:
        await bot.add_room("r1", "会员福利1群")
        await bot.add_room("r2", "会员福利2群")
        await bot.seed("fresh", rooms=["r1"], joined=START - timedelta(days=2))
        await bot.seed("quiet", rooms=["r1"], joined=START - timedelta(days=20))
        await bot.seed("tagged", rooms=["r1"], joined=START - timedelta(days=10), tags=["VIP"])
        await bot.say("tagged", "hi", room="r1")
        await bot.seed("rich", rooms=["r2"], joined=START - timedelta(days=10))
        await bot.say("rich", "hi", room="r2")
        async with bot.bot.store.unit() as conn:
            await add_points(conn, "rich", 150, at=START)
        sent = await bot.advance(timedelta(hours=2))
        assert sorted(m.target_id for m in sent) == expected


def test_segment_mistakes_are_reported_at_their_line() -> None:
    source = dedent("""
        id: fan
        when:
          - command: 召回
        do:
          - for_each:
              segment: {lifecycle: sleeping, inactive_days: lots}
              do: [{dm: hi}]
          - for_each:
              segment: {}
              do: [{wait: 1s}]
    """)
    problems = [str(p) for p in load_texts({"playbooks/fan.yaml": source}).problems]
    assert problems == [
        "playbooks/fan.yaml:7:28: 'lifecycle' must be 'new', 'growing', 'active', 'dormant' or 'churned'; "
        "got 'sleeping'",
        "playbooks/fan.yaml:7:53: 'inactive_days' must be a number or a comparison like '>=14' or '<7'; got 'lots'",
        "playbooks/fan.yaml:10:7: 'segment' needs at least one filter, like {lifecycle: dormant}",
        "playbooks/fan.yaml:11:13: 'wait' works only directly in the playbook's 'do' list, "
        "not inside 'choose' or 'for_each'; "
        "move it out, or use a 'schedule' for a later follow-up",
    ]


async def test_staff_are_left_out_of_segments_unless_the_segment_says_staff_true() -> None:
    """The shop owner went quiet in the group too: the comeback coupon is for customers, not for the owner."""
    from bot.config import Config, StaffSection

    staff_too = (
        REACTIVATION.replace(
            "segment: {lifecycle: dormant, not_nudged_days: 30}", "segment: {lifecycle: dormant, staff: true}"
        )
        .replace("id: reactivation", "id: staff-too")
        .replace("- {id: comeback-5", "- {id: staff-5")
    )
    staff_too = staff_too.replace("batch: comeback-5", "batch: staff-5")
    config = Config(staff=StaffSection(owner=["boss"], admin=["adm"], staff=["clerk"]))
    for source, expected in ((REACTIVATION, ["d0"]), (staff_too, ["adm", "boss", "clerk", "d0"])):
        async with TestBot.running({"playbooks/r.yaml": source}, config=config, start=START) as bot:
            await dormant_shop(bot, 1)
            for member in ("boss", "adm", "clerk"):
                await bot.seed(member, rooms=["r1"], joined=START - timedelta(days=40))
            sent = await bot.advance(timedelta(hours=2))
            assert sorted(m.target_id for m in sent) == expected


def test_every_segment_key_of_an_ability_has_its_sql() -> None:
    """A key declared in Segment whose ability registered no SQL would fail only when a playbook used it."""
    assert set(EXTENDED) == set(load_abilities().segment_filters)
