"""`do:` actions through the engine: what members receive and what the store keeps."""

from __future__ import annotations

import logging
from datetime import datetime
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import Config
from bot.events import Outgoing
from bot.testing import TestBot
from handlers.coupons import Coupon
from handlers.points import PointsEntry

TZ = ZoneInfo("Asia/Shanghai")


def playbooks(*texts: str) -> dict[str, str]:
    return {f"playbooks/{i:02d}.yaml": dedent(text) for i, text in enumerate(texts)}


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("qunguan") and r.levelno == level]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


# -- reply, say, dm


async def test_reply_with_mention_mentions_the_sender_in_a_group_only() -> None:
    """In a private chat there is nobody to @; the reply goes to the member."""
    source = """
        id: hello
        when:
          - message: {text: 你好, in: any}
        do:
          - reply: 你好呀
            mention: true
          - reply: 不点名
    """
    async with TestBot.running(playbooks(source)) as bot:
        group = await bot.say("u1", "你好", room="r1")
        assert [(m.target_id, [x.id for x in m.mentions]) for m in group] == [("r1", ["u1"]), ("r1", [])]
        private = await bot.say("u1", "你好")
        assert [(m.room, m.target_id, m.mentions) for m in private] == [(None, "u1", ()), (None, "u1", ())]


async def test_say_posts_to_another_room_by_topic_or_id(caplog: pytest.LogCaptureFixture) -> None:
    """Staff announce in one group and the bot posts in another; an unknown group fails the run clearly."""
    caplog.set_level(logging.INFO, logger="qunguan")
    source = """
        id: relay
        when:
          - command: 转发
        do:
          - say: {text: "通知：{{ message.args | join(' ') }}", room: 二群}
          - say: {text: 也发这里, room: r3}
          - say: 原地回复
    """
    missing = """
        id: missing
        when:
          - command: 转发
        do:
          - say: {text: 发不出去, room: 不存在的群}
    """
    async with TestBot.running(playbooks(source, missing)) as bot:
        await bot.add_room("r2", "二群")
        await bot.add_room("r3", "三群")
        sent = await bot.say("boss", "/转发 今晚 8 点", room="r1")
        expected = [("r2", "通知：今晚 8 点"), ("r3", "也发这里"), ("r1", "原地回复")]
        assert [(m.target_id, m.text) for m in sent] == expected
        [error] = logged(caplog, logging.ERROR)
        assert "missing" in error and "不存在的群" in error


async def test_dm_to_a_friend_is_a_private_message() -> None:
    """Friends can be written to privately, even about something said in a group."""
    source = """
        id: whisper
        when:
          - message: {text: 福利}
        do:
          - dm: "{{ member.name }}，这是你的福利"
    """
    async with TestBot.running(playbooks(source)) as bot:
        bot.member("u1", "小王")
        [message] = await bot.say("u1", "福利", room="r1")
        assert (message.room, message.target_id, message.text) == (None, "u1", "小王，这是你的福利")


async def test_dm_to_a_non_friend_falls_back_to_a_mention_in_the_room_by_default() -> None:
    """WeChat does not deliver private messages to strangers; the group @ reaches them instead."""
    source = """
        id: whisper
        when:
          - message: {text: 福利}
        do:
          - dm: 这是你的福利
    """
    async with TestBot.running(playbooks(source)) as bot:
        await bot.seed("u1", friend=False)
        [message] = await bot.say("u1", "福利", room="r1")
        assert (message.target_id, [m.id for m in message.mentions], message.text) == ("r1", ["u1"], "这是你的福利")


async def test_dm_to_a_non_friend_is_skipped_and_logged_when_config_says_skip(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`dm_fallback: skip`: nothing is sent, the log says why, and the run still completes."""
    caplog.set_level(logging.INFO, logger="qunguan")
    source = """
        id: whisper
        when:
          - message: {text: 福利}
        do:
          - dm: 这是你的福利
          - tag: 通知过
    """
    cfg = Config.model_validate({"dm_fallback": "skip"})
    async with TestBot.running(playbooks(source), config=cfg) as bot:
        await bot.seed("u1", friend=False)
        assert await bot.say("u1", "福利", room="r1") == []
        assert await bot.field("u1", "tags") == ["通知过"]
        assert any("u1" in line and "not the bot's friend" in line for line in logged(caplog, logging.INFO))
        assert logged(caplog, logging.ERROR) == []


# -- points


async def test_points_never_go_below_zero_and_the_balance_is_the_ledger_sum(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused subtraction changes nothing and says clearly why; the ledger always adds up."""
    caplog.set_level(logging.INFO, logger="qunguan")
    earn = """
        id: earn
        when:
          - message: {text: 赚}
        do:
          - points: 10
    """
    spend = """
        id: spend
        when:
          - message: {text: 花}
        do:
          - points: {add: -7, reason: 兑换}
          - reply: "剩 {{ member.points }}"
    """
    splurge = """
        id: splurge
        when:
          - message: {text: 挥霍}
        do:
          - points: {add: -100, reason: 大兑换}
          - reply: 兑换成功
    """
    async with TestBot.running(playbooks(earn, spend, splurge)) as bot:
        bot.member("u1", "小王")
        for text in ("赚", "赚", "花"):
            await bot.say("u1", text, room="r1")
        assert texts(bot.sent) == ["剩 13"]
        assert await bot.say("u1", "挥霍", room="r1") == []
        [error] = logged(caplog, logging.ERROR)
        assert "splurge" in error and "小王 has fewer than 100 points" in error
        assert texts(await bot.say("u1", "花", room="r1")) == ["剩 6"]
        assert texts(await bot.say("u1", "花", room="r1")) == []  # 6 - 7 < 0: refused too
        ledger = PointsEntry.__table__
        totals = select(func.sum(ledger.c.delta), func.count()).where(ledger.c.member_id == "u1")
        [(total, count)] = await bot.rows(totals)
        assert (total, count) == (6, 4)
        assert await bot.field("u1", "points") == 6
        [(last,)] = await bot.rows(select(ledger.c.balance).order_by(ledger.c.id.desc()).limit(1))
        assert last == 6


async def test_points_may_go_below_zero_only_when_allowed() -> None:
    """`allow_negative: true` is the explicit opt-in for debts."""
    source = """
        id: fine
        when:
          - message: {text: 罚}
        do:
          - points: {add: -3, allow_negative: true}
    """
    async with TestBot.running(playbooks(source)) as bot:
        await bot.say("u1", "罚", room="r1")
        assert await bot.field("u1", "points") == -3


# -- tags


async def test_tag_and_untag() -> None:
    """Tagging twice keeps one tag; untag removes it; untagging a missing tag is harmless."""
    tag = """
        id: tag
        when:
          - message: {text: 关注}
        do:
          - tag: 关注
          - tag: 关注
          - tag: 618
    """
    untag = """
        id: untag
        when:
          - message: {text: 取消}
        do:
          - untag: 关注
          - untag: 从没有过
    """
    async with TestBot.running(playbooks(tag, untag)) as bot:
        await bot.say("u1", "关注", room="r1")
        assert await bot.field("u1", "tags") == ["618", "关注"]
        await bot.say("u1", "取消", room="r1")
        assert await bot.field("u1", "tags") == ["618"]
        assert await bot.field("u2", "tags") == []


# -- to: inviter


WELCOME = """
    id: welcome
    when:
      - join: {}
    do:
      - points: 10
      - points: {add: 20, to: inviter, reason: 转介绍}
      - tag: {name: 拉新, to: inviter}
      - reply: 欢迎 {{ member.name }}
"""


async def test_to_inviter_credits_whoever_invited_the_new_member() -> None:
    """Referral rewards go to the inviter; the new member gets their own welcome points."""
    async with TestBot.running(playbooks(WELCOME)) as bot:
        bot.member("u2", "小李")
        assert texts(await bot.join("u2", "r1", by="u1")) == ["欢迎 小李"]
        assert await bot.field("u1", "points") == 20
        assert await bot.field("u1", "tags") == ["拉新"]
        assert await bot.field("u2", "points") == 10
        assert await bot.field("u2", "tags") == []


async def test_to_inviter_without_an_inviter_skips_that_action_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Joining by QR code has no inviter: nobody is credited, which is not a failure of the welcome."""
    caplog.set_level(logging.INFO, logger="qunguan")
    async with TestBot.running(playbooks(WELCOME)) as bot:
        bot.member("u2", "小李")
        assert texts(await bot.join("u2", "r1")) == ["欢迎 小李"]
        assert await bot.field("u2", "points") == 10
        ledger = PointsEntry.__table__
        assert [r.member_id for r in await bot.rows(select(ledger.c.member_id))] == ["u2"]
        assert logged(caplog, logging.ERROR) == []
        skipped = [line for line in logged(caplog, logging.INFO) if "skipped" in line]
        assert len(skipped) == 2
        assert all("welcome" in line and "no inviter" in line for line in skipped)


# -- choose


async def test_choose_runs_the_first_matching_branch_else_the_else_branch() -> None:
    """Branches are tried in order; only one runs."""
    earn = """
        id: earn
        when:
          - message: {text: 赚}
        do:
          - points: 50
    """
    level = """
        id: level
        when:
          - message: {text: 等级}
        do:
          - choose:
              - if: [{expr: "member.points >= 100"}]
                do: [{reply: 金}]
              - if: [{expr: "member.points >= 50"}]
                do: [{reply: 银}, {tag: 银卡}]
              - else:
                  - reply: 铜
          - reply: 完
    """
    async with TestBot.running(playbooks(earn, level)) as bot:
        assert texts(await bot.say("u1", "等级", room="r1")) == ["铜", "完"]
        await bot.say("u1", "赚", room="r1")
        assert texts(await bot.say("u1", "等级", room="r1")) == ["银", "完"]
        assert await bot.field("u1", "tags") == ["银卡"]
        await bot.say("u1", "赚", room="r1")
        assert texts(await bot.say("u1", "等级", room="r1")) == ["金", "完"]


# -- codes never in a group (dm_fallback: mention)


GIFT = """
    id: gift
    when:
      - message: {text: 领券}
    do:
      - coupon: {batch: gift}
      - dm: "{{ member.name }}，你的{{ coupon.title }}券码 {{ coupon.code }}，{{ coupon.expires }} 前有效"
    coupons:
      - {id: gift, title: 见面礼, stock: 10, per_member: 1, valid_for: 7d}
"""

WALLET = """
    id: wallet
    when:
      - command: 我的券
    do:
      - dm: "{% for c in member.wallet %}{{ c.title }} {{ c.code }}{% endfor %}"
"""


async def test_a_dm_with_a_coupon_code_never_falls_back_to_the_group() -> None:
    """A non-friend gets an @-mention without the code; a copier in the group never sees it; once a friend,
    the member reads the code privately: the coupon stayed theirs."""
    async with TestBot.running(playbooks(GIFT, WALLET)) as bot:
        bot.member("u1", "小王")
        await bot.seed("u1", friend=False)
        [hint] = await bot.say("u1", "领券", room="r1")
        [(code,)] = await bot.rows(select(Coupon.__table__.c.code).where(Coupon.__table__.c.member_id == "u1"))
        assert (hint.target_id, [m.id for m in hint.mentions]) == ("r1", ["u1"])
        assert "加我为好友" in hint.text and "我的券" in hint.text
        assert await bot.say("u1", "/我的券", room="r1") != []  # the wallet is a code too: again only a hint
        in_group = [m.text for m in bot.sent if m.room is not None]
        assert in_group and not any(code in text for text in in_group)  # what the copier in r1 can read
        await bot.befriend("u1")
        [private] = await bot.say("u1", "/我的券")
        assert (private.room, private.target_id, private.text) == (None, "u1", f"见面礼 {code}")


async def test_a_dm_marked_private_never_falls_back_to_the_group() -> None:
    source = """
        id: secret
        when:
          - message: {text: 会员价}
        do:
          - dm: 内部会员价：酸菜鱼 58 元
            private: true
          - dm: 这条可以在群里说
    """
    async with TestBot.running(playbooks(source)) as bot:
        await bot.seed("u1", friend=False)
        sent = await bot.say("u1", "会员价", room="r1")
        assert all(m.target_id == "r1" and [x.id for x in m.mentions] == ["u1"] for m in sent)
        assert not any("58 元" in m.text for m in sent)
        assert "加我为好友" in sent[0].text and sent[1].text == "这条可以在群里说"


async def test_a_reply_or_say_with_a_code_in_a_group_never_shows_it_there(caplog: pytest.LogCaptureFixture) -> None:
    """A reply carrying a code goes to the member privately (a hint in the group for a non-friend); `say` to a
    group refuses it with a warning naming the playbook and line. The run goes on."""
    caplog.set_level(logging.INFO, logger="qunguan")
    source = """
        id: careless
        when:
          - message: {text: 领券}
        do:
          - coupon: {batch: gift}
          - reply: "恭喜 {{ member.name }} 领到 {{ coupon.code }}"
          - say: "本群今日券码：{{ coupon.code }}"
          - tag: 领过券
    """
    batch = """
        id: batch
        when:
          - command: 无
        do:
          - reply: 无
        coupons:
          - {id: gift, title: 见面礼, stock: 10, per_member: 5, valid_for: 7d}
    """
    async with TestBot.running(playbooks(source, batch)) as bot:
        bot.member("u1", "小王")
        [friend] = await bot.say("u1", "领券", room="r1")
        assert (friend.room, friend.target_id) == (None, "u1") and "恭喜 小王 领到" in friend.text
        await bot.seed("u2", friend=False)
        [hint] = await bot.say("u2", "领券", room="r1")
        assert hint.target_id == "r1" and "加我为好友" in hint.text
        codes = [r.code for r in await bot.rows(select(Coupon.__table__.c.code))]
        assert len(codes) == 2 and not any(c in m.text for c in codes for m in bot.sent if m.room is not None)
        assert await bot.field("u2", "tags") == ["领过券"]
        warnings = logged(caplog, logging.WARNING)
        assert len(warnings) == 2 and all("careless" in w and "00.yaml:8:" in w for w in warnings)


async def test_member_fields_in_a_text_follow_every_write_earlier_in_the_run() -> None:
    """A balance a write just returned is shown without reading it again: never the one before a later write."""
    rich = """
        id: rich
        when:
          - message: {text: 签到}
        do:
          - reply: "前 {{ member.points }}"
          - checkin: {points: 5}
          - reply: "签到后 {{ member.points }}"
          - points: {add: 3}
          - reply: "加分后 {{ member.points }}"
          - points: {add: -20, allow_negative: true}
          - reply: "扣分后 {{ member.points }}"
    """
    async with TestBot.running(playbooks(rich), start=local(2026, 11, 23, 9, 0)) as bot:
        assert texts(await bot.say("u1", "签到", room="r1")) == ["前 0", "签到后 5", "加分后 8", "扣分后 -12"]
        await bot.advance_to(local(2026, 11, 24, 9, 0))
        assert texts(await bot.say("u1", "签到", room="r1")) == ["前 -12", "签到后 -7", "加分后 -4", "扣分后 -24"]
