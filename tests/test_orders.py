"""Orders from the till: `/核销 CODE 88` records the amount with the redemption, for the coupon's member, only when
the redemption succeeds; an amount above the cap, negative, zero or malformed redeems nothing and records nothing."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import func, select

from bot.config import Config, StaffSection
from bot.store import Store, dialect
from bot.testing import TestBot
from handlers.orders import MemberOrders, Order, OrdersSection, record_order

pytestmark = pytest.mark.usefixtures("backend")

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
GIFT = dedent("""
    id: gift
    when:
      - message: {text: 领券}
    do:
      - coupon: {batch: gift}
      - reply: "{{ coupon.code }}"
    coupons:
      - {id: gift, title: 到店礼, stock: 100, per_member: 10, code_prefix: WK}
""")
CONFIG = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]))
CODE = re.compile(r"WK[0-9A-Z]{8}")


async def code_for(bot: TestBot, member: str) -> str:
    (reply,) = await bot.say(member, "领券", room="r1")
    found = CODE.search(reply.text)
    assert found is not None, reply.text
    return found[0]


async def till(bot: TestBot, member: str) -> tuple[int, float, int]:
    """orders, spent, usable coupons of a member."""
    return (await bot.field(member, "orders"), await bot.field(member, "spent"), await bot.field(member, "coupons"))


@pytest.mark.parametrize(
    ("amount", "spent"),
    [("88", 88.0), ("88.5", 88.5), ("88.50", 88.5), ("¥88", 88.0), ("￥88", 88.0), ("88元", 88.0), ("８８", 88.0)],
)
async def test_redeem_with_an_amount_records_an_order_for_the_coupons_member(amount: str, spent: float) -> None:
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        bot.member("u1", "小王")
        code = await code_for(bot, "u1")
        (done,) = await bot.say("clerk", f"/核销 {code} {amount}")
        assert done.text == f"核销成功：到店礼（{code}），顾客 小王，消费 ¥{spent:.2f} 已记入订单"
        assert await till(bot, "u1") == (1, spent, 0)
        assert await till(bot, "clerk") == (0, 0.0, 0)
        rows = await bot.rows(select(Order.__table__))
        assert [(r.member_id, r.amount_cents, r.coupon_code, r.staff_id) for r in rows] == [
            ("u1", round(spent * 100), code, "clerk")
        ]


@pytest.mark.parametrize(
    ("amount", "answer"),
    [
        ("1e9", "看不懂金额「1e9」"),
        ("88.888", "金额最多两位小数"),
        ("-5", "消费金额要大于 0"),
        ("0", "消费金额要大于 0"),
        ("0.00", "消费金额要大于 0"),
        ("1,000", "看不懂金额「1,000」"),
        ("5000.01", "超过单笔上限 ¥5000.00"),
        ("999999999999", "超过单笔上限 ¥5000.00"),
    ],
)
async def test_a_bad_amount_redeems_nothing_and_records_nothing(amount: str, answer: str) -> None:
    """The staff member retries with the right amount: the coupon is still there to redeem."""
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        code = await code_for(bot, "u1")
        (refused,) = await bot.say("clerk", f"/核销 {code} {amount}")
        assert answer in refused.text
        assert "没有核销" in refused.text
        assert await till(bot, "u1") == (0, 0.0, 1)
        (done,) = await bot.say("clerk", f"/核销 {code} 5000")
        assert done.text.startswith("核销成功") and done.text.endswith("消费 ¥5000.00 已记入订单")
        assert await till(bot, "u1") == (1, 5000.0, 0)


async def test_the_cap_comes_from_config() -> None:
    config = Config.model_validate({**CONFIG.model_dump(), "orders": {"max_amount": 200}})
    assert config.section(OrdersSection).max_amount == 200
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=config, start=START) as bot:
        code = await code_for(bot, "u1")
        (refused,) = await bot.say("clerk", f"/核销 {code} 200.01")
        assert refused.text == (
            f"金额 ¥200.01 超过单笔上限 ¥200.00，请核对金额。这次没有核销：请改正后重新发送 /核销 {code} 金额"
        )
        (done,) = await bot.say("clerk", f"/核销 {code} 200")
        assert done.text.startswith("核销成功")


async def test_a_second_redemption_of_the_same_code_records_nothing() -> None:
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        code = await code_for(bot, "u1")
        await bot.say("clerk", f"/核销 {code} 88")
        (again,) = await bot.say("boss", f"/核销 {code} 88")
        assert again.text.startswith("这张券已经核销过了")
        assert await till(bot, "u1") == (1, 88.0, 0)


async def test_without_an_amount_redeem_works_as_before_and_records_no_order() -> None:
    """Also a code typed in pieces (read aloud at the till): a last piece of digits is part of the code."""
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        bot.member("u1", "小王")
        code = await code_for(bot, "u1")
        (done,) = await bot.say("clerk", f"/核销 {code}")
        assert done.text == f"核销成功：到店礼（{code}），顾客 小王"
        other = await code_for(bot, "u1")
        (split,) = await bot.say("clerk", f"/核销 {other[:6]} {other[6:]}")
        assert split.text == f"核销成功：到店礼（{other}），顾客 小王"
        assert await till(bot, "u1") == (0, 0.0, 0)
        assert await bot.field("u1", "last_order_days") is None


async def test_an_unknown_code_with_an_amount_records_nothing() -> None:
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        (unknown,) = await bot.say("clerk", "/核销 NOPE2345 88")
        assert unknown.text == "没有找到券码 NOPE2345，请核对后再试"
        assert await bot.rows(select(func.count()).select_from(Order.__table__)) == [(0,)]


async def test_a_customer_cannot_redeem_nor_record_an_order() -> None:
    """Even one who renamed themselves 店长: staff are known by WeChat id."""
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        code = await code_for(bot, "u1")
        bot.member("u2", "店长")
        for member in ("u1", "u2"):
            (refused,) = await bot.say(member, f"/核销 {code} 4999", room="r1")
            assert refused.text.startswith("核销券码需要店员身份")
        assert await till(bot, "u1") == (0, 0.0, 1)


async def test_last_order_days_counts_whole_days_since_the_last_order() -> None:
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        first, second = await code_for(bot, "u1"), await code_for(bot, "u1")
        await bot.say("clerk", f"/核销 {first} 100")
        await bot.advance(timedelta(days=5))
        await bot.say("clerk", f"/核销 {second} 20.5")
        await bot.advance(timedelta(days=2, hours=23))
        assert await till(bot, "u1") == (2, 120.5, 0)
        assert await bot.field("u1", "last_order_days") == 2


async def test_the_member_summary_is_the_sum_of_the_orders() -> None:
    """The per-member summary RFM reads is written with each order: it never drifts from the orders."""
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        for member, cents in (("u1", 1000), ("u2", 250), ("u1", 99), ("u1", 1)):
            async with bot.bot.store.unit() as conn:
                await record_order(conn, member, cents, at=bot.clock.now(), staff_id="clerk")
            await bot.advance(timedelta(hours=1))
        orders, summary = Order.__table__, MemberOrders.__table__
        totals = await bot.rows(
            select(orders.c.member_id, func.count(), func.sum(orders.c.amount_cents), func.max(orders.c.at))
            .group_by(orders.c.member_id)
            .order_by(orders.c.member_id)
        )
        kept = await bot.rows(
            select(summary.c.member_id, summary.c.orders, summary.c.spent_cents, summary.c.last_order_at).order_by(
                summary.c.member_id
            )
        )
        assert [tuple(r) for r in kept] == [tuple(r) for r in totals]
        assert [tuple(r)[:3] for r in kept] == [("u1", 3, 1100), ("u2", 1, 250)]


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("{orders: '>=2'}", ["a"]),
        ("{orders: 0}", ["a", "b", "none"]),
        ("{orders: '==0'}", ["none"]),
        ("{orders: '<2'}", ["b", "none"]),
        ("{spent: '>=100'}", ["a"]),
        ("{spent: '<100'}", ["b", "none"]),
        ("{last_order_days: '<=3'}", ["b"]),
        ("{last_order_days: '>=10'}", ["a"]),
        ("{last_order_days: '>=0', spent: '<50'}", ["b"]),
    ],
)
async def test_segments_on_orders_spent_and_last_order_days(segment: str, expected: list[str]) -> None:
    """A member who never ordered has 0 orders and spent 0, and no `last_order_days` at all."""
    source = dedent(f"""
        id: fan
        when:
          - schedule: {{cron: "0 20 * * *"}}
        do:
          - for_each:
              segment: {segment}
              do:
                - dm: hi
    """)
    async with TestBot.running({"playbooks/fan.yaml": source}, config=CONFIG, start=START) as bot:
        for member in ("a", "b", "none"):
            await bot.seed(member, rooms=["r1"])
        async with bot.bot.store.unit() as conn:
            await record_order(conn, "a", 9000, at=bot.clock.now(), staff_id="clerk")
            await record_order(conn, "a", 1000, at=bot.clock.now(), staff_id="clerk")
        await bot.advance(timedelta(days=10))
        async with bot.bot.store.unit() as conn:
            await record_order(conn, "b", 4999, at=bot.clock.now() - timedelta(days=3), staff_id="clerk")
        sent = await bot.advance(timedelta(hours=12))
        assert sorted(m.target_id for m in sent) == expected


async def test_staff_record_an_order_without_a_coupon_only_when_it_is_small() -> None:
    """A walk-in without a coupon: no code proves the sale, so `orders.max_without_coupon` (default 500) caps it."""
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, config=CONFIG, start=START) as bot:
        bot.member("u1", "小王")
        await bot.seed("u1", rooms=["r1"])
        (done,) = await bot.say("clerk", "/记单 @小王 88.5", room="r1", mentions=("u1",))
        assert done.text == "已为 小王 记入订单 ¥88.50（无券），累计 1 单 ¥88.50"
        (big,) = await bot.say("clerk", "/记单 u1 500.01")
        assert big.text.startswith("金额 ¥500.01 超过无券订单上限 ¥500.00")
        (bad,) = await bot.say("clerk", "/记单 u1 -5")
        assert bad.text.startswith("消费金额要大于 0")
        (usage,) = await bot.say("clerk", "/记单 u1")
        assert usage.text == "请写出消费金额\n用法：/记单 @顾客 金额（没有券的订单，例如 /记单 @小王 88）"
        (refused,) = await bot.say("u1", "/记单 u1 88", room="r1")
        assert "店员" in refused.text
        assert await till(bot, "u1") == (1, 88.5, 0)


async def test_40_concurrent_orders_keep_the_summary_exact(backend: Backend) -> None:
    """Two tills at once: the summary's increments are atomic in SQL, never a read-then-write that loses one."""
    store = await Store.open(backend.database)
    now = START.astimezone(UTC)

    async def order(i: int) -> None:
        async with store.unit() as conn:
            await record_order(conn, f"u{i % 2}", 100 + i, at=now + timedelta(minutes=i), staff_id="clerk")

    try:
        await asyncio.gather(*(order(i) for i in range(40)))
        async with store.unit() as conn:
            summary = MemberOrders.__table__.c
            kept = (await conn.execute(select(summary.member_id, summary.orders, summary.spent_cents))).all()
            last = (await conn.execute(select(summary.last_order_at).where(summary.member_id == "u1"))).scalar_one()
    finally:
        await store.close()
    assert sorted(tuple(r) for r in kept) == [
        ("u0", 20, sum(100 + i for i in range(0, 40, 2))),
        ("u1", 20, sum(100 + i for i in range(1, 40, 2))),
    ]
    assert dialect.aware(last) == now + timedelta(minutes=39)
