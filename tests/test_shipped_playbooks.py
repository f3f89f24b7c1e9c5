"""The shipped playbooks against the member who abuses them, and the texts customers read."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import Config, RoomSection
from bot.testing import TestBot

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
CONFIG = Config(
    rooms=[
        RoomSection(id="r1", topic="会员福利1群", tags=["会员群"]),
        RoomSection(id="r2", topic="会员福利2群", tags=["会员群"]),
    ],
)


@asynccontextmanager
async def shop(start: datetime = MONDAY) -> AsyncIterator[TestBot]:
    """The shipped playbooks folder, in two member groups."""
    async with TestBot.running(ROOT / "playbooks", config=CONFIG, start=start) as bot:
        for room in CONFIG.rooms:
            assert room.id is not None and room.topic is not None
            await bot.add_room(room.id, room.topic)
        yield bot


def texts(sent: list) -> list[str]:
    return [m.text for m in sent]


@pytest.fixture(autouse=True)
def no_failures(caplog: pytest.LogCaptureFixture):
    yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- farming


async def test_leaving_and_rejoining_never_farms_the_welcome_points() -> None:
    """20 leave/rejoin cycles (and a second group) pay the welcome once; a returning member is still greeted,
    once a day, so the cycles do not flood the group either."""
    async with shop() as bot:
        bot.member("u1", "小王")
        [first] = await bot.join("u1", "r1")
        assert first.text.startswith("欢迎 小王 加入「会员福利1群」")
        again = []
        for _ in range(20):
            await bot.leave("u1", "r1")
            again += await bot.join("u1", "r1")
        again += await bot.join("u1", "r2")
        assert [(m.text, [x.id for x in m.mentions]) for m in again] == [("欢迎 小王 回到「会员福利1群」～", ["u1"])]
        await bot.advance(timedelta(days=1))
        await bot.leave("u1", "r1")
        assert texts(await bot.join("u1", "r1")) == ["欢迎 小王 回到「会员福利1群」～"]
        assert await bot.field("u1", "points") == 10
        assert await bot.field("u1", "tags") == ["新人"]


async def test_the_welcome_comes_before_the_referral_thanks() -> None:
    async with shop() as bot:
        bot.member("u1", "小王")
        bot.member("u2", "小李")
        sent = await bot.join("u2", "r1", by="u1")
        assert [m.target_id for m in sent] == ["r1", "r1"]
        assert sent[0].text.startswith("欢迎 小李 加入")
        assert sent[1].text == "感谢 小王 邀请 小李 入群，小王 +20 分！"
        assert await bot.field("u1", "points") == 20


async def test_a_referral_pays_only_for_a_first_join_and_never_yourself() -> None:
    """Rejoining, a member who first came by QR code and is then 'invited', and a self-invitation pay nobody."""
    async with shop() as bot:
        await bot.join("u2", "r1", by="u1")
        await bot.leave("u2", "r1")
        await bot.join("u2", "r1", by="u1")
        await bot.join("u2", "r2", by="u1")
        await bot.join("u3", "r1")
        await bot.leave("u3", "r1")
        assert not any("感谢" in m.text for m in await bot.join("u3", "r1", by="u1"))
        assert await bot.field("u1", "points") == 20
        assert not any("感谢" in m.text for m in await bot.join("u4", "r1", by="u4"))
        assert await bot.field("u4", "points") == 10


async def test_inviting_alts_in_bulk_pays_for_five_a_day() -> None:
    """A member inviting 8 fresh accounts in a day is paid for 5; the rest are still welcomed; tomorrow counts anew."""
    async with shop() as bot:
        for i in range(8):
            sent = await bot.join(f"alt{i}", "r1", by="u1")
            assert sent[0].text.startswith(f"欢迎 alt{i} 加入")
        assert await bot.field("u1", "points") == 100
        await bot.advance(timedelta(days=1))
        await bot.join("alt8", "r1", by="u1")
        assert await bot.field("u1", "points") == 120


async def test_checking_in_twice_in_two_groups_and_privately_pays_once_a_day() -> None:
    async with shop() as bot:
        for room in ("r1", "r1", "r2", None):
            await bot.say("u1", "签到", room=room)
        await bot.say("u1", "打卡", room="r2")
        assert await bot.field("u1", "points") == 5


# -- moderation


def customer_lines() -> list[str]:
    """Every group line a customer says in the shipped scenarios that are not about moderation."""
    lines = []
    for file in sorted((ROOT / "playbooks" / "tests").glob("*.yaml")):
        if file.name.startswith("moderation-"):
            continue
        scenario = yaml.safe_load(file.read_text("utf-8"))
        staff = {m["id"] for m in scenario.get("members", []) if m.get("role")}
        for step in scenario["steps"]:
            said = step.get("say") if isinstance(step, dict) else None
            if said and said.get("room") and said.get("text") and said["member"] not in staff:
                lines.append(said["text"])
    return sorted(set(lines))


async def test_customers_saying_what_the_shipped_scenarios_say_are_never_warned() -> None:
    """The moderation playbooks ship beside the others: a newcomer's first line (the strictest case, removed at once
    if anything fired) is never taken for an ad, a banned word or a flood."""
    lines = customer_lines()
    assert len(lines) > 15 and "签到" in lines and "抢券" in lines
    async with shop() as bot:
        for n, line in enumerate(lines):
            sent = await bot.say(f"new{n}", line, room="r1")
            assert not any(m.remove or "提醒" in m.text or "刷屏" in m.text for m in sent), (line, texts(sent))
            assert await bot.field(f"new{n}", "warnings") == 0, line


# -- texts


async def test_the_group_checkin_reply_says_who_checked_in() -> None:
    async with shop() as bot:
        bot.member("u1", "小王")
        assert texts(await bot.say("u1", "签到", room="r1")) == ["小王 签到成功！连续 1 天，+5 分，共 5 分"]
        assert texts(await bot.say("u1", "签到", room="r1")) == ["小王 今天已经签到过啦，明天再来～"]
        assert texts(await bot.say("u1", "/积分")) == ["小王，你当前有 5 积分，已连续签到 1 天"]


async def test_the_drop_says_how_long_claiming_lasts_and_how_it_ended_for_nobody() -> None:
    """ "30 分钟内有效" read as the coupon's validity; a drop nobody claimed does not report "共 0 位"."""
    async with shop(start=datetime(2026, 11, 28, 11, 59, tzinfo=TZ)) as bot:
        sent = await bot.advance(timedelta(minutes=1))
        [announcement] = [m.text for m in sent if m.target_id == "r1"]
        assert "30 分钟内有效" not in announcement
        assert "30 分钟后截止" in announcement and "领到后 7 天内有效" in announcement
        ended = texts(await bot.advance(timedelta(minutes=30)))
        assert ended == ["本轮抢券结束，这次没有人领周末满100减10券，下次记得来抢哦～"] * 2


async def test_points_in_quiz_texts_are_spaced_like_every_other_points_text() -> None:
    async with shop(start=datetime(2026, 11, 25, 19, 59, tzinfo=TZ)) as bot:
        [question] = [m.text for m in await bot.advance(timedelta(minutes=1)) if m.target_id == "r1"]
        assert "前 3 位答对的各得 20 分" in question
        await bot.say("u1", "酸菜鱼", room="r1")
        [answer] = [m.text for m in await bot.advance(timedelta(minutes=10)) if m.target_id == "r1"]
        assert "恭喜答对，获得 20 分" in answer


def test_shipped_texts_space_their_numbers() -> None:
    """`+20 分`, `共 20 分`: a digit or a template value next to 分 or 积分 always has a space (quiz answers aside)."""
    cramped = re.compile(r"(\d|}})(积分|分(?!钟))|[得送上共]\d|[+＋]\s")
    found = []
    for file in sorted((ROOT / "playbooks").rglob("*.yaml")):
        for number, line in enumerate(file.read_text("utf-8").splitlines(), 1):
            if cramped.search(line) and "a: [" not in line:
                found.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
