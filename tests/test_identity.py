"""Stable identity: people and groups are known by id; the names and topics they had are kept."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.tables import Member, NameChange, Room, TopicChange
from bot.testing import TestBot

ECHO = """
id: echo
when:
  - message: {text: 我是谁}
do:
  - reply: "{{ member.name }}"
"""


async def test_a_renamed_member_is_one_member_and_their_old_names_are_kept() -> None:
    async with TestBot.running({"playbooks/echo.yaml": ECHO}) as bot:
        bot.member("u1", "小王")
        assert [m.text for m in await bot.say("u1", "我是谁", room="r1")] == ["小王"]
        bot.member("u1", "店长")  # a customer renames himself "店长": still u1, still a member
        assert [m.text for m in await bot.say("u1", "我是谁", room="r1")] == ["店长"]
        await bot.say("u1", "我是谁", room="r1")
        names = await bot.rows(select(NameChange.name).where(NameChange.member_id == "u1").order_by(NameChange.id))
        assert [r.name for r in names] == ["小王", "店长"]
        assert (await bot.rows(select(Member.name).where(Member.id == "u1")))[0].name == "店长"
        assert len(await bot.rows(select(Member.id))) == 1


async def test_a_room_rename_is_recorded_with_who_did_it() -> None:
    async with TestBot.running({"playbooks/echo.yaml": ECHO}) as bot:
        await bot.add_room("r1", "会员福利1群")
        await bot.rename_room("r1", "会员福利群（新）", by="boss")
        topics = await bot.rows(select(TopicChange.topic, TopicChange.by_member_id).order_by(TopicChange.id))
        assert [tuple(r) for r in topics] == [("会员福利1群", None), ("会员福利群（新）", "boss")]
        assert (await bot.rows(select(Room.topic).where(Room.id == "r1")))[0].topic == "会员福利群（新）"


async def test_a_message_with_an_unchanged_name_adds_no_history() -> None:
    async with TestBot.running({"playbooks/echo.yaml": ECHO}) as bot:
        bot.member("u1", "小王")
        for _ in range(3):
            await bot.say("u1", "我是谁", room="r1")
        await bot.join("u1", "r2")
        await bot.leave("u1", "r2")
        assert len(await bot.rows(select(NameChange.id))) == 1
