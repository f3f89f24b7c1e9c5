"""拼团 through the engine: teams of `size` decided by the database, a coupon each when a team forms, an unfilled
team told at the deadline, a second join answered once and never counted."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import func, select

from bot.config import Config, StaffSection
from bot.context import RunContext
from bot.events import MemberRef, MessageEvent, Outgoing, RoomRef
from bot.testing import TestBot
from handlers.coupons import Coupon
from handlers.group_buy import GroupBuyMember, on_join

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 12, 0, tzinfo=TZ)
NOT_FORMED = "没有成团，这次没有券，下次再约小伙伴一起来～"
CONFIG = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]))


def group_buy(stock: int = 200, size: int = 3, expires: str = "") -> dict[str, str]:
    return {
        "playbooks/tuan.yaml": dedent(f"""
            id: tuan
            when:
              - command: 开团
            do:
              - say: 开团啦！
              - group_buy: {{batch: tuan, size: {size}, keyword: 参团, window: 2h}}
            coupons:
              - {{id: tuan, title: 拼团券, stock: {stock}, per_member: 1{expires}}}
        """)
    }


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def mentioned(message: Outgoing) -> set[str]:
    return {m.id for m in message.mentions}


async def coupons(bot: TestBot, member_id: str | None = None) -> int:
    query = select(func.count()).select_from(Coupon)
    if member_id is not None:
        query = query.where(Coupon.member_id == member_id)
    return int((await bot.rows(query))[0][0])


async def test_a_team_forms_when_size_members_joined_and_each_gets_a_coupon() -> None:
    async with TestBot.running(group_buy(), start=START) as bot:
        assert texts(await bot.say("boss", "/开团", room="r1")) == ["开团啦！"]
        (first,) = await bot.say("u1", "参团", room="r1")
        assert first.text == "参团成功！你在第 1 团，还差 2 人成团，快邀请小伙伴来参团吧～"
        assert mentioned(first) == {"u1"}
        assert texts(await bot.say("u2", " 参团 ", room="r1")) == [
            "参团成功！你在第 1 团，还差 1 人成团，快邀请小伙伴来参团吧～"
        ]
        assert await bot.say("u4", "我也想参加", room="r1") == []  # not the keyword
        (formed,) = await bot.say("u3", "参团", room="r1")
        assert formed.text == "【拼团成功】第 1 团成团啦！每人一张拼团券已放进券包，私聊我发送 /我的券 查看券码～"
        assert mentioned(formed) == {"u1", "u2", "u3"}
        assert [await coupons(bot, m) for m in ("u1", "u2", "u3")] == [1, 1, 1]
        (next_team,) = await bot.say("u4", "参团", room="r1")
        assert next_team.text.startswith("参团成功！你在第 2 团，还差 2 人")


async def test_an_unfilled_team_is_told_at_the_deadline_and_nobody_in_it_gets_a_coupon() -> None:
    async with TestBot.running(group_buy(), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        for member in ("u1", "u2", "u3", "u4", "u5"):
            await bot.say(member, "参团", room="r1")
        assert await bot.advance(timedelta(minutes=119)) == []
        (closing,) = await bot.advance(timedelta(minutes=1))
        assert closing.text == f"【拼团结束】本轮共成团 1 个。第 2 团还差 1 人，{NOT_FORMED}"
        assert mentioned(closing) == {"u4", "u5"}
        assert (await coupons(bot), await coupons(bot, "u4"), await coupons(bot, "u5")) == (3, 0, 0)
        assert await bot.say("u6", "参团", room="r1") == []  # closed


async def test_nobody_joined_is_said_at_the_deadline() -> None:
    async with TestBot.running(group_buy(), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        assert texts(await bot.advance(timedelta(hours=2))) == ["【拼团结束】这次没有人参团，下次再来～"]


async def test_a_member_joining_twice_is_answered_once_and_counted_once() -> None:
    async with TestBot.running(group_buy(), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        await bot.say("u1", "参团", room="r1")
        (again,) = await bot.say("u1", "参团", room="r1")
        assert again.text == "你已经在第 1 团了，还差 2 人成团，不用重复参团，邀请小伙伴来吧～"
        assert mentioned(again) == {"u1"}
        assert await bot.say("u1", "参团", room="r1") == []  # spam: answered once
        assert texts(await bot.say("u2", "参团", room="r1")) == [
            "参团成功！你在第 1 团，还差 1 人成团，快邀请小伙伴来参团吧～"
        ]
        await bot.say("u3", "参团", room="r1")
        (after,) = await bot.say("u2", "参团", room="r1")  # after the team filled: no second team for them
        assert after.text == "你所在的第 1 团已经成团啦，每人只能参团一次～"
        assert await bot.say("u2", "参团", room="r1") == []
        assert await coupons(bot, "u2") == 1


async def test_a_member_who_already_holds_the_coupon_is_told_and_takes_no_seat() -> None:
    async with TestBot.running(group_buy(), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        for member in ("u1", "u2", "u3"):
            await bot.say(member, "参团", room="r1")
        await bot.advance(timedelta(hours=2))
        await bot.say("boss", "/开团", room="r1")
        (holder,) = await bot.say("u1", "参团", room="r1")
        assert holder.text == "你已经有拼团券了，这次不用参团啦，把名额留给其他小伙伴吧～"
        assert await bot.say("u1", "参团", room="r1") == []
        assert texts(await bot.say("u4", "参团", room="r1"))[0].startswith("参团成功！你在第 1 团，还差 2 人")


async def test_stock_running_out_is_told_to_the_team_and_ends_the_group_buy() -> None:
    async with TestBot.running(group_buy(stock=4), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        for member in ("u1", "u2", "u3", "u4", "u5"):
            await bot.say(member, "参团", room="r1")
        formed, ended = await bot.say("u6", "参团", room="r1")
        assert formed.text == (
            "【拼团成功】第 2 团成团啦！\n"
            "u4：拼团券已放进券包，私聊我发送 /我的券 查看券码～\n"
            "u5、u6：拼团券刚好发完，没能领到，抱歉～"
        )
        assert mentioned(formed) == {"u4", "u5", "u6"}
        assert ended.text == "【拼团结束】拼团券已发完，本轮拼团提前结束，共成团 2 个～"
        assert await bot.say("u7", "参团", room="r1") == []
        assert await bot.advance(timedelta(hours=2)) == []  # ended once
        assert await coupons(bot) == 4


async def test_a_batch_that_expires_during_the_group_buy_ends_it_and_the_open_team_is_told() -> None:
    async with TestBot.running(group_buy(expires=', expires: "2026-11-28 13:00"'), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        await bot.say("u1", "参团", room="r1")
        await bot.advance(timedelta(minutes=61))
        ended, told = await bot.say("u2", "参团", room="r1")
        assert ended.text == "【拼团结束】拼团券已过期，本轮拼团提前结束，共成团 0 个～"
        assert told.text == f"【拼团结束】第 1 团还差 2 人，{NOT_FORMED}"
        assert mentioned(told) == {"u1"}
        assert await bot.say("u3", "参团", room="r1") == []


@pytest.mark.slow
async def test_100_members_joining_at_once_make_33_teams_and_one_left_open() -> None:
    async with TestBot.running(group_buy(stock=200), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        await asyncio.gather(*(bot.say(f"m{i}", "参团", room="r1") for i in range(100)))
        formed = [m for m in bot.sent if m.text.startswith("【拼团成功】")]
        assert len(formed) == 33
        teams = [mentioned(m) for m in formed]
        assert all(len(team) == 3 for team in teams)
        assert len(set().union(*teams)) == 99
        codes = await bot.rows(select(func.count(func.distinct(Coupon.member_id)), func.count()).select_from(Coupon))
        assert tuple(codes[0]) == (99, 99)
        (closing,) = await bot.advance(timedelta(hours=2))
        assert closing.text == f"【拼团结束】本轮共成团 33 个。第 34 团还差 2 人，{NOT_FORMED}"
        (left,) = mentioned(closing)
        assert left not in set().union(*teams)


@pytest.mark.slow
async def test_100_joins_each_in_its_own_transaction_at_once_seat_nobody_twice() -> None:
    """Through the pipeline a group's events happen to wait for each other (each one touches the group's row);
    the teams must not depend on that: here every join runs the window's own code in a unit of work of its
    own, all at once (on PostgreSQL really in parallel), and still 33 teams of 3 form."""
    async with TestBot.running(group_buy(stock=200), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        engine = bot.engine
        (window,) = engine.windows.in_room("r1")
        playbook = engine.playbooks.get(window.playbook_id)
        assert playbook is not None
        room = RoomRef("r1", "r1")

        async def join(n: int) -> list[Outgoing]:
            member = MemberRef(f"m{n}", f"会员{n}")
            event = MessageEvent(id=f"race-{n}", at=bot.clock.now(), sender=member, text="参团", room=room)
            async with engine.store.unit() as conn:
                ctx = RunContext(engine, conn, event, playbook, member=member, room=room)
                await on_join(ctx, window, event)
            return ctx.outgoing

        sent = [m for out in await asyncio.gather(*(join(n) for n in range(100))) for m in out]
        teams = [mentioned(m) for m in sent if m.text.startswith("【拼团成功】")]
        assert len(teams) == 33 and all(len(team) == 3 for team in teams)
        assert len(set().union(*teams)) == 99
        seats = await bot.rows(
            select(GroupBuyMember.team, func.count()).group_by(GroupBuyMember.team).order_by(GroupBuyMember.team)
        )
        assert [tuple(r) for r in seats] == [(t, 3) for t in range(1, 34)] + [(34, 1)]
        assert await coupons(bot) == 99


async def test_staff_open_a_group_buy_with_a_command_here_or_privately() -> None:
    async with TestBot.running(group_buy(), start=START, config=CONFIG) as bot:
        bot.room("r1", "会员福利1群")
        (refused,) = await bot.say("u1", "/拼团 tuan", room="r1")
        assert "需要店员身份" in refused.text
        (announced,) = await bot.say("clerk", "/拼团 tuan", room="r1")
        assert announced.text == (
            "【拼团】拼团券：3 人成团，每人得一张！在群里发送「参团」加入，2 小时内有效，每人限参一次～"
        )
        (busy,) = await bot.say("clerk", "/拼团 tuan 会员福利1群")
        assert busy.text.startswith("「会员福利1群」已经有一轮拼团在进行")
        await bot.say("u1", "参团", room="r1")
        assert len(await bot.advance(timedelta(hours=2))) == 1
        private = await bot.say("clerk", "/拼团 tuan 会员福利1群")
        assert texts(private) == [
            "已在「会员福利1群」开团：拼团券",
            "【拼团】拼团券：3 人成团，每人得一张！在群里发送「参团」加入，2 小时内有效，每人限参一次～",
        ]
        assert private[1].room is not None and private[1].room.id == "r1"
        (unknown,) = await bot.say("clerk", "/拼团 nope", room="r1")
        assert "请写出一个券 ID：tuan" in unknown.text


async def test_teams_survive_a_restart(backend: Backend) -> None:
    """Seats and counters live in the database: after a kill -9 the third member still completes the team."""
    first = await TestBot.create(group_buy(), start=START, database=backend.database)
    await first.say("boss", "/开团", room="r1")
    await first.say("u1", "参团", room="r1")
    await first.say("u2", "参团", room="r1")
    await first.crash()
    second = await TestBot.create(group_buy(), start=START + timedelta(minutes=5), database=backend.database)
    try:
        (again,) = await second.say("u1", "参团", room="r1")
        assert again.text.startswith("你已经在第 1 团了，还差 1 人成团")
        (formed,) = await second.say("u3", "参团", room="r1")
        assert formed.text.startswith("【拼团成功】第 1 团成团啦！")
        assert mentioned(formed) == {"u1", "u2", "u3"}
        (closing,) = await second.advance(timedelta(hours=2))
        assert closing.text == "【拼团结束】本轮共成团 1 个，谢谢大家～"
    finally:
        await second.close()


async def test_a_second_group_buy_does_not_open_in_a_group_while_one_is_open() -> None:
    async with TestBot.running(group_buy(), start=START) as bot:
        await bot.say("boss", "/开团", room="r1")
        assert await bot.say("boss", "/开团", room="r1") == []  # the run fails: no announcement, no second window
        assert len(await bot.say("u1", "参团", room="r1")) == 1
        assert texts(await bot.say("boss", "/开团", room="r2")) == ["开团啦！"]  # another group may have its own


async def test_no_group_buy_opens_when_the_stock_cannot_fill_a_team() -> None:
    async with TestBot.running(group_buy(stock=2), start=START, config=CONFIG) as bot:
        assert await bot.say("boss", "/开团", room="r1") == []
        (refused,) = await bot.say("clerk", "/拼团 tuan", room="r1")
        assert refused.text == "拼团券只剩 2 张，不够 3 人成一个团，没有开团"
        assert await bot.say("u1", "参团", room="r1") == []


async def test_a_group_buy_outside_a_group_is_refused() -> None:
    async with TestBot.running(group_buy(), start=START) as bot:
        assert await bot.say("boss", "/开团") == []  # private chat: the run fails and nothing is opened
