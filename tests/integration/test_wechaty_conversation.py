"""A conversation in a mocked WeChat group, through the real Wechaty stack, with the shipped playbooks.

One `qunguan run --connector wechaty` process serves the whole module; the tests are steps of
one conversation and run in file order (points add up from one step to the next).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import BotProcess, Gateway, Qunguan

ROOT = Path(__file__).resolve().parents[2]
ROOM = "conv@chatroom"
TOPIC = "会员福利1群"
NEW_TOPIC = "会员福利1群（新）"
WANG, LI, DAVE, STRANGER, BOSS = "wx_xiaowang", "wx_laoli", "wx_dave", "wx_stranger", "wx_conv_boss"
MENTION = "\u2005"  # WeChat ends an @-mention with a four-per-em space

FRIEND_FUNNEL = f"""\
id: friend-funnel
name: 加好友进群
when:
  - friend: {{}}
do:
  - reply: "{{{{ member.name }}}} 你好！拉你进会员群领福利～"
  - invite: {ROOM}
"""

WHISPER = """\
id: whisper
name: 悄悄话
when:
  - command: 悄悄话
do:
  - dm: "{{ member.name }}，这是只给你的消息"
"""


@pytest.fixture(scope="module")
def bot(gateway: Gateway, qunguan: Qunguan) -> Iterator[BotProcess]:
    gateway.post("/contact", id=WANG, name="小王")
    gateway.post("/contact", id=LI, name="老李")
    gateway.post("/contact", id=DAVE, name="大卫", friend=False)
    gateway.post("/contact", id=STRANGER, name="路人", friend=False)
    gateway.post("/contact", id=BOSS, name="店长")
    gateway.post("/room", id=ROOM, topic=TOPIC, members=[LI, STRANGER, BOSS])
    home = qunguan.shop(endpoint=gateway.endpoint, playbooks=Path("playbooks"), extra=f"staff: {{owner: [{BOSS}]}}")
    shutil.copytree(ROOT / "playbooks", home / "playbooks")  # the shipped playbooks ...
    (home / "playbooks" / "friend-funnel.yaml").write_text(FRIEND_FUNNEL, encoding="utf-8")  # ... and two more
    (home / "playbooks" / "whisper.yaml").write_text(WHISPER, encoding="utf-8")
    process = qunguan.start(home, token=gateway.token)
    try:
        process.wait_line(r"logged in to WeChat as " + gateway.bot_name)
        process.wait_line(r"running; stop with")
        yield process
    finally:
        process.stop()


def in_room(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["room_id"] == ROOM and text in m["text"] and m["error"] is None


def to_member(member_id: str, text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["to_id"] == member_id and text in m["text"] and m["error"] is None


def test_the_owner_binds_the_group_and_only_then_the_bot_manages_it(gateway: Gateway, bot: BotProcess) -> None:
    """config.yaml names no group: the bot manages none until the owner (by WeChat id) sends /绑定 in it."""
    bot.wait_line(r"no group is bound yet")
    before = len(bot.lines)
    gateway.post("/room/say", room=ROOM, **{"from": LI}, text="签到")
    bot.wait_line(rf"group '{TOPIC}' \({ROOM}\) is not bound", after=before)
    since = gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": BOSS}, text="/绑定")
    bound = gateway.wait_sent(since, in_room("已绑定本群"), "the answer to /绑定")
    assert bound["mention_ids"] == [BOSS]
    assert not [m for m in gateway.sent(since) if "签到成功" in m["text"]]  # 老李's 签到 before it did nothing


def test_a_newcomer_is_welcomed_with_a_real_mention(gateway: Gateway, bot: BotProcess) -> None:
    since = gateway.mark()
    gateway.post("/room/join", room=ROOM, members=[WANG], inviter=LI)
    welcome = gateway.wait_sent(since, in_room("欢迎"), "the welcome")
    assert welcome["mention_ids"] == [WANG]  # WeChat notifies 小王: a real @-mention, not just text
    assert welcome["text"].startswith(f"@小王{MENTION}欢迎 小王 加入「{TOPIC}」")
    with bot.db() as db:
        assert db.execute(
            "SELECT inviter_id, active FROM room_members WHERE room_id = ? AND member_id = ?", (ROOM, WANG)
        ).fetchone() == (LI, 1)


def test_checkin_in_the_group(gateway: Gateway, bot: BotProcess) -> None:
    since = gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": WANG}, text="签到")
    reply = gateway.wait_sent(since, in_room("签到成功"), "the check-in reply")
    assert "连续 1 天，+5 分，共 15 分" in reply["text"]  # 10 for joining, 5 for checking in


def test_mentioning_the_bot_still_matches_the_playbook(gateway: Gateway, bot: BotProcess) -> None:
    """WeChat puts "@群管机器人 " in front of the text: the bot's own mention is not part of what was said."""
    since = gateway.mark()
    gateway.post(
        "/room/say", room=ROOM, **{"from": WANG}, text=f"@{gateway.bot_name}{MENTION}打卡", mentions=[gateway.bot_id]
    )
    gateway.wait_sent(since, in_room("今天已经签到过啦"), "the already-checked-in reply")


def test_a_staff_command_after_mentioning_the_bot_acts_on_the_member_mentioned(
    gateway: Gateway, bot: BotProcess
) -> None:
    """WeChat lists the bot's own id first in the mentions of "@群管机器人 加分 @老李 30 晒单": it is not the target."""
    since = gateway.mark()
    text = f"@{gateway.bot_name}{MENTION}加分 @老李{MENTION}30 晒单"
    gateway.post("/room/say", room=ROOM, **{"from": BOSS}, text=text, mentions=[gateway.bot_id, LI])
    answer = gateway.wait_sent(since, in_room("已给"), "the answer to 加分")
    assert answer["text"] == f"@店长{MENTION}已给 老李 加 30 分（晒单），现在共 50 分"  # 20 for inviting 小王
    with bot.db() as db:
        credited = db.execute("SELECT member_id, delta FROM points_ledger WHERE reason LIKE '晒单%'").fetchall()
    assert credited == [(LI, 30)]


def test_points_asked_privately_are_answered_privately(gateway: Gateway, bot: BotProcess) -> None:
    since = gateway.mark()
    gateway.post("/contact/say", **{"from": WANG}, text="/积分")
    answer = gateway.wait_sent(since, to_member(WANG, "积分"), "the private points answer")
    assert answer["text"] == "小王，你当前有 15 积分，已连续签到 1 天"
    assert answer["room_id"] is None
    assert not [m for m in gateway.sent(since) if m["room_id"] == ROOM and "积分" in m["text"]]  # not in the group


def test_a_dm_reaches_a_friend_privately_and_a_stranger_by_mention(gateway: Gateway, bot: BotProcess) -> None:
    """WeChat delivers private messages only to friends: the bot asks WeChat, and falls back per dm_fallback."""
    since = gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": WANG}, text="/悄悄话")
    private = gateway.wait_sent(since, to_member(WANG, "只给你"), "the private message to a friend")
    assert private["text"] == "小王，这是只给你的消息"
    since = gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": STRANGER}, text="/悄悄话")
    fallback = gateway.wait_sent(since, in_room("只给你"), "the @-mention in the group for a stranger")
    assert (fallback["text"], fallback["mention_ids"]) == (f"@路人{MENTION}路人，这是只给你的消息", [STRANGER])
    assert not [m for m in gateway.sent(since) if m["to_id"] == STRANGER]  # never tried privately


def test_a_friend_request_is_accepted_greeted_and_invited(gateway: Gateway, bot: BotProcess) -> None:
    since = gateway.mark()
    gateway.post("/friendship", **{"from": DAVE}, hello="我是大卫，想进会员群")
    gateway.wait_action(since, "friendship_accept", contact_id=DAVE)
    greeting = gateway.wait_sent(since, to_member(DAVE, "你好"), "the greeting to the new friend")
    assert greeting["text"] == "大卫 你好！拉你进会员群领福利～"
    invited = gateway.wait_action(since, "room_add", room_id=ROOM, contact_id=DAVE)
    assert invited["seq"] > greeting["seq"]  # accepted, greeted, then invited
    # WeChat reports the invitation as a join by the bot: the newcomer is welcomed like anyone else
    gateway.wait_sent(since, in_room("欢迎 大卫"), "the welcome of the invited friend")


def test_leaving_and_renaming_are_recorded(gateway: Gateway, bot: BotProcess, eventually: Callable[..., Any]) -> None:
    gateway.post("/room/say", room=ROOM, **{"from": LI}, text="大家好")
    gateway.post("/room/leave", room=ROOM, members=[LI])
    gateway.post("/room/topic", room=ROOM, topic=NEW_TOPIC, by=WANG)

    def renamed() -> tuple[object, ...] | None:
        with bot.db() as db:
            return db.execute(
                "SELECT topic, by_member_id FROM room_topics WHERE room_id = ? AND topic = ?", (ROOM, NEW_TOPIC)
            ).fetchone()

    assert eventually(renamed, what="the new topic in room_topics") == (NEW_TOPIC, WANG)
    with bot.db() as db:  # events are handled in order: the leave was recorded before the rename
        assert db.execute("SELECT topic FROM rooms WHERE id = ?", (ROOM,)).fetchone() == (NEW_TOPIC,)
        active, left_at = db.execute(
            "SELECT active, left_at FROM room_members WHERE room_id = ? AND member_id = ?", (ROOM, LI)
        ).fetchone()
        assert (active, left_at is not None) == (0, True)
        names = dict(db.execute("SELECT id, name FROM members WHERE id IN (?, ?, ?)", (WANG, LI, DAVE)))
        assert names == {WANG: "小王", LI: "老李", DAVE: "大卫"}
        topics = [row[0] for row in db.execute("SELECT topic FROM room_topics WHERE room_id = ? ORDER BY id", (ROOM,))]
        assert topics == [TOPIC, NEW_TOPIC]


def test_a_logout_is_logged_and_the_next_login_is_picked_up(gateway: Gateway, bot: BotProcess) -> None:
    """A login after a logout on the same connection (python-wechaty's own `login` event fires only once)."""
    before = len(bot.lines)
    gateway.post("/logout", reason="kicked out by a login elsewhere")
    out = bot.wait_line(r"WeChat account qunguan-bot logged out", after=before)
    gateway.post("/login")
    bot.wait_line(r"logged in again to WeChat as " + gateway.bot_name, after=out)
    since = gateway.mark()
    gateway.post("/contact/say", **{"from": WANG}, text="/积分")
    gateway.wait_sent(since, to_member(WANG, "你当前有 15 积分"), "an answer after the new login")


def test_the_bot_reconnects_after_a_link_drop_and_still_answers(gateway: Gateway, bot: BotProcess) -> None:
    before = len(bot.lines)
    gateway.post("/drop", down_ms=300)
    lost = bot.wait_line(r"link to the Wechaty puppet service .* lost .*reconnecting in", after=before)
    bot.wait_line(r"logged in again to WeChat as " + gateway.bot_name, after=lost)
    since = gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": WANG}, text="查积分")
    reply = gateway.wait_sent(since, in_room("你当前有"), "an answer after reconnecting")
    assert reply["text"] == "小王，你当前有 15 积分，已连续签到 1 天"


def test_a_message_caught_by_a_link_drop_is_answered_after_reconnecting(
    gateway: Gateway, bot: BotProcess, eventually: Callable[..., Any]
) -> None:
    """The link drops while the bot is fetching a message's details: it asks again after the new login."""
    gateway.post("/slow-payloads", count=1, ms=3000)
    before = len(bot.lines)
    since = gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": WANG}, text="查积分")
    eventually(lambda: gateway.call("GET", "/state")["payloads_waiting"], what="the bot to ask for the message")
    gateway.post("/drop", down_ms=300)
    bot.wait_line(r"wechaty message event held until the link is back", after=before)
    reply = gateway.wait_sent(since, in_room("你当前有"), "the answer after reconnecting")
    assert reply["text"] == "小王，你当前有 15 积分，已连续签到 1 天"


def test_sigterm_stops_the_bot_cleanly(bot: BotProcess) -> None:
    assert bot.stop() == 0
    assert "Traceback" not in bot.log
    bot.wait_line(r"qunguan.cli: stopping")
    # nothing written into the working directory but the configured data folder
    assert sorted(p.name for p in bot.home.iterdir()) == ["config.yaml", "data", "playbooks"]
    assert (bot.home / "data" / ".wechaty").is_dir()
