"""Moderation through the real Wechaty stack (issue 13, item 7; item 8's long text): advertisers posting a link
card, a mini-program or a picture with a real QR code (segno) are removed from the group by `room.del`, staff
get an alert in their room and privately, a staff member's link card is left alone, and where the bot is no
owner or admin WeChat refuses the removal: staff are told why and the bot goes on answering.

One `qunguan run --connector wechaty` process serves the module, with MODERATION.md's anti-ad example as written
(a member the bot has known for less than a day is removed at once: every poster here) and a playbook that
answers every message a moderation playbook left alone (`收到<kind>`), so "left alone" is an answer to wait for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from contract_examples import playbooks
from test_wechaty_message_kinds import picture
from wechaty_gateway import ROOT, eventually, sent_to

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import BotProcess, Gateway, Qunguan

ROOM, TOPIC = "mod@chatroom", "防广告福利群"
STAFF_ROOM = "mod-staff@chatroom"
BARE, BARE_TOPIC = "mod-bare@chatroom", "没有管理权的群"  # the bot is no owner or admin there
BOSS, CUSTOMER = "wx_mod_boss", "wx_mod_customer"
POSTERS = {  # who posts what (each is removed, so each kind has a poster of its own)
    "link": ("wx_mod_link", "兼职小妹"),
    "miniprogram": ("wx_mod_mini", "红包小助手"),
    "image": ("wx_mod_qr", "扫码领券"),
    "long": ("wx_mod_long", "长文广告"),
    "bare": ("wx_mod_bare", "无权广告"),
}
CARD = {"kind": "link", "url": "https://ad.example.com/join", "title": "兼职日结，加我"}

# MODERATION.md's anti-ad example, read from the contract's copy so that it stays the example as written
ANTI_AD = next(p for p in playbooks(ROOT / "tests" / "contract" / "MODERATION.md") if p.startswith("id: anti-ad"))
ANSWER = """\
id: answer
name: 回答
when:
  - message: {regex: ".*"}
do:
  - reply: "收到{{ message.kind }}"
"""


@pytest.fixture(scope="module")
def bot(gateway: Gateway, qunguan: Qunguan) -> Iterator[BotProcess]:
    gateway.post("/contact", id=BOSS, name="店长")
    gateway.post("/contact", id=CUSTOMER, name="老顾客")
    for member_id, name in POSTERS.values():
        gateway.post("/contact", id=member_id, name=name)
    posters = [member_id for member_id, _ in POSTERS.values()]
    gateway.post("/room", id=ROOM, topic=TOPIC, members=[BOSS, CUSTOMER, *posters])
    gateway.post("/room", id=STAFF_ROOM, topic="店员群", members=[BOSS])
    gateway.post("/room", id=BARE, topic=BARE_TOPIC, members=[CUSTOMER, POSTERS["bare"][0]])
    gateway.post("/room/admin", room=BARE, admin=False)
    home = qunguan.shop(
        endpoint=gateway.endpoint,
        playbooks=Path("playbooks"),
        rooms=(ROOM, STAFF_ROOM, BARE),
        extra=f"staff: {{owner: [{BOSS}]}}\nalerts: {{room: {STAFF_ROOM}, to: [{BOSS}]}}\n",
    )
    (home / "playbooks").mkdir()
    (home / "playbooks" / "anti-ad.yaml").write_text(ANTI_AD, encoding="utf-8")
    (home / "playbooks" / "answer.yaml").write_text(ANSWER, encoding="utf-8")
    process = qunguan.start(home, token=gateway.token)
    try:
        process.wait_line(r"logged in to WeChat as " + gateway.bot_name)
        process.wait_line(r"running; stop with")
        # staff talk in their room: the bot knows the alert room and that the owner is its friend
        since = gateway.mark()
        gateway.post("/room/say", room=STAFF_ROOM, **{"from": BOSS}, text="今天谁值班？")
        gateway.wait_sent(since, sent_to(STAFF_ROOM, "收到text"), "the answer in the staff room")
        yield process
    finally:
        process.stop()


def members(gateway: Gateway, room: str) -> list[str]:
    return next(r["members"] for r in gateway.call("GET", "/state")["rooms"] if r["id"] == room)


def clean(bot: BotProcess, after: int) -> None:
    assert "Traceback" not in "\n".join(bot.lines[after:])
    assert bot.process.poll() is None, bot.log


def removed_with_alerts(gateway: Gateway, bot: BotProcess, since: int, poster: str, kind: str) -> None:
    """WeChat removed the poster by the bot's room.del, the group was told, staff were alerted in their room and
    privately, the store and the moderation log say so; the ad itself reached no other playbook."""
    member_id, name = POSTERS[poster]
    gateway.wait_action(since, "room_del", room_id=ROOM, contact_id=member_id)
    assert member_id not in members(gateway, ROOM)

    def out_of_the_group() -> bool:
        with bot.db() as db:
            query = "SELECT active FROM room_members WHERE room_id = ? AND member_id = ?"
            return db.execute(query, (ROOM, member_id)).fetchone() == (0,)

    eventually(out_of_the_group, what=f"{member_id} out of the group in the store")
    with bot.db() as db:
        query = "SELECT action, reason, message_kind, playbook_id FROM moderation_log WHERE member_id = ? ORDER BY id"
        logged = db.execute(query, (member_id,)).fetchall()
    assert logged == [("warn", "发广告", kind, "anti-ad"), ("remove", "发广告", kind, "anti-ad")]
    gateway.wait_sent(since, sent_to(ROOM, f"{name} 发广告，已移出本群"), "the notice in the group")
    alert = f"已移出 {name}（{TOPIC}）：发广告"
    gateway.wait_sent(since, sent_to(STAFF_ROOM, alert), "the alert in the staff room")
    gateway.wait_sent(since, sent_to(BOSS, alert), "the alert to the owner")
    assert not [m for m in gateway.sent(since) if m["text"].startswith("收到")], "the ad went on to other playbooks"


@pytest.mark.parametrize(
    ("poster", "posted"),
    [
        ("link", CARD),
        ("miniprogram", {"kind": "miniprogram", "appid": "wx0a1b2c3d4e5f6a7b", "title": "点我领红包"}),
        ("image", {"kind": "image", "image": picture("https://u.wechat.com/EAdSpam"), "name": "qr.png"}),
    ],
    ids=["link card", "mini-program", "QR picture"],
)
def test_an_advertiser_is_removed_and_staff_are_alerted(
    gateway: Gateway, bot: BotProcess, poster: str, posted: dict[str, str]
) -> None:
    before, since = len(bot.lines), gateway.mark()
    gateway.post("/room/post", room=ROOM, **{"from": POSTERS[poster][0]}, **posted)
    removed_with_alerts(gateway, bot, since, poster, posted["kind"])
    clean(bot, before)


def test_a_staff_member_posting_the_same_link_card_is_not_removed(gateway: Gateway, bot: BotProcess) -> None:
    since = gateway.mark()
    gateway.post("/room/post", room=ROOM, **{"from": BOSS}, **CARD)
    gateway.wait_sent(since, sent_to(ROOM, "收到link"), "the answer to the staff member's link card")
    assert not [a for a in gateway.actions(since) if a["action"].startswith("room_del")]
    assert BOSS in members(gateway, ROOM)
    assert not [m for m in gateway.sent(since) if "移出" in m["text"]]


def test_a_removal_wechat_refuses_alerts_staff_why_and_the_bot_goes_on(gateway: Gateway, bot: BotProcess) -> None:
    """The bot is no owner or admin of the group: WeChat refuses room.del, the poster stays, staff learn why."""
    member_id, name = POSTERS["bare"]
    before, since = len(bot.lines), gateway.mark()
    gateway.post("/room/post", room=BARE, **{"from": member_id}, **CARD)
    refused = gateway.wait_action(since, "room_del_refused", room_id=BARE, contact_id=member_id)
    why = f"没能把 {name} 移出「{BARE_TOPIC}」：{refused['error']}。请群主或管理员处理"
    gateway.wait_sent(since, sent_to(STAFF_ROOM, why), "the refusal alert in the staff room")
    gateway.wait_sent(since, sent_to(BOSS, why), "the refusal alert to the owner")
    assert member_id in members(gateway, BARE)
    assert not [a for a in gateway.actions(since) if a["action"] == "room_del"]
    bot.wait_line(rf"WARNING .*removal of {member_id} from room .*\({BARE}\) refused", after=before)

    since = gateway.mark()
    gateway.post("/room/say", room=BARE, **{"from": CUSTOMER}, text="老板，今天有货吗？")
    gateway.wait_sent(since, sent_to(BARE, "收到text"), "the answer to the next customer")
    clean(bot, before)


@pytest.mark.parametrize(
    ("text", "removed"),
    [("好" * 100_000, False), (("今天的团购真划算" * 12_500)[:99_997] + "加微信", True)],
    ids=["ordinary", "ad word at the end"],
)
def test_a_100000_character_text_is_handled_and_the_next_message_answered(
    gateway: Gateway, bot: BotProcess, text: str, removed: bool
) -> None:
    assert len(text) == 100_000
    before, since = len(bot.lines), gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": POSTERS["long"][0]}, text=text)
    if removed:
        removed_with_alerts(gateway, bot, since, "long", "text")
    else:
        gateway.wait_sent(since, sent_to(ROOM, "收到text"), "the answer to the long text")

    since = gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": CUSTOMER}, text="你好")
    gateway.wait_sent(since, sent_to(ROOM, "收到text"), "the answer to the next message")
    clean(bot, before)
