"""Takeover: when the speaker of a group dies (or stops), another account in the group takes its lease once it
has expired, sends what the dead one had queued and not sent, and acts on exactly the events it never
committed: nothing lost, nothing twice."""

from __future__ import annotations

from collections import Counter

import pytest
from backends import Backend
from fleet_pair import PAST_LEASE, crash, holder, pair, say, stop
from sqlalchemy import select, update

from bot.events import MessageEvent, Outgoing
from bot.store.tables import OutboxMessage
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

_outbox = OutboxMessage.__table__


async def _queued_by(bot: TestBot, account: str) -> None:
    """The account's queued rows say who sends them (as the accounts stream writes them; 'default' before it)."""
    async with bot.bot.store.unit() as conn:
        await conn.execute(update(_outbox).where(_outbox.c.state == "pending").values(account=account))


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


async def test_the_speaker_killed_mid_burst_is_replaced_and_nothing_is_lost_or_doubled(backend: Backend) -> None:
    async with pair(backend.database, first={"governor": True}) as (a, b):  # a paces its sends: some are still queued
        for n in range(1, 4):
            await say((a, b), f"u{n}", f"问 {n}")
        await a.say("u4", "问 4", room="r1")  # committed by a, b has not got its copy yet
        unsent = [m.text for m in await a.queued()]
        assert unsent and len(a.sent) + len(unsent) == 4  # the burst's replies: some sent, the rest queued
        await _queued_by(a, "shop-a")
        await crash(a)
        for n in range(4, 7):  # b's copies keep coming; a is dead
            assert await b.say(f"u{n}", f"问 {n}", room="r1") == []
        assert b.bot.fleet is not None
        await b.bot.fleet.beat()  # the lease has not run out yet: b waits
        assert await holder(b) == "shop-a" and b.sent == []
        b.clock.set(b.clock.now() + PAST_LEASE)
        await b.bot.fleet.beat()
        assert await holder(b) == "shop-b"
        answered = Counter([*texts(a.sent), *texts(b.sent)])
        assert answered == Counter(f"答：问 {n}" for n in range(1, 7))  # each once
        assert sorted(texts(b.sent)[: len(unsent)]) == sorted(unsent)  # a's queued ones, then 5 and 6 in order
        assert texts(b.sent)[len(unsent) :] == ["答：问 5", "答：问 6"]
        rows = await b.rows(select(_outbox.c.account, _outbox.c.text).where(_outbox.c.text.in_(unsent)))
        assert {row.account for row in rows} == {"shop-b"}


async def test_a_clean_stop_releases_the_lease_and_the_other_account_takes_over_at_its_next_beat(
    backend: Backend,
) -> None:
    async with pair(backend.database) as (a, b):
        await say((a, b), "u1", "问 一")
        late = MessageEvent("b-late", a.clock.now(), b.member("u2"), "问 迟到", b.room("r1"))
        assert texts(await a.say("u2", "问 迟到", room="r1")) == ["答：问 迟到"]  # b's copy is late
        await stop(a)
        assert await b.say("u1", "问 二", room="r1") == []  # held until b's next beat, not a lease's length
        assert b.bot.fleet is not None
        await b.bot.fleet.beat()
        assert await holder(b) == "shop-b"
        assert texts(b.sent) == ["答：问 二"]
        assert await b.dispatch(late) == []  # a answered it before it stopped
        assert texts(await b.say("u2", "问 三", room="r1")) == ["答：问 三"]


async def test_the_dead_speaker_s_private_messages_go_from_the_new_one_to_its_friends(backend: Backend) -> None:
    dm = {
        "playbooks/dm.yaml": """
id: dm
when:
  - message: {text: 私聊我}
do:
  - dm: "{{ member.name }}，这是给你的私信"
"""
    }
    async with pair(backend.database, dm, first={"governor": True}) as (a, b):
        b.connector.not_friends.add("u3")  # each account's events record its own friendships
        for member in ("u1", "u2", "u3"):
            await say((a, b), member, "私聊我")
        assert texts(a.sent) == ["u1，这是给你的私信"]  # a paces its sends: the other two are still queued
        await _queued_by(a, "shop-a")
        await crash(a)
        b.clock.set(b.clock.now() + PAST_LEASE)
        await b.bot.fleet.beat()  # type: ignore[union-attr]
        rows = await b.rows(select(_outbox.c.member_id, _outbox.c.account).order_by(_outbox.c.id))
        assert [(row.member_id, row.account) for row in rows[1:]] == [
            ("u2", "shop-b"),  # b's friend: b sends it now
            ("u3", "shop-a"),  # no friend of b's: it waits for a, which alone can send it privately
        ]


QUIZ = {
    "playbooks/quiz.yaml": """
id: quiz
when:
  - command: 出题
do:
  - quiz: {questions: dishes, pick: next, window: 10m, winners: 2, reward: {points: 20}}
questions:
  dishes:
    - {q: 招牌菜是什么？, a: 酸菜鱼}
"""
}


async def test_a_quiz_the_dead_speaker_opened_is_closed_by_the_new_one(backend: Backend) -> None:
    async with pair(backend.database, QUIZ) as (a, b):
        (asked,) = await say((a, b), "boss", "/出题")
        assert asked.text.startswith("【有奖问答】招牌菜是什么？")
        await say((a, b), "u1", "酸菜鱼")
        await crash(a)
        assert await b.say("u2", "酸菜鱼", room="r1") == []  # held: a's lease has not run out
        b.clock.set(b.clock.now() + PAST_LEASE)
        await b.bot.fleet.beat()  # type: ignore[union-attr]
        (closing,) = b.sent  # the window a opened, read again by b: u2 is its second winner
        assert [m.id for m in closing.mentions] == ["u1", "u2"]
        assert [await b.field(m, "points") for m in ("u1", "u2")] == [20, 20]
