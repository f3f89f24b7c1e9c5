"""群公告 through the real Wechaty stack (issue 14, item 6): the shipped group-rules playbook's `/群规` sets the group
announcement by `room.announce` (the test gateway records the call and the text that arrived); where the bot is
no owner or admin WeChat refuses it, and the rules are posted in the group as a message instead while staff
learn why, in their room and privately. A customer's `/群规` changes nothing.

One `qunguan run --connector wechaty` process serves the module, with the shipped playbooks/group-rules.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from wechaty_gateway import ROOT, sent_to

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import BotProcess, Gateway, Qunguan

ROOM, TOPIC = "rules@chatroom", "群规福利群"
BARE, BARE_TOPIC = "rules-bare@chatroom", "没有管理权的群规群"  # the bot is no owner or admin there
STAFF_ROOM = "rules-staff@chatroom"
BOSS, CUSTOMER = "wx_rules_boss", "wx_rules_customer"
PLAYBOOK = (ROOT / "playbooks" / "group-rules.yaml").read_text("utf-8")
# the rules as the playbook writes them (a YAML block: each line indented, ending with a newline)
RULES = re.search(r"- announce: \|\n((?: {14}.*\n)+)", PLAYBOOK)


def rules() -> str:
    assert RULES is not None, "the shipped group-rules playbook has no 'announce: |' block"
    return "\n".join(line.strip() for line in RULES.group(1).splitlines())


@pytest.fixture(scope="module")
def bot(gateway: Gateway, qunguan: Qunguan) -> Iterator[BotProcess]:
    gateway.post("/contact", id=BOSS, name="店长")
    gateway.post("/contact", id=CUSTOMER, name="老顾客")
    gateway.post("/room", id=ROOM, topic=TOPIC, members=[BOSS, CUSTOMER])
    gateway.post("/room", id=BARE, topic=BARE_TOPIC, members=[BOSS, CUSTOMER])
    gateway.post("/room", id=STAFF_ROOM, topic="群规店员群", members=[BOSS])
    gateway.post("/room/admin", room=BARE, admin=False)
    home = qunguan.shop(
        endpoint=gateway.endpoint,
        playbooks=Path("playbooks"),
        rooms=(ROOM, BARE, STAFF_ROOM),
        extra=f"staff: {{owner: [{BOSS}]}}\nalerts: {{room: {STAFF_ROOM}, to: [{BOSS}]}}\n",
    )
    (home / "playbooks").mkdir()
    (home / "playbooks" / "group-rules.yaml").write_text(PLAYBOOK, encoding="utf-8")
    process = qunguan.start(home, token=gateway.token)
    try:
        process.wait_line(r"logged in to WeChat as " + gateway.bot_name)
        process.wait_line(r"running; stop with")
        # staff talk in their room: the bot knows the alert room (a customer's /群规 there gets the refusal)
        since = gateway.mark()
        gateway.post("/room/say", room=STAFF_ROOM, **{"from": BOSS}, text="今天谁值班？")
        gateway.post("/room/say", room=ROOM, **{"from": CUSTOMER}, text="/群规")
        gateway.wait_sent(since, sent_to(ROOM, "只有店员可以设置群规"), "the refusal of the customer's /群规")
        yield process
    finally:
        process.stop()


def announcement(gateway: Gateway, room: str) -> str | None:
    return next(r["announcement"] for r in gateway.call("GET", "/state")["rooms"] if r["id"] == room)


def clean(bot: BotProcess, after: int) -> None:
    assert "Traceback" not in "\n".join(bot.lines[after:])
    assert bot.process.poll() is None, bot.log


def test_a_customers_group_rules_command_sets_nothing(gateway: Gateway, bot: BotProcess) -> None:
    assert not [a for a in gateway.actions() if a["action"].startswith("room_announce")]
    assert announcement(gateway, ROOM) is None


def test_the_staff_command_sets_the_group_rules_as_the_announcement(gateway: Gateway, bot: BotProcess) -> None:
    before, since = len(bot.lines), gateway.mark()
    gateway.post("/room/say", room=ROOM, **{"from": BOSS}, text="/群规")
    made = gateway.wait_action(since, "room_announce", room_id=ROOM)
    assert made["text"] == rules()
    assert "【本群群规】" in made["text"] and "禁止发广告" in made["text"]
    assert announcement(gateway, ROOM) == rules()
    bot.wait_line(r"sent announcement \d+ to room", after=before)
    assert not [m for m in gateway.sent(since) if "本群群规" in m["text"]], "the rules were posted as well"
    clean(bot, before)


def test_where_wechat_refuses_the_rules_are_posted_and_staff_learn_why(gateway: Gateway, bot: BotProcess) -> None:
    before, since = len(bot.lines), gateway.mark()
    gateway.post("/room/say", room=BARE, **{"from": BOSS}, text="/群规")
    refused = gateway.wait_action(since, "room_announce_refused", room_id=BARE)
    assert refused["text"] == rules()
    posted = gateway.wait_sent(since, sent_to(BARE, "【本群群规】"), "the rules posted in the group")
    assert posted["text"] == rules()
    why = f"没能设置「{BARE_TOPIC}」的群公告：{refused['error']}。公告内容已作为消息发在群里"
    gateway.wait_sent(since, sent_to(STAFF_ROOM, why), "the refusal alert in the staff room")
    gateway.wait_sent(since, sent_to(BOSS, why), "the refusal alert to the owner")
    assert announcement(gateway, BARE) is None
    bot.wait_line(rf"WARNING .*announcement in room .*\({BARE}\) refused", after=before)

    since = gateway.mark()  # the bot goes on: the next /群规 in the group it administers still works
    gateway.post("/room/say", room=ROOM, **{"from": BOSS}, text="/群规")
    gateway.wait_action(since, "room_announce", room_id=ROOM)
    clean(bot, before)
