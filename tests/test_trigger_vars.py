"""Every variable a trigger documents is defined in each run it starts: None when the event has none."""

from __future__ import annotations

import logging
from textwrap import dedent

import pytest

from bot.testing import TestBot


def playbooks(*texts: str) -> dict[str, str]:
    return {f"playbooks/{i:02d}.yaml": dedent(text) for i, text in enumerate(texts)}


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


JOIN = """
    id: join
    when:
      - join: {}
    do:
      - choose:
          - if: [{expr: "inviter"}]
            do: [{reply: "{{ inviter.name }} 邀请了 {{ member.name }}"}]
          - else:
              - reply: "{{ member.name }} 自己来的"
"""


async def test_a_join_nobody_invited_has_inviter_none_not_undefined(caplog: pytest.LogCaptureFixture) -> None:
    """`expr: inviter` is simply false on a join by QR code; the run does not fail."""
    async with TestBot.running(playbooks(JOIN)) as bot:
        bot.member("u1", "小王")
        bot.member("u2", "小李")
        assert [m.text for m in await bot.join("u2", "r1")] == ["小李 自己来的"]
        assert [m.text for m in await bot.join("u2", "r2", by="u1")] == ["小王 邀请了 小李"]
        assert errors(caplog) == []


async def test_inviting_yourself_is_no_invitation(caplog: pytest.LogCaptureFixture) -> None:
    """WeChat can name the member as their own inviter: that is no inviter, so no referral reward."""
    source = """
        id: referral
        when:
          - join: {}
        do:
          - points: {add: 20, to: inviter, reason: 转介绍}
    """
    async with TestBot.running(playbooks(JOIN, source)) as bot:
        bot.member("u1", "小王")
        assert [m.text for m in await bot.join("u1", "r1", by="u1")] == ["小王 自己来的"]
        assert await bot.field("u1", "points") == 0
        assert errors(caplog) == []


async def test_a_private_message_has_room_none(caplog: pytest.LogCaptureFixture) -> None:
    source = """
        id: where
        when:
          - message: {text: 在哪, in: any}
        do:
          - choose:
              - if: [{expr: "room"}]
                do: [{reply: "群里：{{ room.topic }}"}]
              - else:
                  - reply: 私聊
    """
    async with TestBot.running(playbooks(source)) as bot:
        await bot.add_room("r1", "会员福利1群")
        assert [m.text for m in await bot.say("u1", "在哪")] == ["私聊"]
        assert [m.text for m in await bot.say("u1", "在哪", room="r1")] == ["群里：会员福利1群"]
        assert errors(caplog) == []


async def test_is_defined_still_means_present(caplog: pytest.LogCaptureFixture) -> None:
    """Playbooks written before (`room is defined`, `inviter is defined`) keep meaning what they meant."""
    source = """
        id: defined
        when:
          - join: {}
          - message: {text: 测试, in: any}
        do:
          - reply: "{{ 'room' if room is defined else 'no room' }}/{{ 'x' if room is not defined else 'y' }}"
    """
    invited = """
        id: invited
        when:
          - join: {}
        if:
          - expr: "inviter is defined"
        do:
          - reply: "感谢 {{ inviter.name }}"
    """
    async with TestBot.running(playbooks(source, invited)) as bot:
        bot.member("u1", "小王")
        assert [m.text for m in await bot.say("u1", "测试")] == ["no room/x"]
        assert [m.text for m in await bot.say("u1", "测试", room="r1")] == ["room/y"]
        assert [m.text for m in await bot.join("u2", "r1")] == ["room/y"]
        assert [m.text for m in await bot.join("u3", "r1", by="u1")] == ["room/y", "感谢 小王"]
        assert [m.text for m in await bot.join("u1", "r2", by="u1")] == ["room/y"]
        assert errors(caplog) == []
