"""The claim burst (抢券): a staff member opens a drop of `stock` coupons in one group (`/发券`), then `members`
members of that group say 抢券 within a second, offered open loop as a connector hands them over
(`fut = await bot.offer(ev)`), with the main playbook set (check-in, moderation, keyword playbooks) loaded too.

First come, first served is the product here, so every run checks the database and fails instead of counting
when it is not exact: one recorded decision (window entry) per member, exactly `stock` winners, and they are the
first `stock` by arrival order (their coupon rows, their 抢到了 reply rows), and one 已抢完 for the first member
too late. The figure is each winner's latency from when its claim was due until its future was done: its reply
row committed in the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from bench import fullpath
from bench.report import Row, Target
from bench.sizes import Sizes
from bench.workload import ROOMS, member, playbook_texts, room
from bot import eventloop
from bot.clock import SystemClock
from bot.config import Config, StaffSection
from bot.events import MemberRef, MessageEvent
from bot.playbook.library import PlaybookSet, load_texts
from bot.store.tables import OutboxMessage
from bot.windows import WindowEntry
from handlers.coupons import Coupon

BATCH = "bench-drop"
STAFF = MemberRef("wxid_bench_staff", "店长")
CONFIG = Config(staff=StaffSection(staff=[STAFF.id]))
WON, LATE = "抢到了", "已抢完"


def drop_playbook(stock: int) -> str:
    """The shop's drop as operators write it (playbooks/weekend-coupon-drop.yaml), opened by staff with /发券."""
    return (
        f"id: {BATCH}\nname: 限量抢券\n"
        'when:\n  - schedule: {cron: "0 12 * * SAT"}\n'
        "do:\n  - say: 限量满减券开抢！在群里发送「抢券」即可领取\n"
        f"  - claim: {{batch: {BATCH}, keyword: 抢券, window: 30m}}\n"
        f"coupons:\n  - {{id: {BATCH}, title: 满100减10券, stock: {stock}, per_member: 1, code_prefix: BD}}\n"
    )


def load_playbooks(total: int, stock: int) -> PlaybookSet:
    loaded = load_texts({**playbook_texts(total), f"{BATCH}.yaml": drop_playbook(stock)})
    if loaded.problems:
        raise RuntimeError("claim playbooks do not load: " + "; ".join(map(str, loaded.problems)))
    return loaded


def claims(members: int) -> list[MessageEvent]:
    """Members of group 0 (member k * ROOMS is in it), in the order they will arrive."""
    group = room(0)
    return [
        MessageEvent(id=f"claim-{k}", at=SystemClock().now(), sender=member(k * ROOMS), text="抢券", room=group)
        for k in range(members)
    ]


async def burst(
    playbooks: PlaybookSet, template: Path, seed: int, *, members: int, stock: int, rate: float
) -> tuple[list[float], dict[str, Any]]:
    """Winners' latencies (ms) and what was checked; raises when the drop was not exact."""
    events = claims(members)
    async with fullpath.session(playbooks, template, seed, config=CONFIG) as s:
        opening = MessageEvent(id="drop-open", at=s.bot.clock.now(), sender=STAFF, text=f"/发券 {BATCH}", room=room(0))
        if await s.bot.receive(opening) is not True:
            raise RuntimeError("the drop did not open: /发券 was not handled")
        run = await fullpath.open_loop(s.bot, events, rate, s.sent)
        found = await decisions(s.bot, events)
        found["log_lines"] = fullpath.log_lines(s)
    found["unhandled"] = sum(answer is not True for answer in run.answers)
    problem = exactness(found, [ev.sender.id for ev in events], [ev.id for ev in events], stock)
    if problem:
        raise RuntimeError(problem)
    everyone = fullpath.percentile(run.latencies, 99)
    checked = {"members": members, "stock": stock, "p99_all_ms": round(everyone, 1), "max_ms": max(run.latencies)}
    checked |= {"offered_seconds": round(run.offered, 3), "drained_seconds": round(run.drained, 3)}
    checked |= {"log_lines": found["log_lines"]}
    return run.latencies[:stock], checked


async def decisions(bot: Any, events: list[MessageEvent]) -> dict[str, Any]:
    """What the database recorded of the drop: each member's decision, the coupons, the claims' reply rows."""
    entries, coupons, outbox = WindowEntry.__table__, Coupon.__table__, OutboxMessage.__table__
    ids = [ev.id for ev in events]
    async with bot.store.unit() as conn:
        decided = (await conn.execute(select(entries.c.member_id, entries.c.outcome))).all()
        owners = (await conn.execute(select(coupons.c.member_id).where(coupons.c.batch_id == BATCH))).scalars().all()
        replies = (await conn.execute(select(outbox.c.event_id, outbox.c.text).where(outbox.c.event_id.in_(ids)))).all()
    return {
        "decided": [(m, o) for m, o in decided],
        "coupon_members": list(owners),
        "replies": [(e, t) for e, t in replies],
    }


def exactness(found: dict[str, Any], senders: list[str], ids: list[str], stock: int) -> str | None:
    """Why the drop was not first come, first served, exactly; None when it was."""
    decided = dict(found["decided"])
    if found["unhandled"]:
        return f"{found['unhandled']} claim(s) not handled"
    if len(found["decided"]) != len(senders) or set(decided) != set(senders):
        return f"not one recorded decision per member: {len(found['decided'])} for {len(senders)} members"
    winners = {m for m, outcome in decided.items() if outcome == "won"}
    first = set(senders[:stock])
    if winners != first:
        return f"{len(winners)} winner(s), {len(winners - first)} of them not among the first {stock} to arrive"
    if sorted(found["coupon_members"]) != sorted(first):
        return f"coupons went to others than the first {stock}: {len(found['coupon_members'])} issued"
    won = sorted(e for e, text in found["replies"] if text.startswith(WON))
    if won != sorted(ids[:stock]):
        return f"{len(won)} 抢到了 reply row(s), not one for each of the first {stock} claims"
    late = [e for e, text in found["replies"] if LATE in text]
    if len(senders) > stock and late != [ids[stock]]:
        return f"已抢完 told to {late[:3]}, not once to the first member too late ({ids[stock]})"
    return None


class Collecting(Protocol):
    """What the group needs of bench/runner.py's Collector."""

    sizes: Sizes
    runs: int
    seed: int

    def row(self, key: str, label: str, unit: str, **fields: Any) -> Row: ...
    def say(self, text: str) -> None: ...
    def attempt(self, row: Row, what: Callable[[], float]) -> None: ...


def group(c: Collecting, folder: Path) -> None:
    """The bench group `claim`."""
    s = c.sizes
    main = s.playbook_counts[1]
    template = asyncio.run(fullpath.make_template(folder, s.path_members, c.seed))
    playbooks = load_playbooks(main, s.claim_stock)
    what = f"{s.claim_members:,} members say 抢券 in one group at {s.claim_rate:,.0f}/s, stock {s.claim_stock}"
    label = f"claim burst ({what}): p99 event → winner's reply committed"
    row = c.row("claim_p99", label, "ms", target=Target("<=", 100), higher_is_better=False)
    for run in range(c.runs):
        c.say(f"claim: {what}, run {run + 1}/{c.runs}")

        def one(run: int = run) -> float:
            latencies, checked = eventloop.run(  # the loop `qunguan run` serves on
                burst(
                    playbooks, template, c.seed + run, members=s.claim_members, stock=s.claim_stock, rate=s.claim_rate
                )
            )
            row.detail.setdefault("runs", []).append(checked)
            return fullpath.percentile(latencies, 99)

        c.attempt(row, one)
