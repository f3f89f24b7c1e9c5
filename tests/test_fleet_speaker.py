"""One speaker per group: two accounts in one group get every message each; exactly one acts on it and counts
it, both keep membership current, and an account whose lease was taken while it was away acts no more."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from backends import Backend
from fleet_pair import PAST_LEASE, START, holder, pair, say
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from store_faults import REFUSE, install

from bot.events import MemberRef, MessageEvent, Outgoing, RoomRef
from bot.fleet import held, leases
from bot.fleet.tables import AccountRoom, HeldEvent
from bot.store import Store
from bot.store.tables import Member, MessageDay, Room, RoomMember

pytestmark = pytest.mark.usefixtures("backend")


Attempt = Callable[[AsyncConnection, str, str], Awaitable[bool]]


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def test_two_accounts_in_one_group_answer_each_message_once(backend: Backend) -> None:
    async with pair(backend.database) as (a, b):
        sent = await say((a, b), "u1", "问 几点开门")
        sent += await say((b, a), "u2", "问 在哪里")  # b's copy first this time: a still speaks for the group
        assert texts(sent) == ["答：问 几点开门", "答：问 在哪里"]
        assert texts(a.sent) == texts(sent) and b.sent == []
        assert await holder(a) == "shop-a"


async def test_a_check_in_and_the_day_s_messages_are_counted_once(backend: Backend) -> None:
    async with pair(backend.database) as (a, b):
        assert texts(await say((a, b), "u1", "签到")) == ["签到成功，共 5 分"]
        await say((b, a), "u1", "早")
        assert await a.field("u1", "points") == 5
        days = await a.rows(select(MessageDay.__table__.c.messages).where(MessageDay.__table__.c.member_id == "u1"))
        assert [row.messages for row in days] == [2]
        member = (await a.rows(select(Member.__table__).where(Member.__table__.c.id == "u1")))[0]
        assert member.last_active is not None


REPLY_WITH_NAME = {
    "playbooks/hello.yaml": """
id: hello
when:
  - message: {keywords: [你好]}
do:
  - reply: "{{ member.name }} 你好"
""",
}


async def test_an_accounts_first_batch_in_a_group_tried_again_still_records_the_account_there(
    backend: Backend,
) -> None:
    """Which groups an account is in is written once per group and process: when the batch that wrote it fails as a
    whole (a bad event's reply refused) and is tried again event by event, it must be written again."""
    async with pair(backend.database, REPLY_WITH_NAME) as (a, _b):
        await install(a, REFUSE)
        sent = await a.burst([a.message("u1", "你好", room="r1"), a.message("bad", "你好", room="r1")])
        assert texts(sent) == ["u1 你好"]
        rooms = AccountRoom.__table__
        seen = await a.rows(select(rooms.c.account).where(rooms.c.room_id == "r1"))
        assert [row.account for row in seen] == ["shop-a"]


async def test_membership_is_kept_current_by_the_account_that_does_not_speak(backend: Backend) -> None:
    async with pair(backend.database) as (a, b):
        await say((a, b), "u1", "大家好")  # a speaks for r1
        assert await b.join("u3", "r1") == []  # only b saw it (a was reconnecting): no welcome from b
        assert await a.member_rooms("u3") == ["r1"]
        await b.rename_room("r1", "新群名")
        rooms = await a.rows(select(Room.__table__.c.topic).where(Room.__table__.c.id == "r1"))
        assert [row.topic for row in rooms] == ["新群名"]
        await b.leave("u3", "r1")
        assert await a.member_rooms("u3") == []
        table = RoomMember.__table__
        left = await a.rows(select(table.c.left_at).where(table.c.member_id == "u3"))
        assert left[0].left_at is not None
        seen = await a.rows(select(AccountRoom.__table__.c.account).order_by(AccountRoom.__table__.c.account))
        assert [row.account for row in seen] == ["shop-a", "shop-b"]


async def test_an_account_alone_in_its_group_simply_speaks(backend: Backend) -> None:
    async with pair(backend.database) as (a, b):
        await say((a, b), "u1", "大家好")
        assert texts(await b.say("u2", "问 发货", room="r2")) == ["答：问 发货"]
        assert await holder(b, "r2") == "shop-b"
        await b.advance(timedelta(hours=2))  # no heartbeat meanwhile: still nobody else in r2
        assert texts(await b.say("u2", "问 退货", room="r2")) == ["答：问 退货"]


async def test_an_account_whose_lease_was_taken_while_it_was_away_does_not_act_when_it_comes_back(
    backend: Backend,
) -> None:
    async with pair(backend.database) as (a, b):
        await say((a, b), "u1", "问 一")
        await b.advance(PAST_LEASE)  # a is cut off: no heartbeat, no event
        assert b.bot.fleet is not None and a.bot.fleet is not None
        await b.bot.fleet.beat()
        assert await holder(a) == "shop-b"
        await a.bot.fleet.beat()  # back: its heartbeat renews only leases it still holds
        assert await holder(a) == "shop-b"
        assert await a.say("u1", "问 二", room="r1") == []  # its copy came first; it only holds it
        assert texts(await b.say("u1", "问 二", room="r1")) == ["答：问 二"]
        assert texts(a.sent) == ["答：问 一"]
        assert await a.field("u1", "points") == 0


async def test_the_account_that_does_not_speak_holds_the_group_s_events_for_fleet_hold(backend: Backend) -> None:
    async with pair(backend.database) as (a, b):
        await say((a, b), "u1", "大家好")
        await b.say("u2", "问 只有 b 收到", room="r1")  # a has not got its copy yet
        table = HeldEvent.__table__
        rows = await b.rows(select(table.c.done, table.c.account, table.c.event).order_by(table.c.at))
        assert [(row.done, row.account) for row in rows] == [(True, "shop-a"), (False, "shop-b")]
        assert "只有 b 收到" in rows[1].event
        await b.advance(timedelta(minutes=6))
        assert b.bot.fleet is not None
        await b.bot.fleet.beat()
        assert await b.rows(select(table.c.key)) == []


async def test_a_message_only_the_other_account_got_is_answered_by_the_speaker_after_a_lease(
    backend: Backend,
) -> None:
    async with pair(backend.database) as (a, b):
        await say((a, b), "u1", "问 一")
        assert await b.say("u2", "问 漏了", room="r1") == []  # WeChat never delivers a's copy
        assert a.bot.fleet is not None
        await a.bot.fleet.beat()
        assert texts(a.sent) == ["答：问 一"]  # its own copy may still come
        a.clock.set(a.clock.now() + PAST_LEASE)
        await a.bot.fleet.beat()
        assert texts(a.sent) == ["答：问 一", "答：问 漏了"]
        await a.bot.fleet.beat()
        assert texts(a.sent) == ["答：问 一", "答：问 漏了"]


async def test_the_bot_account_removed_from_a_group_gives_its_lease_up(backend: Backend) -> None:
    async with pair(backend.database) as (a, b):
        a.connector.self_id, b.connector.self_id = "wxid-shop-a", "wxid-shop-b"
        await say((a, b), "u1", "大家好")
        await a.leave("wxid-shop-a", "r1", removed=True)  # b sees it too, later: an ordinary member left
        table = AccountRoom.__table__
        assert [row.account for row in await a.rows(select(table.c.account))] == ["shop-b"]
        assert b.bot.fleet is not None
        await b.bot.fleet.beat()
        assert await holder(b) == "shop-b"
        assert await b.leave("wxid-shop-a", "r1", removed=True) == []
        assert texts(await say((a, b), "u1", "问 还在吗")) == ["答：问 还在吗"]
        assert texts(b.sent) == ["答：问 还在吗"]


async def _race(database: str, attempt: Attempt, rounds: int = 20) -> list[list[str]]:
    """Two processes (two stores) race `attempt(conn, room, account)` for each room at once."""
    stores = [await Store.open(database), await Store.open(database)]
    try:

        async def one(store: Store, room: str, account: str) -> str | None:
            async with store.unit() as conn:
                return account if await attempt(conn, room, account) else None

        winners = []
        for n in range(rounds):
            room = f"race-{n}"
            found = await asyncio.gather(one(stores[0], room, "shop-a"), one(stores[1], room, "shop-b"))
            winners.append([w for w in found if w is not None])
        return winners
    finally:
        for store in stores:
            await store.close()


async def test_two_processes_racing_for_one_lease_exactly_one_wins(backend: Backend) -> None:
    async def first(conn: AsyncConnection, room: str, account: str) -> bool:
        return await leases.speak(conn, room, account, START, timedelta(seconds=30))

    assert all(len(w) == 1 for w in await _race(backend.database, first))

    later = START + timedelta(minutes=1)

    async def take(conn: AsyncConnection, room: str, account: str) -> bool:
        holder_now = await leases.speaker_of(conn, room, START)  # as each saw it before the lease ran out
        return await leases.take_over(conn, room, account, holder_now or "", later, timedelta(seconds=30))

    won = await _race(backend.database, take)
    assert all(len(w) == 1 for w in won)


async def test_held_keys_are_the_same_for_every_account_s_copy() -> None:
    one = MessageEvent("a-1", START, MemberRef("u1", "小王"), "签到", RoomRef("r1", "群"))
    assert held.key(one) == held.key(replace(one, id="b-7", at=START + timedelta(milliseconds=300)))
    assert held.key(one) != held.key(replace(one, text="签 到"))
    assert held.key(one) != held.key(replace(one, at=START + timedelta(seconds=1)))
