"""A text never shows an empty value where a code, a date or a name belongs: such a send is skipped and logged."""

from __future__ import annotations

import logging
from textwrap import dedent

import pytest

from bot.events import MemberRef
from bot.testing import TestBot


def playbooks(*texts: str) -> dict[str, str]:
    return {f"playbooks/{i:02d}.yaml": dedent(text) for i, text in enumerate(texts)}


def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("qunguan") and r.levelno == level]


GIFT = """
    id: gift
    when:
      - message: {text: 领券}
    do:
      - coupon: {batch: gift}
      - reply: "送你一张{{ coupon.title }} {{ coupon.code }}，{{ coupon.expires }} 前有效"
      - tag: 来领过
    coupons:
      - {id: gift, title: 见面礼, stock: 10, per_member: 1, valid_for: 7d}
"""


async def test_a_coupon_text_with_no_code_is_not_sent_and_the_log_says_where(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The second time the batch allows none: the reply is skipped (not "送你一张见面礼 ， 前有效"), the run goes on."""
    caplog.set_level(logging.INFO, logger="qunguan")
    async with TestBot.running(playbooks(GIFT)) as bot:
        [first] = await bot.say("u1", "领券", room="r1")
        assert first.text.startswith("送你一张见面礼 ")
        assert await bot.say("u1", "领券", room="r1") == []
        assert await bot.field("u1", "tags") == ["来领过"]
        [warning] = logged(caplog, logging.WARNING)
        assert "gift" in warning and "playbooks/00.yaml:7:" in warning and "'coupon.code'" in warning
        assert logged(caplog, logging.ERROR) == []


async def test_an_empty_name_or_a_missing_topic_skips_the_text_not_the_run(caplog: pytest.LogCaptureFixture) -> None:
    """Not only coupons: a member WeChat gave no name, and `room.topic` in a private chat (room is None)."""
    caplog.set_level(logging.INFO, logger="qunguan")
    source = """
        id: hello
        when:
          - message: {text: 你好, in: any}
        do:
          - reply: "你好 {{ member.name | trim }}"
          - reply: "这里是「{{ room.topic }}」"
          - points: 1
    """
    async with TestBot.running(playbooks(source)) as bot:
        bot.members["nameless"] = MemberRef("nameless", "")  # as a connector reports a member without a name
        bot.member("u1", "小王")
        await bot.add_room("r1", "vip")
        assert [m.text for m in await bot.say("nameless", "你好", room="r1")] == ["这里是「vip」"]
        assert [m.text for m in await bot.say("u1", "你好")] == ["你好 小王"]
        assert await bot.field("u1", "points") == 1
        warnings = logged(caplog, logging.WARNING)
        assert len(warnings) == 2
        assert "'member.name'" in warnings[0] and "playbooks/00.yaml:6:" in warnings[0]
        assert "'room.topic'" in warnings[1] and "playbooks/00.yaml:7:" in warnings[1]
        assert logged(caplog, logging.ERROR) == []


async def test_other_empty_values_are_text_like_any_other() -> None:
    """Arguments, reasons and counts may well be empty or zero: only codes, dates and names are guarded."""
    source = """
        id: echo
        when:
          - command: 复述
        do:
          - coupon: {batch: gift}
          - reply: "[{{ message.args | join(' ') }}]{{ coupon.none }}，共 {{ member.points }} 分"
    """
    async with TestBot.running(playbooks(source, GIFT)) as bot:
        assert [m.text for m in await bot.say("u1", "/复述")] == ["[]，共 0 分"]
        assert [m.text for m in await bot.say("u1", "/复述")] == ["[]已领过，共 0 分"]
