"""Moderation against the member who abuses it: renames, forged alert lines, template text in names, staff
commands that quote spam, floods of ads, and staff commands aimed at nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.testing import TestBot
from handlers.moderation.log import ModerationEntry

pytestmark = pytest.mark.usefixtures("backend")

STAFF = {"owner": ["boss"], "admin": ["mgr"], "staff": ["clerk"]}
CONFIG = Config.model_validate({"staff": STAFF, "alerts": {"room": "staffroom"}})
ANTI_AD = """
id: anti-ad
when:
  - message: {words: ads}
do:
  - warn: {reason: 发广告}
  - choose:
      - if: [{expr: "warn.count >= 3"}]
        do:
          - remove: {reason: 发广告}
          - say: "{{ member.name }} 发广告，已移出本群"
          - alert: "已移出 {{ member.name }}（{{ room.topic }}）：发广告"
      - else:
          - reply: "请勿发广告，这是第 {{ warn.count }} 次提醒（3 次将被移出）"
wordlists:
  ads: [加微信, 兼职刷单]
"""
ALERT_ONLY = """
id: watch
when:
  - message: {words: ads}
do:
  - alert: "{{ member.name }} 在「{{ room.topic }}」发广告"
wordlists:
  ads: [加微信]
"""
FLOOD = """
id: anti-flood
when:
  - flood: {same_text: 3, within: 2m}
do:
  - warn: {reason: 刷屏}
  - reply: 请不要刷屏哦～
"""


def staff_alerts(bot: TestBot) -> list[str]:
    return [m.text for m in bot.sent if m.target_id == "staffroom"]


async def started(playbook: str, **options: object) -> TestBot:
    bot = await TestBot.create({"playbooks/p.yaml": playbook}, config=CONFIG, **options)  # type: ignore[arg-type]
    await bot.add_room("staffroom", "店员群")
    return bot


async def test_an_advertiser_renamed_as_a_staff_member_is_still_moderated() -> None:
    bot = await started(ANTI_AD)
    try:
        bot.member("clerk", "店员小李")
        bot.member("u9", "店员小李")  # staff are known by WeChat id, never by a display name
        sent = await bot.say("u9", "加微信 领福利", room="r1")
        assert [m.text for m in sent] == ["请勿发广告，这是第 1 次提醒（3 次将被移出）"]
        assert await bot.field("u9", "warnings") == 1
    finally:
        await bot.close()


async def test_a_name_with_line_breaks_and_template_braces_is_one_literal_line_in_alerts_and_the_log() -> None:
    bot = await started(ALERT_ONLY)
    try:
        bot.member("u9", "推广员\n店长：已处理，不用管 {{ room.topic }}")
        await bot.say("u9", "加微信", room="r1")
        (alert,) = staff_alerts(bot)
        assert "\n" not in alert
        assert "{{ room.topic }}" in alert  # the name's text, never evaluated
        answer = await bot.say("clerk", "/违规")
        assert all("\n店长" not in m.text for m in answer)
    finally:
        await bot.close()


async def test_a_staff_command_quoting_the_spam_is_not_moderated() -> None:
    bot = await started(ANTI_AD)
    try:
        bot.member("u9", "推广员")
        await bot.say("u9", "大家好", room="r1")
        sent = await bot.say("clerk", "/警告 @推广员\u2005 加微信 兼职刷单", room="r1", mentions=("u9",))
        assert [m.text for m in sent] == ["已警告 推广员（加微信 兼职刷单），30 天内第 1 次"]
        rows = await bot.rows(select(ModerationEntry.member_id, ModerationEntry.staff_id))
        assert [tuple(r) for r in rows] == [("u9", "clerk")]
    finally:
        await bot.close()


async def test_flood_counts_follow_the_member_through_a_rename() -> None:
    bot = await started(FLOOD)
    try:
        await bot.say("u9", "进群领红包", room="r1")
        bot.member("u9", "换个名字")
        await bot.say("u9", "进群领红包", room="r1")
        bot.member("u9", "又换一个")
        assert [m.text for m in await bot.say("u9", "进群领红包", room="r1")] == ["请不要刷屏哦～"]
    finally:
        await bot.close()


async def test_undoing_a_member_never_punished_and_lifting_an_unknown_id_answer_plainly() -> None:
    bot = await started(ANTI_AD)
    try:
        bot.member("u9", "路人")
        await bot.say("u9", "大家好", room="r1")
        answer = await bot.say("mgr", "/撤销 @路人\u2005", room="r1", mentions=("u9",))
        assert [m.text for m in answer] == ["路人 没有警告、拉黑或被移出的记录，不用撤销"]
        assert [m.text for m in await bot.say("mgr", "/解封 wxid_nobody")] == ["wxid_nobody 不在黑名单上"]
        assert [m.invite for m in bot.sent] == [False, False]
    finally:
        await bot.close()


async def test_ads_after_the_removal_is_on_its_way_do_not_repeat_its_announcement() -> None:
    bot = await started(ANTI_AD, governor=True)
    try:
        bot.member("u9", "推广员")
        for _ in range(10):
            await bot.say("u9", "加微信", room="r1")
            await bot.advance(timedelta(seconds=1))
        await bot.advance(timedelta(minutes=10))
        told = [(m.target_id, m.text) for m in bot.sent if "已移出" in m.text]
        assert sorted(told) == [("r1", "推广员 发广告，已移出本群"), ("staffroom", "已移出 推广员（r1）：发广告")]
        assert [m.member.id for m in bot.sent if m.remove] == ["u9"]
    finally:
        await bot.close()


async def test_a_flood_of_ads_costs_staff_one_alert_a_while_saying_how_many_were_held_back() -> None:
    bot = await started(ALERT_ONLY)
    try:
        bot.member("u9", "推广员")
        for _ in range(100):
            await bot.say("u9", "加微信", room="r1")
            await bot.advance(timedelta(milliseconds=600))
        assert staff_alerts(bot) == ["推广员 在「r1」发广告"]
        await bot.advance(timedelta(minutes=10))
        await bot.say("u9", "加微信", room="r1")
        assert staff_alerts(bot)[1:] == ["推广员 在「r1」发广告（上次提醒后又有 99 条同类提醒未发）"]
        await bot.say("u8", "加微信", room="r1")  # another member: their own alert at once
        assert staff_alerts(bot)[2:] == ["u8 在「r1」发广告"]
    finally:
        await bot.close()


async def test_the_alert_room_is_never_moderated_nor_welcomed_even_when_it_is_a_managed_group() -> None:
    welcome = "id: welcome\nwhen:\n  - join: {}\ndo:\n  - say: 欢迎 {{ member.name }} 进群，领券回复 抢券\n"
    playbooks = {"playbooks/p.yaml": ANTI_AD, "playbooks/welcome.yaml": welcome}
    rooms = [{"id": "r1"}, {"id": "staffroom", "topic": "店员群"}]
    cfg = Config.model_validate({"staff": STAFF, "alerts": {"room": "店员群"}, "rooms": rooms})
    async with TestBot.running(playbooks, config=cfg) as bot:
        await bot.add_room("staffroom", "店员群")
        assert await bot.join("newclerk", "staffroom") == []  # a new clerk not in config.yaml yet
        assert await bot.say("newclerk", "有人在群里发 加微信 的广告", room="staffroom") == []
        assert await bot.field("newclerk", "warnings") == 0
        assert [m.text for m in await bot.join("u5", "r1")] == ["欢迎 u5 进群，领券回复 抢券"]


async def test_a_newcomer_a_blacklisted_member_pulled_in_is_flagged_to_staff_as_a_possible_alt() -> None:
    bot = await started(ANTI_AD)
    try:
        bot.member("u9", "骗子")
        await bot.say("u9", "大家好", room="r1")
        await bot.say("mgr", "/拉黑 @骗子\u2005 诈骗", room="r1", mentions=("u9",))
        bot.member("u7", "新人")
        await bot.join("u7", "r2", by="u9")  # the blacklisted member's alt, invited into another group
        assert staff_alerts(bot)[-1] == "黑名单成员 骗子（u9）拉了 新人（u7）进「r2」，可能是小号，请留意"
        await bot.join("u6", "r2", by="u5")
        assert not any("u6" in text for text in staff_alerts(bot))
    finally:
        await bot.close()
