"""Friendship is per account: a `dm` goes from an account the member is a friend of, the speaker of their group
first, then the account that saw the event; when no account is a friend, dm_fallback applies as for one account."""

from __future__ import annotations

import pytest
from backends import Backend
from fleet_pair import pair, present, say, speaks
from sqlalchemy import select

from bot.fleet.tables import Friendship
from bot.outbox.rows import TABLE
from bot.store.tables import Member
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

DM = {
    "playbooks/dm.yaml": """
id: dm
when:
  - message: {text: 私信我}
do:
  - dm: 这是给你的私信
""",
    "playbooks/hello.yaml": """
id: hello
when:
  - friend: {}
do:
  - reply: 你好，已通过你的好友申请
""",
}


async def _friends(bot: TestBot) -> list[tuple[str, str, bool]]:
    table = Friendship.__table__
    rows = await bot.rows(select(table.c.account, table.c.member_id, table.c.friend).order_by(table.c.member_id))
    return sorted((r.account, r.member_id, r.friend) for r in rows)


async def test_each_account_s_events_record_its_own_friendships(backend: Backend) -> None:
    async with pair(backend.database, DM) as (a, b):
        b.connector.not_friends.add("u2")
        for bot in (a, b):
            await bot.say("u2", "早", room="r1")  # both accounts are in r1: each sees the message
        assert await _friends(a) == [("shop-a", "u2", True), ("shop-b", "u2", False)]
        friend = await a.rows(select(Member.__table__.c.friend).where(Member.__table__.c.id == "u2"))
        assert friend[0].friend is True  # a friend of some account of the shop: a dm can go privately


async def test_a_dm_goes_from_the_group_s_speaker_when_it_is_a_friend(backend: Backend) -> None:
    async with pair(backend.database, DM) as (a, b):
        await present(a, "r1", "shop-a", "shop-b")
        await speaks(a, "r1", "shop-b")
        await b.say("u1", "早", room="r1")  # shop-b learns u1 is its friend
        await say((a, b), "u1", "私信我")  # both accounts get it; shop-b speaks for r1
        await a.outbox.flush()
        await b.outbox.flush()
        assert a.sent == []
        assert [(m.text, m.member and m.member.id, m.room) for m in b.sent] == [("这是给你的私信", "u1", None)]


async def test_a_dm_goes_from_an_account_the_member_is_a_friend_of_even_when_another_speaks(
    backend: Backend,
) -> None:
    async with pair(backend.database, DM) as (a, b):
        await present(a, "r1", "shop-a", "shop-b")
        await speaks(a, "r1", "shop-b")
        b.connector.not_friends.add("u2")
        await a.say("u2", "早", room="r1")  # a friend of shop-a
        await b.say("u2", "私信我", room="r1")  # the speaker acts, but u2 is not its friend
        await a.outbox.flush()
        assert [(m.text, m.member and m.member.id) for m in a.sent] == [("这是给你的私信", "u2")]
        assert b.sent == []


async def test_when_no_account_is_a_friend_the_dm_falls_back_to_the_group_from_its_speaker(backend: Backend) -> None:
    async with pair(backend.database, DM) as (a, b):
        await present(a, "r1", "shop-a", "shop-b")
        await speaks(a, "r1", "shop-b")
        a.connector.not_friends.add("u3")
        b.connector.not_friends.add("u3")
        await b.say("u3", "早", room="r1")
        await say((a, b), "u3", "私信我")
        await b.outbox.flush()
        assert [(m.room and m.room.id, [x.id for x in m.mentions]) for m in b.sent] == [("r1", ["u3"])]
        assert a.sent == []
        rows = await a.rows(select(TABLE.c.account, TABLE.c.room_id, TABLE.c.member_id))
        assert [tuple(r) for r in rows] == [("shop-b", "r1", None)]


async def test_a_friend_request_is_accepted_and_answered_by_the_account_it_came_to(backend: Backend) -> None:
    async with pair(backend.database, DM) as (a, b):
        await a.say("u9", "早", room="r1")  # already a friend of shop-a
        sent = await b.befriend("u9", "你好")
        assert [m.text for m in sent] == ["你好，已通过你的好友申请"]
        assert [r.member.id for r in b.connector.accepted] == ["u9"]
        assert await _friends(a) == [("shop-a", "u9", True), ("shop-b", "u9", True)]
