"""The friend -> group funnel: a friend request is accepted per config, greeted, and invited into a group."""

from __future__ import annotations

from textwrap import dedent

from bot.config import Config, FriendsSection
from bot.testing import TestBot

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
