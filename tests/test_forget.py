"""Personal data: old message texts are blanked by housekeeping, and `qunguan forget WXID` erases a member
while points, orders and audit stay, under a pseudonym (issue 15, point 10)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select
from sqlmodel import SQLModel
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, load_config
from bot.forget import pseudonym
from bot.privacy import PrivacySection
from bot.registry import load_abilities
from bot.store import Store
from bot.store.housekeeping import prune
from tests.backends import Backend

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
HOSTILE = ("x'); DROP TABLE members; --", "../../etc/passwd", "%_*\x1b[2J")

load_abilities()


def table(name: str) -> Any:
    return SQLModel.metadata.tables[name]


async def seed(store: Store, member: str, *, at: datetime = NOW, first: bool = True) -> None:
    """A member with everything a shop keeps about them; the `first` time also staff member `boss` (who gave
    the points) and the member's opt-out."""
    async with store.unit() as conn:
        for who, name, points in ((member, "小红", 30), ("boss", "店长", 0))[: 2 if first else 1]:
            await conn.execute(insert(table("members")).values(id=who, name=name, points=points, first_seen=at))
        await conn.execute(insert(table("member_names")).values(member_id=member, name="小红", at=at))
        await conn.execute(insert(table("member_tags")).values(member_id=member, tag="VIP", at=at))
        await conn.execute(
            insert(table("profile_values")).values(member_id=member, field_id="city", value="上海", at=at)
        )
        if first:
            await conn.execute(insert(table("opt_outs")).values(member_id=member, at=at))
        for state in ("sent", "pending"):
            await conn.execute(
                insert(table("outbox")).values(
                    dedup_key=f"{member}:{state}:{first}",
                    kind="dm",
                    priority=0,
                    event_id="e1",
                    member_id=member,
                    member_name="小红",
                    text="小红，你的积分到账了",
                    state=state,
                    created_at=at,
                    not_before=at,
                )
            )
        for delta, balance in ((10, 10), (20, 30)):
            await conn.execute(
                insert(table("points_ledger")).values(
                    member_id=member, delta=delta, balance=balance, reason="签到", at=at
                )
            )
        await conn.execute(insert(table("orders")).values(member_id=member, amount_cents=9900, staff_id="boss", at=at))
        await conn.execute(
            insert(table("audit")).values(
                at=at,
                member_id="boss",
                member_name="店长",
                role="owner",
                command="加分",
                args=f"{member} 10",
                target_id=member,
                result="ok",
                answer="",
            )
        )
        await conn.execute(
            insert(table("moderation_log")).values(
                at=at,
                action="warn",
                member_id=member,
                member_name="小红",
                message_kind="text",
                message_text="加我微信 13800000000",
                reason="广告",
            )
        )


async def rows(store: Store, query: Any) -> list[Any]:
    async with store.unit() as conn:
        return list(await conn.execute(query))


async def count(store: Store, name: str, *where: Any) -> int:
    t = table(name)
    return (await rows(store, select(func.count()).select_from(t).where(*where)))[0][0]


def write_config(tmp_path: Path, database: str) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f'database: "{database}"\nstaff: {{owner: [boss]}}\n', "utf-8")
    return config


async def qunguan(config: Path, *args: str, answer: str | None = None) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, ["forget", *args, "--config", str(config)], input=answer)
    return result.exit_code, result.output


async def test_texts_older_than_the_keep_time_are_blanked_and_their_rows_kept(backend: Backend) -> None:
    store = await Store.open(backend.database)
    try:
        await seed(store, "old", at=NOW - timedelta(days=31))
        await seed_log(store, "new", at=NOW - timedelta(days=29))
        await prune(store, NOW)
        log = table("moderation_log")
        kept = await rows(store, select(log.c.member_id, log.c.message_text, log.c.reason).order_by(log.c.member_id))
        assert [tuple(r) for r in kept] == [("new", "还是广告", "广告"), ("old", None, "广告")]
        await prune(store, NOW + timedelta(days=2), timedelta(days=30))
        assert await count(store, "moderation_log", log.c.message_text.is_not(None)) == 0
        assert await count(store, "moderation_log") == 2
    finally:
        await store.close()


async def seed_log(store: Store, member: str, *, at: datetime) -> None:
    async with store.unit() as conn:
        await conn.execute(
            insert(table("moderation_log")).values(
                at=at,
                action="warn",
                member_id=member,
                member_name="",
                message_kind="text",
                message_text="还是广告",
                reason="广告",
            )
        )


def test_the_keep_time_comes_from_config_yaml(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_text("privacy: {keep_texts: 7d}\n", "utf-8")
    config, _ = load_config(str(file))
    assert config.section(PrivacySection).keep_texts == timedelta(days=7)
    assert Config().section(PrivacySection).keep_texts == timedelta(days=30)


@pytest.mark.parametrize("member", ["wxid_xiaohong", *HOSTILE])
async def test_forget_erases_the_member_and_keeps_sums_and_audit(backend: Backend, tmp_path: Path, member: str) -> None:
    store = await Store.open(backend.database)
    try:
        await seed(store, member)
        await seed(store, "someone_else", first=False)
        audits = await count(store, "audit")
        code, output = await qunguan(write_config(tmp_path, backend.database), member, "--yes")
        assert code == 0, output
        alias = pseudonym(member)
        assert "已遗忘" in output and alias in output and "member_names 1" in output and "\x1b" not in output
        for name in ("member_names", "member_tags", "profile_values"):
            assert await count(store, name, table(name).c.member_id == member) == 0, name
        for name in ("members", "points_ledger", "orders", "moderation_log", "audit"):
            t = table(name)
            who = t.c.id if name == "members" else t.c.member_id
            assert await count(store, name, who == member) == 0, name
        members, ledger = table("members"), table("points_ledger")
        assert [
            tuple(r) for r in await rows(store, select(members.c.name, members.c.points).where(members.c.id == alias))
        ] == [("", 30)]
        total = (await rows(store, select(func.sum(ledger.c.delta)).where(ledger.c.member_id == alias)))[0][0]
        assert total == 30
        log = table("moderation_log")
        said = await rows(
            store, select(log.c.member_name, log.c.message_text, log.c.reason).where(log.c.member_id == alias)
        )
        assert [tuple(r) for r in said] == [("", None, "广告")]
        audit = table("audit")
        assert await count(store, "audit") == audits + 1
        assert await count(store, "audit", audit.c.target_id == member) == 0
        assert await count(store, "audit", audit.c.args.contains(member, autoescape=True)) == 0
        written = await rows(
            store, select(audit.c.member_id, audit.c.command, audit.c.args).where(audit.c.command == "遗忘")
        )
        assert [tuple(r) for r in written] == [("cli", "遗忘", alias)]
        outbox = table("outbox")
        sent = await rows(
            store,
            select(outbox.c.state, outbox.c.member_name, outbox.c.text)
            .where(outbox.c.member_id == alias)
            .order_by(outbox.c.state),
        )
        assert [tuple(r) for r in sent] == [("pending", "", "小红，你的积分到账了"), ("sent", "", "")]
        assert await count(store, "opt_outs", table("opt_outs").c.member_id == member) == 1  # never messaged again
        assert await count(store, "member_tags", table("member_tags").c.member_id == "someone_else") == 1
        assert await count(store, "members", members.c.name == "小红") == 1  # the other member keeps their name
    finally:
        await store.close()


async def test_an_unknown_id_gets_a_clear_answer_and_exit_1(backend: Backend, tmp_path: Path) -> None:
    store = await Store.open(backend.database)
    try:
        await seed(store, "wxid_a")
        code, output = await qunguan(write_config(tmp_path, backend.database), "wxid_nobody", "--yes")
        assert code == 1 and "没有成员 wxid_nobody" in output, output
        assert await count(store, "audit") == 1
    finally:
        await store.close()


async def test_forgetting_twice_is_harmless_and_a_returning_member_is_forgotten_again(
    backend: Backend, tmp_path: Path
) -> None:
    store = await Store.open(backend.database)
    config = write_config(tmp_path, backend.database)
    try:
        await seed(store, "wxid_a")
        assert (await qunguan(config, "wxid_a", "--yes"))[0] == 0
        code, output = await qunguan(config, "wxid_a", "--yes")
        assert code == 0 and "已被遗忘过" in output, output
        assert await count(store, "audit", table("audit").c.command == "遗忘") == 1
        await seed(store, "wxid_a", first=False)  # back in a group: a new member, with new points
        code, output = await qunguan(config, "wxid_a", "--yes")
        assert code == 0, output
        members, ledger = table("members"), table("points_ledger")
        alias = pseudonym("wxid_a")
        assert [r[0] for r in await rows(store, select(members.c.points).where(members.c.id == alias))] == [60]
        total = (await rows(store, select(func.sum(ledger.c.delta)).where(ledger.c.member_id == alias)))[0][0]
        assert total == 60
        assert await count(store, "members", members.c.id == "wxid_a") == 0
    finally:
        await store.close()


async def test_forget_asks_first_and_a_no_changes_nothing(backend: Backend, tmp_path: Path) -> None:
    store = await Store.open(backend.database)
    try:
        await seed(store, "wxid_a")
        code, output = await qunguan(write_config(tmp_path, backend.database), "wxid_a", answer="n\n")
        assert code == 1 and "确定要遗忘成员 wxid_a" in output and "已取消" in output, output
        assert await count(store, "member_names") == 1
        code, output = await qunguan(write_config(tmp_path, backend.database), "wxid_a", answer="y\n")
        assert code == 0 and "已遗忘" in output, output
        assert await count(store, "member_names") == 0
    finally:
        await store.close()
