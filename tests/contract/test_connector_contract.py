"""One contract, every connector: memory, simulator, and wechaty through the Node gateway (tests/gateway).

What the bot relies on from a connector (bot/connectors/base.py), checked the same way on each (as aiogram
runs one storage suite over all its backends): `start(emit)` returns once running and delivers events in
arrival order with stable ids (a redelivered platform event keeps its id); `send` puts a text in a room with
real @-mentions, a text to a member and an invitation, and returns the platform's message id or raises
(SendRefused when the platform asks for slower sending); `accept_friend` and `is_friend`; `self_id` is the
bot's own id and never one of an event's `mentions`; `stop()` stops delivering and may be called twice;
`paced` says whether a real account is behind it; `remove` takes a member out of a room, or raises
RemoveRefused (with WeChat's reason) when the bot has no owner or admin rights there.

A case that needs something only some platforms have (`@needs(...)`, see platforms.py) runs on those only:
nothing here is skipped (under CI=true a missing gateway fails, see tests/wechaty_gateway.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from platforms import MemoryPlatform, Platform, Recorder, SimulatorPlatform, WechatyPlatform

from bot.connectors.base import RemoveRefused, SendRefused
from bot.events import Event, FriendRequest, MemberJoined, MessageEvent, Outgoing

# python-wechaty builds a deprecated pyee emitter (its import shims silence that, pytest shows every warning again)
pytestmark = pytest.mark.filterwarnings("ignore:pyee.AsyncIOEventEmitter:DeprecationWarning")

PLATFORMS: dict[str, type[Platform]] = {
    "memory": MemoryPlatform,
    "simulator": SimulatorPlatform,
    "wechaty": WechatyPlatform,
}


def needs(*abilities: str) -> pytest.MarkDecorator:
    """Run a case only on the platforms that can do this."""
    return pytest.mark.needs(*abilities)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "platform" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("needs")
        wanted = set(marker.args) if marker else set()
        names = [name for name, kind in PLATFORMS.items() if wanted <= kind.abilities]
        slow = {"wechaty"}  # a real Node.js gateway: left to CI and the full suite
        params = [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]
        metafunc.parametrize("platform", params, indirect=True)


@pytest.fixture
async def platform(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Platform]:
    if request.param == "wechaty":
        made: Platform = WechatyPlatform(request.getfixturevalue("gateway"), tmp_path / ".wechaty")
    else:
        made = PLATFORMS[request.param]()
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def text_is(text: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, MessageEvent) and e.text == text


# ---------------------------------------------------------------- starting, events in


async def test_start_returns_running_and_the_bot_knows_its_own_id(platform: Platform, recorder: Recorder) -> None:
    connector = await platform.start(recorder.emit)
    assert connector.self_id == platform.world.bot.id
    await platform.say(platform.world.li, "在吗", room=platform.world.room)  # heard at once: it is running
    [event] = await recorder.wait(text_is("在吗"))
    assert (event.sender.id, event.room.id) == (platform.world.li.id, platform.world.room.id)


async def test_paced_says_whether_a_real_account_is_behind_it(platform: Platform, recorder: Recorder) -> None:
    connector = await platform.start(recorder.emit)
    assert getattr(connector, "paced", True) is platform.real_account


async def test_events_arrive_in_arrival_order_with_the_platform_ids(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    await platform.start(recorder.emit)
    ids = [await platform.say(w.li, f"第{i}条", room=w.room) for i in range(1, 4)]
    ids.append(await platform.say(w.wang, "私聊一句"))
    await platform.join(w.wang, w.room, inviter=w.li)
    ids.append(await platform.say(w.wang, "我进群了", room=w.room))
    await recorder.wait(text_is("我进群了"))
    mine = [e for e in recorder.events if e.member is not None and e.member.id in (w.li.id, w.wang.id)]
    assert [(type(e).__name__, e.member.id) for e in mine] == [
        *[("MessageEvent", w.li.id)] * 3,
        ("MessageEvent", w.wang.id),
        ("MemberJoined", w.wang.id),
        ("MessageEvent", w.wang.id),
    ]
    messages = [e for e in mine if isinstance(e, MessageEvent)]
    assert [e.text for e in messages] == ["第1条", "第2条", "第3条", "私聊一句", "我进群了"]
    assert [e.id for e in messages] == ids  # the platform's own ids
    assert [e.private for e in messages] == [False, False, False, True, False]
    [joined] = [e for e in mine if isinstance(e, MemberJoined)]
    assert (joined.room.id, joined.inviter.id if joined.inviter else None) == (w.room.id, w.li.id)
    assert len({e.id for e in mine}) == len(mine) and all(mine)


@needs("redelivery")
async def test_a_redelivered_event_keeps_its_id(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    await platform.start(recorder.emit)
    said = await platform.say(w.li, "签到", room=w.room)
    await platform.redeliver(said)
    first, again = await recorder.wait(text_is("签到"), count=2)
    assert first.id == again.id == said


async def test_the_bot_is_never_one_of_the_mentions(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await platform.say(w.li, f"@{w.bot.name} 加分 @{w.wang.name} 30", room=w.room)
    [event] = await recorder.wait(lambda e: isinstance(e, MessageEvent) and "加分" in e.text)
    assert event.mentions == (w.wang.id,)
    assert connector.self_id not in event.mentions and event.mentions_bot
    assert event.text.startswith("加分") and w.bot.name not in event.text  # `@群管机器人 签到` matches `签到`


# ---------------------------------------------------------------- sends out


async def test_a_text_to_a_room_mentions_members_for_real(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    first = await connector.send(Outgoing("欢迎两位！\n每天签到领积分", room=w.room, mentions=(w.wang, w.li)))
    second = await connector.send(Outgoing("第二条", room=w.room))
    seen = await platform.sent()
    assert [(s.room, s.member, s.text, s.mentions) for s in seen] == [
        (w.room.id, None, "欢迎两位！\n每天签到领积分", (w.wang.id, w.li.id)),
        (w.room.id, None, "第二条", ()),
    ]
    assert [s.id for s in seen if s.id is not None] in ([], [first, second])  # the platform's message ids
    assert first is None or (isinstance(first, str) and first != second)


async def test_a_text_to_a_member_reaches_them_privately(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await connector.send(Outgoing("这是只给你的消息", member=w.wang))
    assert [(s.room, s.member, s.text, s.mentions) for s in await platform.sent()] == [
        (None, w.wang.id, "这是只给你的消息", ())
    ]


async def test_an_invitation_asks_the_member_into_the_room(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await connector.send(Outgoing("", room=w.room, member=w.wang, invite=True))
    assert await platform.invited() == [(w.room.id, w.wang.id)]
    assert await platform.sent() == []  # an invitation, not a text


async def test_a_removal_takes_the_member_out_of_the_room(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await connector.remove(w.room, w.li)
    assert await platform.removed() == [(w.room.id, w.li.id)]
    assert await platform.sent() == []  # a removal, not a text


@needs("refusals")
async def test_a_removal_the_bot_has_no_rights_for_raises_remove_refused_with_the_reason(
    platform: Platform, recorder: Recorder
) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await platform.refuse_removals(w.room)
    with pytest.raises(RemoveRefused, match="群主或管理员"):
        await connector.remove(w.room, w.li)
    assert await platform.removed() == []


@needs("failures")
async def test_a_refusal_for_pacing_raises_send_refused(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await platform.fail_next_send("操作过于频繁，请稍后再试")
    with pytest.raises(SendRefused):
        await connector.send(Outgoing("第一条", room=w.room))
    await connector.send(Outgoing("第二条", room=w.room))  # the next one goes
    assert [s.text for s in await platform.sent()] == ["第二条"]


@needs("failures")
async def test_a_failed_send_raises_and_is_not_taken_for_a_refusal(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await platform.fail_next_send("服务器开小差了")
    with pytest.raises(Exception, match="服务器开小差了") as failed:
        await connector.send(Outgoing("第一条", room=w.room))
    assert not isinstance(failed.value, SendRefused)
    with pytest.raises(Exception, match="not a friend") as failed:  # WeChat: only friends get private messages
        await connector.send(Outgoing("私信", member=w.stranger))
    assert not isinstance(failed.value, SendRefused)
    assert await platform.sent() == []


# ---------------------------------------------------------------- friends


@needs("strangers")
async def test_is_friend_tells_friends_from_strangers(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    assert await connector.is_friend(w.wang.id) is True
    assert await connector.is_friend(w.stranger.id) is False


async def test_an_event_says_its_member_is_a_friend(platform: Platform, recorder: Recorder) -> None:
    """The engine decides a `dm` from what events said (bot/events.py MemberRef.friend), never by asking the
    platform while it holds the database: a connector marks the members it knows."""
    w = platform.world
    await platform.start(recorder.emit)
    await platform.say(w.wang, "我是老朋友")
    [event] = await recorder.wait(text_is("我是老朋友"))
    assert isinstance(event, MessageEvent) and event.sender.friend is True


@needs("strangers")
async def test_an_event_says_its_member_is_not_a_friend(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    await platform.start(recorder.emit)
    await platform.say(w.stranger, "我是路人", room=w.room)
    [event] = await recorder.wait(text_is("我是路人"))
    assert isinstance(event, MessageEvent) and event.sender.friend is False


async def test_an_accepted_friend_request_makes_a_friend(platform: Platform, recorder: Recorder) -> None:
    w = platform.world
    connector = await platform.start(recorder.emit)
    await platform.ask_friend(w.stranger, "我想进会员群")
    [request] = await recorder.wait(lambda e: isinstance(e, FriendRequest) and e.member.id == w.stranger.id)
    assert isinstance(request, FriendRequest) and request.hello == "我想进会员群"
    await connector.accept_friend(request)
    assert await platform.accepted() == [w.stranger.id]
    assert await connector.is_friend(w.stranger.id) is True


# ---------------------------------------------------------------- stopping


async def test_stop_stops_delivering_and_may_be_called_twice(platform: Platform) -> None:
    w = platform.world
    first = Recorder()
    connector = await platform.start(first.emit)
    await platform.say(w.li, "停之前", room=w.room)
    await first.wait(text_is("停之前"))
    await connector.stop()
    await connector.stop()
    await platform.say(w.li, "停之后", room=w.room)
    second = Recorder()  # a connector started after it hears what comes next; the stopped one heard nothing
    await platform.start(second.emit)
    await platform.say(w.li, "重新开始", room=w.room)
    await second.wait(text_is("重新开始"))
    assert [e.text for e in first.events if isinstance(e, MessageEvent)] == ["停之前"]
