"""Opting out (退订): no more dm or for_each messages from any playbook; replies to the member still work."""

from __future__ import annotations

from textwrap import dedent

from bot.config import Config, OptOutSection
from bot.testing import TestBot

PLAYBOOKS = {
    "playbooks/hello.yaml": dedent("""
        id: hello
        when:
          - message: {text: 你好, in: any}
        do:
          - reply: 你好呀
          - dm: 私信：本周活动预告
    """),
    "playbooks/unsubscribe-words.yaml": dedent("""
        id: shadow
        when:
          - message: {text: 退订, in: any}
        do:
          - reply: 这条不该出现
    """),
}


async def test_an_opted_out_member_gets_replies_but_no_private_messages_until_they_opt_in() -> None:
    async with TestBot.running(PLAYBOOKS) as bot:
        assert [m.text for m in await bot.say("u1", "你好", room="r1")] == ["你好呀", "私信：本周活动预告"]
        (confirm,) = await bot.say("u1", "  退订 ", room="r1")
        assert confirm.text.startswith("已退订") and confirm.target_id == "r1"
        assert [m.text for m in await bot.say("u1", "你好", room="r1")] == ["你好呀"]
        assert await bot.say("u1", "退订") != []  # saying it again is harmless
        (back,) = await bot.say("u1", "订阅")
        assert back.text.startswith("已恢复订阅") and back.room is None
        assert [m.text for m in await bot.say("u1", "你好", room="r1")] == ["你好呀", "私信：本周活动预告"]


async def test_the_words_and_answers_come_from_config() -> None:
    config = Config(opt_out=OptOutSection(stop=["别发了"], resume=["继续发"], stopped="好的，不打扰了"))
    async with TestBot.running(PLAYBOOKS, config=config) as bot:
        assert [m.text for m in await bot.say("u1", "退订")] == ["这条不该出现"]  # not a stop word here
        assert [m.text for m in await bot.say("u1", "别发了")] == ["好的，不打扰了"]
        assert [m.text for m in await bot.say("u1", "你好")] == ["你好呀"]
