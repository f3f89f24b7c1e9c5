"""The friend -> group funnel: a friend request is accepted per config, greeted, and invited into a group."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from textwrap import dedent

import pytest
from backends import Backend

from bot.config import Config, FriendsSection, StaffSection
from bot.connectors.memory import ConnectorCallInUnit, MemoryConnector
from bot.events import FriendConfirmed, FriendRequest, MemberRef
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

FUNNEL = dedent("""
    id: friend-funnel
    when:
      - friend: {}
    do:
      - reply: "{{ member.name }} 你好！拉你进会员群领福利～"
      - invite: 会员福利1群
      - tag: 好友
""")


async def funnel_bot(config: Config | None = None) -> TestBot:
    bot = await TestBot.create({"playbooks/friend.yaml": FUNNEL}, config=config)
    await bot.add_room("r1", "会员福利1群")
    bot.member("u1", "小王")
    return bot


async def test_a_friend_request_is_accepted_then_greeted_and_invited() -> None:
    bot = await funnel_bot()
    try:
        sent = await bot.befriend("u1", "我是小王")
        assert [r.member.id for r in bot.connector.accepted] == ["u1"]
        greeting, invitation = sent
        assert (greeting.target_id, greeting.room, greeting.text) == ("u1", None, "小王 你好！拉你进会员群领福利～")
        assert invitation.invite and (invitation.member.id, invitation.room.id) == ("u1", "r1")
        assert await bot.field("u1", "tags") == ["好友"]
    finally:
        await bot.close()


async def test_a_request_without_a_required_keyword_is_left_alone() -> None:
    bot = await funnel_bot(Config(friends=FriendsSection(keywords=["会员", "买过"])))
    try:
        assert await bot.befriend("u1", "你好") == []
        assert bot.connector.accepted == []
        assert await bot.field("u1", "tags") == []
        assert len(await bot.befriend("u1", "我是老会员")) == 2
        assert [r.hello for r in bot.connector.accepted] == ["我是老会员"]
    finally:
        await bot.close()


async def test_with_accept_off_nothing_is_accepted_or_sent() -> None:
    bot = await funnel_bot(Config(friends=FriendsSection(accept=False)))
    try:
        assert await bot.befriend("u1", "会员") == []
        assert bot.connector.accepted == []
    finally:
        await bot.close()


async def test_invite_skips_a_member_who_is_not_the_bots_friend() -> None:
    """WeChat lets a bot invite only its friends: the greeting still goes out in the group."""
    source = dedent("""
        id: invite-vip
        when:
          - message: {text: 进群}
        do:
          - reply: 好的
          - invite: 会员福利1群
    """)
    async with TestBot.running({"playbooks/invite.yaml": source}) as bot:
        await bot.add_room("r1", "会员福利1群")
        await bot.add_room("r2", "闲聊群")
        bot.connector.not_friends.add("u2")
        assert [(m.invite, m.target_id) for m in await bot.say("u1", "进群", room="r2")] == [
            (False, "r2"),
            (True, "r1"),
        ]
        assert [m.invite for m in await bot.say("u2", "进群", room="r2")] == [False]


async def test_invite_to_an_unknown_room_is_a_clear_error_at_check_time_or_run_time() -> None:
    source = dedent("""
        id: invite-nowhere
        when:
          - message: {text: 进群}
        do:
          - reply: 好的
          - invite: 不存在的群
    """)
    async with TestBot.running({"playbooks/invite.yaml": source}) as bot:
        assert await bot.say("u1", "进群", room="r1") == []  # the run fails as a whole: no half-done funnel


# -- no platform call while the database is held (issue 12, item 1)

WHISPER = dedent("""
    id: whisper
    when:
      - message: {text: 悄悄话}
    do:
      - dm: "{{ member.name }}，这是只给你的消息"
""")
NUDGE = dedent("""
    id: nudge
    when:
      - command: 提醒
    do:
      - for_each:
          segment: {inactive_days: ">=0"}
          do:
            - dm: "{{ member.name }}，好久不见"
""")
STAFF = Config(staff=StaffSection(staff=["clerk"]))
CHECKIN = dedent("""
    id: checkin
    when:
      - message: {text: 签到}
    do:
      - checkin: {}
      - reply: "{{ member.name }} 签到成功"
""")


class SlowFriends(MemoryConnector):
    """On WeChat a friend lookup is a contact payload fetched over the network (up to 15 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()

    async def is_friend(self, member_id: str) -> bool:
        await self.answer.wait()
        return await super().is_friend(member_id)


async def test_a_slow_friend_lookup_holds_up_no_other_event() -> None:
    """A `dm` must not wait for WeChat while it holds the database: the next member's check-in goes through."""
    connector = SlowFriends()
    bot = await TestBot.create(
        {"playbooks/whisper.yaml": WHISPER, "playbooks/checkin.yaml": CHECKIN}, connector=connector
    )
    try:
        bot.member("u2", "小李")
        whisper = asyncio.ensure_future(bot.say("u1", "悄悄话", room="r1"))
        checkin = asyncio.ensure_future(bot.say("u2", "签到", room="r1"))
        done, _ = await asyncio.wait({checkin}, timeout=10)  # a deadline on a stall, not a wait for something
        assert done, "the check-in waited for another member's friend lookup"
        connector.answer.set()
        await whisper
        assert sorted((m.target_id, m.text) for m in bot.sent) == [
            ("r1", "小李 签到成功"),
            ("u1", "u1，这是只给你的消息"),
        ]
    finally:
        connector.answer.set()
        await bot.close()


async def test_no_connector_call_is_made_while_a_unit_of_work_is_open() -> None:
    """dm, invite, for_each with dm, the /成员 profile and a friend request, with a connector that fails any call
    made while the event's transaction is open (TestBot's memory connector does; TestBot.close says so)."""
    sources = {"playbooks/whisper.yaml": WHISPER, "playbooks/friend.yaml": FUNNEL, "playbooks/nudge.yaml": NUDGE}
    bot = await TestBot.create(sources, config=STAFF)
    try:
        await bot.add_room("r1", "会员福利1群")
        await bot.seed("u1", rooms=["r1"])
        await bot.seed("u2", rooms=["r1"], friend=False)
        assert [m.target_id for m in await bot.say("u1", "悄悄话", room="r1")] == ["u1"]
        assert [m.target_id for m in await bot.say("u2", "悄悄话", room="r1")] == ["r1"]
        nudged = await bot.say("clerk", "/提醒", room="r1")
        assert sorted((m.target_id, m.room is None) for m in nudged) == [("r1", False), ("u1", True)]
        full, answer = sorted(await bot.say("clerk", "/成员 u1", room="r1"), key=lambda m: m.room is not None)
        assert answer.text.endswith("（完整资料已私信给你）") and (full.room, full.target_id) == (None, "clerk")
        greeting, invitation = await bot.befriend("u3", "你好")
        assert (greeting.target_id, invitation.invite) == ("u3", True)
        assert bot.connector.calls_in_unit == []
    finally:
        await bot.close()


async def test_the_memory_connector_refuses_a_call_inside_a_unit_of_work() -> None:
    """The guard itself: a call made while the event's transaction is open fails and is remembered."""
    async with TestBot.running({}) as bot:
        async with bot.bot.store.unit():
            with pytest.raises(ConnectorCallInUnit):
                await bot.connector.is_friend("u1")
        assert bot.connector.calls_in_unit == ["is_friend"]
        bot.connector.calls_in_unit.clear()  # made on purpose here: close() would fail the test otherwise


async def test_a_friendship_confirmed_elsewhere_makes_dms_private() -> None:
    """WeChat tells the bot when someone became its friend some other way (the shop added them on the phone):
    the next dm to them goes privately, though they said nothing since."""
    async with TestBot.running({"playbooks/nudge.yaml": NUDGE}, config=STAFF) as bot:
        await bot.seed("u1", rooms=["r1"], friend=False)
        assert [m.target_id for m in await bot.say("clerk", "/提醒", room="r1")] == ["r1"]
        bot.connector.not_friends.discard("u1")
        await bot.dispatch(FriendConfirmed("wx-confirm-1", bot.clock.now(), bot.member("u1")))
        await bot.advance(timedelta(days=1))  # a playbook's for_each reaches a member once a day
        assert [m.target_id for m in await bot.say("clerk", "/提醒", room="r1")] == ["u1"]


# -- nothing acts before the event is known new (issue 12, item 2)


async def test_a_redelivered_friend_request_is_accepted_and_greeted_once() -> None:
    bot = await funnel_bot()
    try:
        request = FriendRequest("wx-friendship-1", bot.clock.now(), bot.member("u1"), "我是小王")
        assert len(await bot.dispatch(request)) == 2
        assert await bot.dispatch(request) == []
        assert [r.member.id for r in bot.connector.accepted] == ["u1"]
    finally:
        await bot.close()


async def test_a_friend_request_redelivered_after_a_restart_is_not_accepted_again(backend: Backend) -> None:
    database = backend.database
    sources = {"playbooks/friend.yaml": FUNNEL}
    bot = await TestBot.create(sources, database=database)
    request = FriendRequest("wx-friendship-1", bot.clock.now(), MemberRef("u1", "小王"), "我是小王")
    try:
        await bot.add_room("r1", "会员福利1群")
        assert len(await bot.dispatch(request)) == 2
    finally:
        await bot.close()
    again = await TestBot.create(sources, database=database)
    try:
        assert await again.dispatch(request) == []
        assert again.connector.accepted == []
    finally:
        await again.close()


async def test_an_accepted_friend_request_survives_a_crash_and_is_accepted_once(backend: Backend) -> None:
    """Accepting is a durable outbox row sent before the greeting: queued but unsent at a crash, it goes after
    the restart, once, and the greeting after it."""
    database = backend.database
    sources = {"playbooks/friend.yaml": FUNNEL}
    bot = await TestBot.create(sources, database=database, governor=True)
    request = FriendRequest("wx-friendship-1", bot.clock.now(), MemberRef("u1", "小王"), "我是小王")
    await bot.add_room("r1", "会员福利1群")
    await bot.outbox.abandon()  # the delivery worker stops: what is queued stays queued
    assert await bot.dispatch(request) == []
    assert bot.connector.accepted == []
    await bot.crash()
    again = await TestBot.create(sources, database=database)
    try:
        assert [r.member.id for r in again.connector.accepted] == ["u1"]
        assert [m.text for m in again.sent] == ["小王 你好！拉你进会员群领福利～", ""]
        assert await again.dispatch(request) == []
        assert len(again.connector.accepted) == 1
    finally:
        await again.close()
