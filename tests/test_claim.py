"""抢券 through the engine: first come first served, one answer per member, 已抢完 said once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.events import Outgoing
from bot.testing import TestBot
from handlers.coupons import Coupon

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 12, 0, tzinfo=TZ)


def drop(stock: int, per_member: int = 1) -> dict[str, str]:
    return {
        "playbooks/drop.yaml": dedent(f"""
            id: drop
            when:
              - command: 开抢
            do:
              - say: 开抢！
              - claim: {{batch: lucky, keyword: 抢券, window: 30m}}
            coupons:
              - {{id: lucky, title: 幸运券, stock: {stock}, per_member: {per_member}}}
        """)
    }


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def test_stock_runs_out_and_the_first_late_member_is_told_once() -> None:
    async with TestBot.running(drop(stock=2), start=START) as bot:
        assert texts(await bot.say("boss", "/开抢", room="r1")) == ["开抢！"]
        assert texts(await bot.say("u1", "抢券", room="r1")) == [
            "抢到了！幸运券已放进你的券包，私聊我发送 /我的券 查看券码"
        ]
        assert await bot.say("u1", "抢券", room="r1") == []  # one answer per member
        assert len(await bot.say("u2", "\u3000抢券\u3000", room="r1")) == 1
        assert texts(await bot.say("u3", "抢券", room="r1")) == ["幸运券已抢完，下次早点来哦～"]
        assert await bot.say("u4", "抢券", room="r1") == []  # not a message each
        assert await bot.say("u5", "我也要", room="r1") == []
        assert texts(await bot.advance(timedelta(minutes=30))) == ["本轮抢券结束，共 2 位小伙伴抢到幸运券，下次再来～"]
        assert await bot.say("u6", "抢券", room="r1") == []  # closed


async def test_per_member_limit_is_explained_once() -> None:
    async with TestBot.running(drop(stock=10), start=START) as bot:
        await bot.say("boss", "/开抢", room="r1")
        await bot.say("u1", "抢券", room="r1")
        await bot.advance(timedelta(minutes=30))
        await bot.say("boss", "/开抢", room="r1")
        assert texts(await bot.say("u1", "抢券", room="r1")) == ["你已经领过幸运券啦，把机会留给其他小伙伴吧～"]
        assert await bot.say("u1", "抢券", room="r1") == []


async def test_200_members_claiming_at_once_get_exactly_the_stock() -> None:
    async with TestBot.running(drop(stock=50), start=START) as bot:
        await bot.say("boss", "/开抢", room="r1")
        await asyncio.gather(*(bot.say(f"m{i}", "抢券", room="r1") for i in range(200)))
        won = [m for m in bot.sent if "抢到了" in m.text]
        told = [m for m in bot.sent if "已抢完" in m.text]
        assert (len(won), len(told)) == (50, 1)
        assert len({m.mentions[0].id for m in won}) == 50
        codes = await bot.rows(select(func.count(func.distinct(Coupon.code)), func.count()).select_from(Coupon))
        assert tuple(codes[0]) == (50, 50)


async def test_a_claim_outside_a_group_is_refused() -> None:
    async with TestBot.running(drop(stock=2), start=START) as bot:
        assert await bot.say("boss", "/开抢") == []  # private chat: the run fails and nothing is opened
