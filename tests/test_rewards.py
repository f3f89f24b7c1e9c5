"""积分兑换 through the engine: the points and the voucher go together or not at all, the stock is exact under a
crowd, and the member who abuses the command (too few points, twice at once, template text, a flood of text) is
answered without losing or giving anything."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import func, select

from bot.config import Config, StaffSection
from bot.events import Outgoing
from bot.playbook.library import load_texts
from bot.store import Store
from bot.testing import TestBot
from handlers.coupons import Coupon
from handlers.points import PointsEntry, add_points
from handlers.rewards import Exchange, Exchanged, Reward, exchange_points, voucher_batch

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
STAFF = Config(staff=StaffSection(staff=["clerk"]))

SHOP = """
    id: shop
    when:
      - command: 兑换
    do:
      - choose:
          - if: [{expr: "not message.args"}]
            do:
              - catalogue: {}
              - reply: "{% for r in catalogue.rewards %}{{ r.number }}.{{ r.title }}/{{ r.cost }}/{{ r.status }};{% endfor %}"
          - else:
              - exchange: {reward: "{{ message.args | join(' ') }}"}
              - choose:
                  - if: [{expr: "exchange.none"}]
                    do: [{reply: "没换成：{{ exchange.none }}"}]
                  - else:
                      - reply: "换到{{ exchange.title }}：{{ exchange.code }}，余{{ exchange.balance }}，至{{ exchange.expires }}"
    rewards:
      - {id: cup, title: 定制杯子, cost: 200, stock: STOCK, per_member: PER_MEMBER, valid_for: 30d}
      - {id: coffee, cost: 50, coupon: beans}
    coupons:
      - {id: beans, title: 咖啡券, stock: 5, per_member: 1, valid_for: 7d}
"""  # noqa: E501 (a playbook's lines as an operator writes them)


def shop(stock: int = 30, per_member: int = 1) -> dict[str, str]:
    source = SHOP.replace("STOCK", str(stock)).replace("PER_MEMBER", str(per_member))
    return {"playbooks/shop.yaml": dedent(source)}


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def give(bot: TestBot, points: int, *members: str) -> None:
    async with bot.bot.store.unit() as conn:
        for member in members:
            await add_points(conn, member, points, at=START)


async def ledger(bot: TestBot, delta: int) -> int:
    rows = await bot.rows(select(func.count()).select_from(PointsEntry).where(PointsEntry.delta == delta))
    return int(rows[0][0])


async def test_an_exchange_takes_the_points_and_gives_a_voucher_staff_redeem() -> None:
    async with TestBot.running(shop(), config=STAFF, start=START) as bot:
        await give(bot, 250, "u1")
        [answer] = texts(await bot.say("u1", "/兑换 定制杯子"))
        assert answer.startswith("换到定制杯子：") and answer.endswith("，余50，至2026-12-31 10:00")
        code = answer.split("：")[1].split("，")[0]
        assert await bot.field("u1", "points") == 50
        assert await bot.field("u1", "exchanges") == 1
        assert [c["title"] for c in await bot.field("u1", "wallet")] == ["定制杯子"]
        assert texts(await bot.say("clerk", f"/核销 {code.lower()}")) == [f"核销成功：定制杯子（{code}），顾客 u1"]
        [row] = await bot.rows(select(Exchange.member_id, Exchange.reward_id, Exchange.code, Exchange.cost))
        assert tuple(row) == ("u1", "cup", code, 200)


async def test_a_voucher_code_asked_for_in_a_group_goes_to_the_member_privately() -> None:
    async with TestBot.running(shop(), start=START) as bot:
        await give(bot, 250, "u1")
        [sent] = await bot.say("u1", "/兑换 cup", room="r1")
        assert (sent.room, sent.member) == (None, bot.member("u1"))
        assert sent.text.startswith("换到定制杯子：")


async def test_the_list_numbers_the_rewards_as_an_exchange_reads_a_number() -> None:
    async with TestBot.running(shop(stock=2), start=START) as bot:
        await give(bot, 1000, "u1", "u2")
        assert texts(await bot.say("u1", "/兑换")) == ["1.定制杯子/200/剩 2 份;2.咖啡券/50/剩 5 份;"]
        assert texts(await bot.say("u1", "/兑换 ２"))[0].startswith("换到咖啡券：")
        assert texts(await bot.say("u1", "/兑换 第1个"))[0].startswith("换到定制杯子：")
        assert texts(await bot.say("u2", "/兑换 CUP"))[0].startswith("换到定制杯子：")
        assert texts(await bot.say("u2", "/兑换")) == ["1.定制杯子/200/已兑完;2.咖啡券/50/剩 4 份;"]
        assert texts(await bot.say("u2", "/兑换 3")) == ["没换成：奖品只有 2 个，没有第 3 个"]
        assert texts(await bot.say("u2", "/兑换 0")) == ["没换成：奖品只有 2 个，没有第 0 个"]


async def test_a_member_with_199_points_is_told_how_many_are_missing_and_nothing_is_written() -> None:
    async with TestBot.running(shop(stock=1), start=START) as bot:
        await give(bot, 199, "poor")
        await give(bot, 200, "rich")
        assert texts(await bot.say("poor", "/兑换 cup")) == [
            "没换成：积分不足，「定制杯子」要 200 分，你现在有 199 分，还差 1 分"
        ]
        assert await bot.field("poor", "points") == 199
        assert await bot.rows(select(Coupon.code)) == []
        assert await ledger(bot, -200) == 0
        # The refused exchange gave its voucher back: the one cup left goes to the next member who can pay.
        assert texts(await bot.say("rich", "/兑换 cup"))[0].startswith("换到定制杯子：")
        assert texts(await bot.say("poor", "/兑换 cup")) == ["没换成：「定制杯子」已兑完"]


async def test_200_members_exchanging_at_once_take_exactly_the_stock_and_pay_exactly_once_each() -> None:
    members = [f"m{i}" for i in range(200)]
    async with TestBot.running(shop(stock=30), start=START) as bot:
        await give(bot, 200, *members)
        await asyncio.gather(*(bot.say(m, "/兑换 定制杯子") for m in members))
        won = [m for m in bot.sent if m.text.startswith("换到定制杯子")]
        told = [m for m in bot.sent if m.text == "没换成：「定制杯子」已兑完"]
        assert (len(won), len(told)) == (30, 170)
        codes = await bot.rows(select(func.count(func.distinct(Coupon.code)), func.count()).select_from(Coupon))
        assert tuple(codes[0]) == (30, 30)
        assert await ledger(bot, -200) == 30
        paid = await bot.rows(select(func.count()).select_from(Exchange))
        assert paid[0][0] == 30
        balances = [await bot.field(m, "points") for m in members]
        assert (balances.count(0), balances.count(200)) == (30, 170)
        assert {m.target_id for m in won} == {m for m, b in zip(members, balances, strict=True) if b == 0}


async def test_a_member_exchanging_twice_at_once_gets_one_voucher_and_pays_once() -> None:
    async with TestBot.running(shop(stock=30), start=START) as bot:
        await give(bot, 1000, "greedy")
        await asyncio.gather(*(bot.say("greedy", "/兑换 cup") for _ in range(10)))
        assert sorted(text.split("：")[0] for text in texts(bot.sent)) == ["换到定制杯子"] + ["没换成"] * 9
        assert {t for t in texts(bot.sent) if t.startswith("没换成")} == {
            "没换成：你已经兑换过「定制杯子」了（每人限 1 次）"
        }
        assert await bot.field("greedy", "points") == 800
        assert await ledger(bot, -200) == 1
        assert len(await bot.rows(select(Coupon.code))) == 1


async def test_one_member_s_simultaneous_exchanges_in_separate_transactions_pay_once(backend: Backend) -> None:
    """Two chats of one member (a group and the private chat) run at once: the per-member key decides, and the
    loser's savepoint gives back both its voucher and its points."""
    reward = Reward(id="cup", title="定制杯子", cost=200, stock=30)
    batch = voucher_batch(reward, {})
    assert batch is not None
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:
            await add_points(conn, "greedy", 1000, at=START)

        async def attempt() -> Exchanged | str:
            async with store.unit() as conn:
                return await exchange_points(conn, reward, batch, "greedy", now=START, tz=TZ)

        results = await asyncio.gather(*(attempt() for _ in range(10)))
        async with store.unit() as conn:
            points = (await conn.execute(select(PointsEntry.delta, PointsEntry.balance))).all()
            codes = (await conn.execute(select(Coupon.code))).all()
    finally:
        await store.close()
    assert sorted(type(r).__name__ if isinstance(r, Exchanged) else r for r in results) == ["Exchanged"] + ["limit"] * 9
    assert sorted(tuple(p) for p in points) == [(-200, 800), (1000, 1000)]
    assert len(codes) == 1


async def test_template_looking_and_huge_arguments_are_just_unknown_names() -> None:
    async with TestBot.running(shop(), start=START) as bot:
        await give(bot, 1000, "u1")
        for asked in ("{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "杯子", "！！", "9" * 5000, "杯" * 100_000):
            assert texts(await bot.say("u1", f"/兑换 {asked}")) == ["没换成：没有找到这个奖品"]
        assert not [m for m in bot.sent if "49" in m.text or "xxx" in m.text]
        assert await bot.field("u1", "points") == 1000
        assert await bot.rows(select(Coupon.code)) == []


async def test_a_coupon_reward_issues_from_its_batch_and_keeps_its_limit() -> None:
    async with TestBot.running(shop(), start=START) as bot:
        await give(bot, 1000, "u1")
        [answer] = texts(await bot.say("u1", "/兑换 coffee"))
        assert answer.startswith("换到咖啡券：") and answer.endswith("，余950，至2026-12-08 10:00")
        [row] = await bot.rows(select(Coupon.batch_id, Coupon.title))
        assert tuple(row) == ("beans", "咖啡券")
        assert texts(await bot.say("u1", "/兑换 咖啡券")) == ["没换成：你已经领过「咖啡券」了（每人限 1 张）"]
        assert await bot.field("u1", "points") == 950


async def test_a_reward_past_its_end_date_is_listed_as_ended_and_refused() -> None:
    ended = (
        SHOP.replace("STOCK", "30").replace("PER_MEMBER", "1").replace("valid_for: 30d", 'expires: "2026-11-30 23:59"')
    )
    async with TestBot.running({"playbooks/shop.yaml": dedent(ended)}, start=START) as bot:
        await give(bot, 1000, "u1")
        assert texts(await bot.say("u1", "/兑换")) == ["1.定制杯子/200/已结束;2.咖啡券/50/剩 5 份;"]
        assert texts(await bot.say("u1", "/兑换 1")) == ["没换成：「定制杯子」的兑换已结束"]
        assert await bot.field("u1", "points") == 1000


async def test_exchanges_is_a_member_field_and_a_segment_key() -> None:
    fan = dedent("""
        id: fan
        when:
          - schedule: {cron: "0 12 * * *"}
        do:
          - for_each:
              segment: {exchanges: ">=1"}
              do: [{dm: "谢谢你兑换了 {{ member.exchanges }} 次"}]
    """)
    async with TestBot.running({**shop(stock=30, per_member=2), "playbooks/fan.yaml": fan}, start=START) as bot:
        await give(bot, 1000, "u1", "u2", "u3")
        await bot.say("u1", "/兑换 cup", room="r1")
        await bot.say("u1", "/兑换 cup", room="r1")
        await bot.say("u2", "/兑换 coffee", room="r1")
        await bot.say("u3", "/兑换 nothing", room="r1")
        sent = await bot.advance(timedelta(hours=3))
        assert sorted((m.target_id, m.text) for m in sent) == [("u1", "谢谢你兑换了 2 次"), ("u2", "谢谢你兑换了 1 次")]


def problems(rewards: str, action: str = "exchange: {reward: cup}") -> list[str]:
    source = dedent(f"""
        id: shop
        when:
          - command: 兑换
        do:
          - {action}
        rewards:
        {rewards}
        coupons:
          - {{id: beans, title: 咖啡券, stock: 5}}
    """)
    return [str(p) for p in load_texts({"playbooks/shop.yaml": source}).problems]


@pytest.mark.parametrize(
    ("rewards", "expected"),
    [
        (
            "  - {id: cup, title: 杯子, cost: 0, stock: 3}",
            ["playbooks/shop.yaml:8:32: 'cost' must be >= 1; got '0'"],
        ),
        (
            "  - {id: cup, title: 杯子, cost: 10}",
            [
                "playbooks/shop.yaml:8:5: 'stock' is needed (how many there are), "
                "unless the reward is a coupon: 'coupon: BATCH'"
            ],
        ),
        (
            "  - {id: cup, cost: 10, coupon: beans, stock: 3}",
            [
                "playbooks/shop.yaml:8:5: 'stock' is set by coupon batch 'beans' for a reward that is a coupon: "
                "remove it here, or remove 'coupon' to give the reward its own stock"
            ],
        ),
        (
            "  - {id: cup, cost: 10, coupon: bean}",
            [
                "playbooks/shop.yaml:8:5: coupon batch 'bean' is not declared (did you mean 'beans'?); "
                "declare it under 'coupons:' in any playbook"
            ],
        ),
        (
            "  - {id: cup, title: 杯子, cost: 10, stock: 3, per_member: 0, prize: x}",
            [
                "playbooks/shop.yaml:8:58: 'per_member' must be >= 1; got '0'",
                "playbooks/shop.yaml:8:61: unknown key 'prize' in 'reward'; 'reward' takes id, title, cost, stock, "
                "per_member, valid_for, expires, coupon",
            ],
        ),
    ],
)
def test_reward_mistakes_are_reported_at_their_line(rewards: str, expected: list[str]) -> None:
    assert problems(rewards) == expected


def test_a_literal_reward_is_checked_at_load_and_a_template_at_run_time() -> None:
    good = "  - {id: cup, title: 杯子, cost: 10, stock: 3}"
    assert problems(good, "exchange: {reward: cpu}") == [
        "playbooks/shop.yaml:6:5: reward 'cpu' is not declared (did you mean 'cup'?); "
        "declare it under 'rewards:' in any playbook"
    ]
    assert problems(good, "exchange: \"{{ message.args | join(' ') }}\"") == []
    assert problems(good, 'exchange: {reward: "{{ message.arg }}"}') == [
        "playbooks/shop.yaml:6:24: unknown template variable 'message.arg' (did you mean 'message.args'?)"
    ]
