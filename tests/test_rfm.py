"""RFM: members split by recency (an order within `recent_days`) and value (`frequency` orders or `monetary`
yuan, fixed or as quantiles of the members who ordered) into 重要价值用户 / 重要发展用户 / 一般保持用户 / 潜在用户, as
one SQL query over the per-member order summary; `member.rfm`; the table in /统计."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import Config, load_config
from bot.i18n import problem_text
from bot.playbook.errors import ProblemsError
from bot.testing import TestBot
from handlers.orders import record_order
from handlers.rfm import RfmSection
from handlers.segments import Segment, SegmentScope, segment_query

pytestmark = pytest.mark.usefixtures("backend")

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
CLASSES = ("重要价值用户", "重要发展用户", "一般保持用户", "潜在用户")
DAY = timedelta(days=1)


def config(**rfm: object) -> Config:
    return Config.model_validate({"staff": {"staff": ["clerk"]}, "rfm": rfm})


async def orders(bot: TestBot, member: str, *amounts: int, ago: timedelta = timedelta(0)) -> None:
    """Orders of `amounts` cents, the last one `ago` before now (earlier ones a minute apart before it)."""
    now = bot.clock.now()
    async with bot.bot.store.unit() as conn:
        for i, cents in enumerate(amounts):
            at = now - ago - timedelta(minutes=len(amounts) - 1 - i)
            await record_order(conn, member, cents, at=at, staff_id="clerk")


async def segment(bot: TestBot, **filters: object) -> list[str]:
    """The members a `for_each` with this segment reaches now (one query, as for_each runs it)."""
    query = segment_query(
        Segment.model_validate(filters), scope=SegmentScope.at(bot.clock.now(), bot.bot.config), staff={"clerk"}
    )
    return [r.id for r in await bot.rows(query)]


async def boundary_shop(bot: TestBot) -> None:
    for member in ("vip_f", "vip_m", "dev", "old_f", "old", "none", "clerk"):
        await bot.seed(member, rooms=["r1"])
    await orders(bot, "vip_f", 100, 100, 100, ago=30 * DAY - timedelta(seconds=1))  # frequency reached, still recent
    await orders(bot, "vip_m", 50_000)  # monetary reached exactly
    await orders(bot, "dev", 49_998, 1)  # 499.99 in 2 orders: recent, not yet valuable
    await orders(bot, "old_f", 100, 100, 100, ago=30 * DAY)  # 30 whole days: no longer recent
    await orders(bot, "old", 1000, ago=31 * DAY)
    await orders(bot, "clerk", 90_000)  # staff are left out of segments and of the table


async def test_the_four_classes_at_their_boundaries() -> None:
    async with TestBot.running({}, config=config(recent_days=30, frequency=3, monetary=500), start=START) as bot:
        await boundary_shop(bot)
        assert await segment(bot, rfm="重要价值用户") == ["vip_f", "vip_m"]
        assert await segment(bot, rfm="重要发展用户") == ["dev"]
        assert await segment(bot, rfm="一般保持用户") == ["old_f"]
        assert await segment(bot, rfm="潜在用户") == ["none", "old"]
        assert await segment(bot, rfm=["重要发展用户", "潜在用户"]) == ["dev", "none", "old"]
        assert await segment(bot, rfm=list(CLASSES)) == ["dev", "none", "old", "old_f", "vip_f", "vip_m"]
        assert await segment(bot, rfm="重要价值用户", spent=">=100") == ["vip_m"]
        fields = {m: await bot.field(m, "rfm") for m in ("vip_f", "vip_m", "dev", "old_f", "old", "none")}
        assert fields == {
            "vip_f": "重要价值用户",
            "vip_m": "重要价值用户",
            "dev": "重要发展用户",
            "old_f": "一般保持用户",
            "old": "潜在用户",
            "none": "潜在用户",
        }
        assert await bot.field("vip_f", "last_order_days") == 29
        assert await bot.field("old_f", "last_order_days") == 30


async def test_the_defaults_are_30_days_3_orders_or_500_yuan() -> None:
    assert RfmSection().model_dump() == {"recent_days": 30, "frequency": 3, "monetary": 500}
    async with TestBot.running({}, config=Config(), start=START) as bot:
        await boundary_shop(bot)
        assert await segment(bot, rfm="重要价值用户") == ["vip_f", "vip_m"]


async def test_quantiles_are_taken_over_the_members_who_ordered() -> None:
    """`monetary: p80`: the top fifth of buyers by spend; members who never ordered do not pull it down."""
    async with TestBot.running({}, config=config(frequency=100, monetary="p80"), start=START) as bot:
        for i in range(10):
            await bot.seed(f"b{i}", rooms=["r1"])
            await orders(bot, f"b{i}", (i + 1) * 10_000)
        for i in range(30):
            await bot.seed(f"n{i:02}", rooms=["r1"])
        assert await segment(bot, rfm="重要价值用户") == ["b8", "b9"]
        assert await segment(bot, rfm="重要发展用户") == [f"b{i}" for i in range(8)]
        assert len(await segment(bot, rfm="潜在用户")) == 30
        (stats,) = await bot.say("clerk", "/统计 r1")
        assert "会员价值（RFM，不含店员）：重要价值 2｜重要发展 8｜一般保持 0｜潜在 30" in stats.text
        assert "RFM 标准：近 30 天内有消费；≥100 单或累计 ≥¥900.00（前 20%）" in stats.text


async def test_a_frequency_quantile_counts_ties_in() -> None:
    async with TestBot.running({}, config=config(frequency="p50", monetary=100_000), start=START) as bot:
        for member, count in (("a", 1), ("b", 1), ("c", 2), ("d", 2), ("e", 5)):
            await bot.seed(member, rooms=["r1"])
            await orders(bot, member, *[100] * count, ago=40 * DAY)
        assert await segment(bot, rfm="一般保持用户") == ["c", "d", "e"]


async def test_quantiles_in_a_shop_without_orders_put_everyone_in_potential() -> None:
    async with TestBot.running({}, config=config(frequency="p80", monetary="p80"), start=START) as bot:
        for member in ("a", "b"):
            await bot.seed(member, rooms=["r1"])
        assert await segment(bot, rfm="潜在用户") == ["a", "b"]
        assert await segment(bot, rfm=["重要价值用户", "重要发展用户", "一般保持用户"]) == []
        assert await bot.field("a", "rfm") == "潜在用户"
        (stats,) = await bot.say("clerk", "/统计 r1")
        assert "重要价值 0｜重要发展 0｜一般保持 0｜潜在 2" in stats.text
        assert "RFM 标准：近 30 天内有消费；单数前 20%（还没有订单）或累计消费前 20%（还没有订单）" in stats.text


async def test_one_query_for_the_segment() -> None:
    """The segment with quantile thresholds is one statement: the quantiles are subqueries inside it."""
    async with TestBot.running({}, config=config(frequency="p80", monetary="p90"), start=START) as bot:
        await boundary_shop(bot)
        query = segment_query(
            Segment.model_validate({"rfm": "重要价值用户"}),
            scope=SegmentScope.at(bot.clock.now(), bot.bot.config),
            staff={"clerk"},
        )
        count = select(func.count()).select_from(query.subquery())
        assert await bot.rows(count) == [(1,)]  # vip_f: 3 orders, the top fifth (clerk spent most, but is staff)


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(dedent(text), "utf-8")
    with pytest.raises(ProblemsError) as raised:
        load_config(str(path))
    return [problem_text(p, "zh-CN").removeprefix(f"{path}:") for p in raised.value.problems]


@pytest.mark.parametrize(
    ("given", "told"),
    [
        ("{monetary: p100}", "'monetary' 必须是数字（例如 500）或分位数（p1 到 p99，例如 p80）；现在是 'p100'"),
        ("{frequency: lots}", "'frequency' 必须是数字（例如 500）或分位数（p1 到 p99，例如 p80）；现在是 'lots'"),
        ("{frequency: 0}", "'frequency' 必须是数字（例如 500）或分位数（p1 到 p99，例如 p80）；现在是 '0'"),
        ("{recent_days: 0}", "'recent_days' 必须 >= 1；现在是 '0'"),
    ],
)
def test_mistakes_in_the_rfm_section_are_told_in_chinese(tmp_path: Path, given: str, told: str) -> None:
    (problem,) = problems(tmp_path, f"rfm: {given}\n")
    assert problem.split(": ", 1)[1] == told
