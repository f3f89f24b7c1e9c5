"""Each outbox row says which account of a fleet sends it, and each account's process sends only its own rows:
a group's row from its speaker (else an account in the group), and two senders never take one row."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from backends import Backend
from fleet_pair import pair, present, say, speaks
from sqlalchemy import insert, select

from bot.events import MemberRef, Outgoing, RoomRef
from bot.outbox.routing import assign
from bot.outbox.rows import TABLE, entry

pytestmark = pytest.mark.usefixtures("backend")

HELLO = {
    "playbooks/hello.yaml": """
id: hello
when:
  - message: {text: 你好}
do:
  - reply: 你好 {{ member.name }}
"""
}


async def test_a_group_s_reply_goes_from_its_speaker_and_each_account_sends_only_its_own_rows(
    backend: Backend,
) -> None:
    async with pair(backend.database, HELLO) as (a, b):
        await present(a, "r1", "shop-a", "shop-b")
        await speaks(a, "r1", "shop-b")
        assert [(m.text, m.room) for m in await say((a, b), "u1", "你好")] == [("你好 u1", RoomRef("r1", "r1"))]
        await a.outbox.flush()
        assert a.sent == []  # shop-a holds the event: not its group to answer
        rows = await a.rows(select(TABLE.c.account, TABLE.c.state))
        assert [tuple(r) for r in rows] == [("shop-b", "sent")]


def _row(key: str, room: str | None = None, member: str | None = None) -> dict[str, Any]:
    outgoing = Outgoing(
        "通知", room=RoomRef(room, room) if room else None, member=MemberRef(member, member) if member else None
    )
    at = datetime(2026, 11, 23, 1, tzinfo=UTC)
    return entry(
        outgoing, key=key, kind="broadcast", event_id=key, playbook_id="news", reply_to=None, now=at, not_before=at
    )


async def test_without_a_speaker_a_group_hears_from_an_account_in_it(backend: Backend) -> None:
    """Rows to other groups than the event's (a /群发, `say: {room:}`): who is in the group sends."""
    async with pair(backend.database, HELLO) as (a, _b):
        await present(a, "r2", "shop-b")  # only shop-b is in r2 (as far as the fleet knows)
        await present(a, "r3", "shop-a", "shop-b")
        rows = [_row("k2", "r2"), _row("k3", "r3"), _row("k4", "r4")]  # nobody recorded in r4: this account
        async with a.bot.store.unit() as conn:
            await assign(conn, a.bot.config, rows, a.clock.now())
        assert [row["account"] for row in rows] == ["shop-b", "shop-a", "shop-a"]


async def test_rows_found_sending_at_start_become_unknown_only_for_the_account_starting(backend: Backend) -> None:
    async with pair(backend.database, HELLO) as (a, _b):
        async with a.bot.store.unit() as conn:
            for account in ("shop-a", "shop-b"):
                row = entry(
                    Outgoing(f"to {account}", room=RoomRef("r1", "r1")),
                    key=f"crash/{account}",
                    kind="reply",
                    event_id="crash",
                    playbook_id="hello",
                    reply_to=None,
                    now=a.clock.now(),
                    not_before=a.clock.now(),
                )
                await conn.execute(insert(TABLE).values({**row, "account": account, "state": "sending"}))
        await a.outbox.open()  # what a restart of shop-a does
        states = await a.rows(select(TABLE.c.account, TABLE.c.state).order_by(TABLE.c.account))
        assert [tuple(r) for r in states] == [("shop-a", "unknown"), ("shop-b", "sending")]


async def test_two_senders_of_one_account_send_each_of_200_rows_exactly_once(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async with pair(backend.database, HELLO, names=("shop-a", "shop-a")) as (one, two):
        now = one.clock.now()
        rows = [
            {
                **entry(
                    Outgoing(f"消息 {i}", room=RoomRef(f"r{i % 7}", "群")),
                    key=f"load/{i}",
                    kind="broadcast",
                    event_id=f"load-{i}",
                    playbook_id="news",
                    reply_to=None,
                    now=now,
                    not_before=now,
                ),
                "account": "shop-a",
            }
            for i in range(200)
        ]
        async with one.bot.store.unit() as conn:
            await conn.execute(insert(TABLE), rows)
        with caplog.at_level(logging.INFO, logger="qunguan.outbox"):
            await asyncio.gather(one.outbox.flush(), two.outbox.flush())
        sent = [m.text for m in one.sent + two.sent]
        assert sorted(sent) == sorted(f"消息 {i}" for i in range(200))  # every row once, none twice
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no claim lost to a race
        if backend.name == "postgresql":
            assert one.sent and two.sent  # the work was shared, each row locked by one of them
        states = await one.rows(select(TABLE.c.state).distinct())
        assert [r.state for r in states] == ["sent"]


async def test_a_row_another_account_queued_is_sent_within_a_heartbeat(backend: Backend) -> None:
    async with pair(backend.database, HELLO) as (a, b):
        async with a.bot.store.unit() as conn:  # queued for shop-b by shop-a's process: nothing tells shop-b
            await conn.execute(insert(TABLE).values({**_row("k1", "r1"), "account": "shop-b"}))
        await a.outbox.flush()
        assert (a.sent, b.sent) == ([], [])
        assert b.bot.fleet is not None
        await b.bot.fleet.beat()  # shop-b's heartbeat looks at its queue
        assert [m.text for m in b.sent] == ["通知"]
