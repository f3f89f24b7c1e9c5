"""Coupons: declared batches, unguessable codes, stock and per-member limits, redemption exactly once."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import func, select

from bot.playbook.library import load_texts
from bot.store import Store
from bot.testing import TestBot
from handlers.coupons import ALPHABET, Coupon, CouponBatch, Issued, issue, normalize_code, redeem

pytestmark = pytest.mark.usefixtures("backend")

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TZ = UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")

GIFT = dedent("""
    id: gift
    when:
      - message: {text: 领券}
    do:
      - coupon: {batch: weekend-10off}
      - choose:
          - if: [{expr: "coupon.none"}]
            do: [{reply: "{{ coupon.title }}{{ coupon.none }}"}]
          - else:
              - reply: "{{ coupon.title }} {{ coupon.code }}，{{ coupon.expires }} 前有效，共 {{ member.coupons }} 张"
    coupons:
      - id: weekend-10off
        title: 周末满100减10
        stock: 3
        per_member: 2
        valid_for: 7d
        code_prefix: WK
""")


def batch(**overrides: object) -> CouponBatch:
    return CouponBatch.model_validate({"id": "b", "title": "券", "stock": 50, **overrides})


async def test_coupon_action_issues_codes_until_the_member_limit_then_the_stock_runs_out() -> None:
    start = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    async with TestBot.running({"playbooks/gift.yaml": GIFT}, start=start) as bot:
        first = (await bot.say("u1", "领券", room="r1"))[0].text
        assert re.fullmatch(r"周末满100减10 WK[2-9A-HJKMNP-Z]{8}，2026-11-30 10:00 前有效，共 1 张", first), first
        assert "共 2 张" in (await bot.say("u1", "领券", room="r1"))[0].text
        assert [m.text for m in await bot.say("u1", "领券", room="r1")] == ["周末满100减10已领过"]
        assert "共 1 张" in (await bot.say("u2", "领券", room="r1"))[0].text
        assert [m.text for m in await bot.say("u3", "领券", room="r1")] == ["周末满100减10已抢完"]
        assert await bot.field("u1", "coupons") == 2


def test_a_batch_named_by_no_playbook_is_a_load_error_with_a_hint() -> None:
    source = GIFT.replace("batch: weekend-10off}", "batch: weekend-10of}")
    problems = [str(p) for p in load_texts({"playbooks/gift.yaml": source}).problems]
    assert problems == [
        "playbooks/gift.yaml:6:5: coupon batch 'weekend-10of' is not declared (did you mean 'weekend-10off'?); "
        "declare it under 'coupons:' in any playbook"
    ]


def test_batches_are_shared_across_playbooks_and_declared_once() -> None:
    other = dedent("""
        id: other
        when:
          - message: {text: 也领券}
        do:
          - coupon: weekend-10off
        coupons:
          - {id: weekend-10off, title: 重复, stock: 1}
    """)
    result = load_texts({"playbooks/a.yaml": GIFT, "playbooks/b.yaml": other})
    assert [str(p) for p in result.problems] == [
        "playbooks/b.yaml:8:5: duplicate coupon batch 'weekend-10off' (also in playbooks/a.yaml:13:5)"
    ]
    shared = load_texts({"playbooks/a.yaml": GIFT, "playbooks/b.yaml": other.split("coupons:")[0]})
    assert not shared.problems and len(shared.playbooks) == 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{id: x, title: t}", "13:5: 'coupon batch' needs 'stock'"),
        ("{id: x, title: t, stock: 0}", "13:30: 'stock' must be >= 1; got '0'"),
        (
            "{id: x, title: t, stock: 5, valid_for: 7d, expires: '2026-12-01 00:00'}",
            "13:5: 'valid_for' and 'expires' are both given: keep one",
        ),
        (
            "{id: x, title: t, stock: 5, code_prefix: wk}",
            "13:46: 'code_prefix' must be up to 6 capital letters or digits, like WK; got 'wk'",
        ),
    ],
)
def test_bad_batches_are_reported_at_their_line(entry: str, message: str) -> None:
    source = GIFT.split("coupons:")[0].replace("weekend-10off", "x") + f"coupons:\n  - {entry}\n"
    problems = [str(p) for p in load_texts({"playbooks/gift.yaml": source}).problems]
    assert len(problems) == 1 and problems[0].startswith(f"playbooks/gift.yaml:{message}"), problems


def test_codes_use_no_ambiguous_characters() -> None:
    assert not set("0O1IL") & set(ALPHABET)
    assert normalize_code(" wk-abcd 2345 ") == "WKABCD2345"


async def test_500_concurrent_claims_on_a_stock_of_50_give_exactly_50_distinct_codes(backend: Backend) -> None:
    store = await Store.open(backend.database)
    stock = batch(stock=50, per_member=1)

    async def claim(member: str) -> Issued | str:
        async with store.unit() as conn:
            return await issue(conn, stock, member, now=NOW, tz=TZ)

    try:
        results = await asyncio.gather(*(claim(f"u{i % 400}") for i in range(500)))
        async with store.unit() as conn:
            rows = (await conn.execute(select(Coupon.code, Coupon.member_id))).all()
            most = (
                await conn.execute(
                    select(func.count()).select_from(Coupon).group_by(Coupon.member_id).order_by(func.count().desc())
                )
            ).first()
    finally:
        await store.close()
    issued = [r for r in results if isinstance(r, Issued)]
    assert len(issued) == 50 == len(rows)
    assert len({r.code for r in rows}) == 50
    assert most is not None and most[0] == 1  # nobody above per_member, though 100 members tried twice
    assert {r for r in results if not isinstance(r, Issued)} <= {"sold_out", "limit"}


async def test_20_concurrent_redemptions_of_one_code_succeed_exactly_once(backend: Backend) -> None:
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:
            coupon = await issue(conn, batch(), "u1", now=NOW, tz=TZ)
        assert isinstance(coupon, Issued)

        async def attempt(staff: int) -> str:
            async with store.unit() as conn:
                return (await redeem(conn, coupon.code.lower(), f"staff{staff}", now=NOW)).outcome

        outcomes = await asyncio.gather(*(attempt(i) for i in range(20)))
    finally:
        await store.close()
    assert sorted(outcomes) == ["already"] * 19 + ["ok"]


async def test_redeem_explains_unknown_already_and_expired(backend: Backend) -> None:
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:
            short = await issue(conn, batch(valid_for="1d"), "u1", now=NOW, tz=TZ)
            assert isinstance(short, Issued)
            assert (await redeem(conn, "NOSUCHCODE", "boss", now=NOW)).outcome == "unknown"
            first = await redeem(conn, short.code, "boss", now=NOW + timedelta(hours=1))
            again = await redeem(conn, short.code, "clerk", now=NOW + timedelta(hours=2))
            late = await issue(conn, batch(id="late", valid_for="1d"), "u1", now=NOW, tz=TZ)
            assert isinstance(late, Issued)
            expired = await redeem(conn, late.code, "boss", now=NOW + timedelta(days=2))
    finally:
        await store.close()
    assert first.outcome == "ok"
    assert (again.outcome, again.redeemed_by) == ("already", "boss")
    assert again.redeemed_at is not None and again.redeemed_at.replace(tzinfo=UTC) == NOW + timedelta(hours=1)
    assert expired.outcome == "expired"


async def test_a_batch_past_its_end_date_issues_nothing(backend: Backend) -> None:
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:
            assert await issue(conn, batch(expires="2026-11-01 00:00"), "u1", now=NOW, tz=TZ) == "batch_expired"
    finally:
        await store.close()


async def test_staff_redeem_with_plain_answers_and_customers_get_a_till_hint() -> None:
    from bot.config import Config, StaffSection

    config = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]))
    start = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    playbooks = {"playbooks/gift.yaml": GIFT}
    async with TestBot.running(playbooks, config=config, start=start) as bot:
        bot.member("boss", "老板")
        bot.member("u1", "小王")
        code = re.search(r"WK[0-9A-Z]{8}", (await bot.say("u1", "领券", room="r1"))[0].text)[0]  # type: ignore[index]
        (done,) = await bot.say("clerk", f"/核销 {code.lower()}", room="r1")
        assert done.text == f"核销成功：周末满100减10（{code}），顾客 小王"
        assert [m.id for m in done.mentions] == ["clerk"]
        await bot.advance(timedelta(hours=1))
        (again,) = await bot.say("boss", f"/redeem {code}")
        assert (again.target_id, again.text) == (
            "boss",
            "这张券已经核销过了：2026-11-23 10:00 由 clerk 核销，不能重复使用",
        )
        late = re.search(r"WK[0-9A-Z]{8}", (await bot.say("u1", "领券", room="r1"))[0].text)[0]  # type: ignore[index]
        await bot.advance(timedelta(days=8))
        assert [m.text for m in await bot.say("boss", f"/核销 {late}")] == [
            "这张券已过期（2026-11-30 11:00 到期），不能核销"
        ]
        assert [m.text for m in await bot.say("u1", f"/核销 {late}")] == [
            "核销券码需要店员身份哦～如需使用优惠券，请到店出示券码给店员。"
        ]
