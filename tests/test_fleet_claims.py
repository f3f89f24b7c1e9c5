"""Work two processes of a fleet share on one database: coupon stock and per-member limits hold when members claim
through different accounts at once, and a quiz or coupon drop (抢券) closes and is announced once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import func, select

from bot.clock import VirtualClock
from bot.config import load_config
from bot.events import Outgoing
from bot.fleet.accounts import run_as
from bot.fleet.tables import SpeakerLease
from bot.store.tables import OutboxMessage
from bot.testing import TestBot
from bot.windows import OpenWindow, Windows
from handlers.coupons import Coupon, CouponStock

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 12, 0, tzinfo=TZ)
FLEET = "staff: {owner: [boss], admin: [mgr]}\naccounts:\n  shop-a: {}\n  shop-b: {}\n"


def shop(stock: int, per_member: int = 1) -> dict[str, str]:
    return {
        "playbooks/drop.yaml": dedent("""
            id: drop
            when:
              - command: 开抢
            do:
              - say: 开抢！
              - claim: {batch: lucky, keyword: 抢券, window: 30m}
        """),
        "playbooks/gift.yaml": dedent(f"""
            id: gift
            when:
              - message: {{text: 领券}}
            do:
              - coupon: {{batch: lucky}}
              - choose:
                  - if: [{{expr: "coupon.none"}}]
                    do: [{{reply: "{{{{ coupon.title }}}}{{{{ coupon.none }}}}"}}]
                  - else:
                      - reply: "{{{{ coupon.title }}}} {{{{ coupon.code }}}}"
            coupons:
              - {{id: lucky, title: 幸运券, stock: {stock}, per_member: {per_member}}}
        """),
    }


@pytest.fixture
async def fleet(tmp_path: Path, backend: Backend) -> AsyncIterator[list[TestBot]]:
    """A factory's output: two processes (shop-a, shop-b) on one database and one clock, made by `pair`."""
    bots: list[TestBot] = []
    yield bots
    for bot in bots:
        await bot.close()


async def pair(tmp_path: Path, backend: Backend, bots: list[TestBot], *, stock: int, per_member: int = 1) -> None:
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")
    config = load_config(str(tmp_path / "config.yaml"))[0]
    clock = VirtualClock(START)
    for account in ("shop-a", "shop-b"):
        cfg = run_as(config, account)
        bots.append(await TestBot.create(shop(stock, per_member), config=cfg, database=backend.database, clock=clock))


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def coupons(bot: TestBot) -> tuple[int, int]:
    """(coupons issued, the stock row's count)."""
    issued = (await bot.rows(select(func.count()).select_from(Coupon)))[0][0]
    stock = (await bot.rows(select(CouponStock.issued)))[0][0]
    return issued, stock


async def test_claims_through_two_accounts_at_once_get_exactly_the_stock(
    tmp_path: Path, backend: Backend, fleet: list[TestBot]
) -> None:
    await pair(tmp_path, backend, fleet, stock=30)
    a, b = fleet
    await a.say("boss", "/开抢", room="r1")
    await b.say("boss", "/开抢", room="r2")
    claims = [bot.say(f"m{i}", "抢券", room=room) for i in range(40) for bot, room in ((a, "r1"), (b, "r2"))]
    await asyncio.gather(*claims)
    won = [m for m in [*a.sent, *b.sent] if "抢到了" in m.text]
    assert len(won) == 30
    assert await coupons(a) == (30, 30)


async def test_coupon_actions_through_two_accounts_at_once_never_pass_the_stock(
    tmp_path: Path, backend: Backend, fleet: list[TestBot]
) -> None:
    await pair(tmp_path, backend, fleet, stock=7)
    a, b = fleet
    claims = (bot.say(f"m{i}", "领券", room=f"{side}-{i}") for i in range(20) for side, bot in (("a", a), ("b", b)))
    await asyncio.gather(*claims)
    answers = texts([*a.sent, *b.sent])  # what each `say` returns overlaps while they run at once
    assert sum(text.startswith("幸运券 ") for text in answers) == 7
    assert answers.count("幸运券已抢完") + answers.count("幸运券已领过") == 33
    assert await coupons(a) == (7, 7)


async def test_a_member_claiming_in_groups_of_two_accounts_at_once_gets_one_coupon_and_two_answers(
    tmp_path: Path, backend: Backend, fleet: list[TestBot]
) -> None:
    """The member who tries both groups at the same moment: the limit holds, and each group hears why."""
    await pair(tmp_path, backend, fleet, stock=10)
    a, b = fleet
    for round_ in range(3):
        before = len(a.sent), len(b.sent)
        await asyncio.gather(a.say(f"x{round_}", "领券", room="r1"), b.say(f"x{round_}", "领券", room="r2"))
        answers = sorted(texts([*a.sent[before[0] :], *b.sent[before[1] :]]))
        assert len(answers) == 2 and answers[1] == "幸运券已领过", answers
        assert answers[0].startswith("幸运券 ")
    assert await coupons(a) == (3, 3)


async def test_a_drop_closes_once_and_a_process_that_did_not_open_it_learns_of_it_on_a_heartbeat(
    tmp_path: Path, backend: Backend, fleet: list[TestBot]
) -> None:
    await pair(tmp_path, backend, fleet, stock=5)
    a, b = fleet
    await a.say("boss", "/开抢", room="r1")
    await a.say("u1", "抢券", room="r1")
    assert b.engine.windows.in_room("r1") == []
    assert b.bot.fleet is not None
    await b.bot.fleet.beat()
    await b.bot.fleet.beat()  # again: loading what is open is idempotent
    assert [w.kind for w in b.engine.windows.in_room("r1")] == ["claim"]
    until = START + timedelta(minutes=31)
    sent = [*await a.advance_to(until), *await b.advance_to(until)]
    assert texts(sent) == ["本轮抢券结束，共 1 位小伙伴抢到幸运券，下次再来～"]
    await b.bot.fleet.beat()
    assert b.engine.windows.in_room("r1") == []


async def test_a_drop_opened_by_a_process_that_died_is_announced_by_another(
    tmp_path: Path, backend: Backend, fleet: list[TestBot]
) -> None:
    await pair(tmp_path, backend, fleet, stock=5)
    a, b = fleet
    await a.say("boss", "/开抢", room="r1")
    await b.say("u9", "早", room="r1")  # shop-b is in r1 too (a speaks for it): it can announce there
    await a.crash()
    fleet.remove(a)
    assert b.bot.fleet is not None
    await b.bot.fleet.beat()
    sent = await b.advance_to(START + timedelta(minutes=31))
    assert texts(sent) == ["本轮抢券结束，这次没有人领幸运券，下次记得来抢哦～"]


async def test_a_window_opened_or_closed_here_while_the_open_ones_are_read_stays_so() -> None:
    """A heartbeat's load and this process's own /开抢 and close may interleave: the database's answer was read
    before they committed, and must neither lose the new window nor bring back the closed one."""
    windows = Windows()
    span = START + timedelta(minutes=30)
    old = OpenWindow(1, "claim", "r1", "drop", START, span, {})
    new = OpenWindow(2, "claim", "r2", "drop", START, span, {})
    windows.add(old)
    still_open = SimpleNamespace(
        id=1, kind="claim", room_id="r1", playbook_id="drop", opened_at=START, closes_at=span, data="{}"
    )

    class Reading:  # the rows as read (window 1 still open), answered after window 2 opened and window 1 closed
        async def execute(self, statement: object) -> Reading:
            windows.add(new)
            windows.remove(old.id)
            return self

        def all(self) -> list[object]:
            return [still_open]

        def __iter__(self) -> Iterator[object]:
            return iter(self.all())

    await windows.load(Reading())  # type: ignore[arg-type]
    assert (windows.in_room("r1"), windows.in_room("r2")) == ([], [new])


async def test_a_broadcast_confirmed_on_two_accounts_at_once_is_queued_once_for_every_group(
    tmp_path: Path, backend: Backend, fleet: list[TestBot]
) -> None:
    await pair(tmp_path, backend, fleet, stock=5)
    a, b = fleet
    await a.say("u1", "早", room="r1")  # shop-a's group: it takes the lease
    await b.say("u2", "早", room="r2")  # shop-b's group
    speakers = await a.rows(select(SpeakerLease.room_id, SpeakerLease.account).order_by(SpeakerLease.room_id))
    assert [tuple(row) for row in speakers] == [("r1", "shop-a"), ("r2", "shop-b")]
    preview = texts(await a.say("mgr", "/群发 周末会员日，全场九折"))
    assert preview[0].startswith("群发预览：2 个群")
    before = len(a.sent), len(b.sent)
    await asyncio.gather(a.say("mgr", "/确认"), b.say("mgr", "/确认"))  # the staff member taps it on both phones
    sent = [*a.sent[before[0] :], *b.sent[before[1] :]]
    answers = sorted(m.text for m in sent if m.room is None)
    assert len(answers) == 2 and answers[1].startswith(("这条群发已经确认过了", "没有等你确认")), answers
    assert answers[0].startswith("已确认，开始群发到 2 个群")
    assert sorted((m.room.id, m.text) for m in sent if m.room is not None) == [
        ("r1", "周末会员日，全场九折"),
        ("r2", "周末会员日，全场九折"),
    ]
    table = OutboxMessage.__table__
    rows = await a.rows(select(table.c.room_id, table.c.account).where(table.c.kind == "broadcast"))
    assert sorted(tuple(row) for row in rows) == [("r1", "shop-a"), ("r2", "shop-b")]  # each group's speaker
    assert [m.room.id for m in b.sent if m.room and m.text == "周末会员日，全场九折"] == ["r2"]
