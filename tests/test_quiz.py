"""有奖问答 through the engine: answers normalised, first winners rewarded in order, announced once."""

from __future__ import annotations

from datetime import datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from backends import Backend

from bot.events import Outgoing
from bot.testing import TestBot
from handlers.quiz import normalize_answer

pytestmark = pytest.mark.usefixtures("backend")

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 25, 19, 0, tzinfo=TZ)

QUIZ = dedent("""
    id: quiz
    when:
      - command: 出题
    do:
      - quiz: {questions: dishes, pick: next, window: 10m, winners: 2, reward: {points: 20, coupon: quiz-prize}}
    questions:
      dishes:
        - {q: 招牌菜是什么？, a: [酸菜鱼, Fish]}
        - {q: 哪天休息？, a: 周一}
    coupons:
      - {id: quiz-prize, title: 答题奖励券, stock: 100}
""")


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (" 酸菜鱼！", "酸菜鱼"),
        ("ＦＩＳＨ。", "fish"),
        ("「酸菜鱼」", "酸菜鱼"),
        ("酸菜 鱼", "酸菜 鱼"),
        ("\u200b5分～", "5分"),
    ],
)
def test_answers_are_normalised(typed: str, expected: str) -> None:
    assert normalize_answer(typed) == expected


async def test_the_first_winners_are_rewarded_in_order_and_announced_when_full() -> None:
    async with TestBot.running({"playbooks/quiz.yaml": QUIZ}, start=START) as bot:
        assert texts(await bot.say("boss", "/出题", room="r1"))[0].startswith("【有奖问答】招牌菜是什么？")
        assert await bot.say("u1", "红烧肉", room="r1") == []
        assert await bot.say("u1", "fish!", room="r1") == []
        assert await bot.say("u1", "酸菜鱼", room="r1") == []  # a second correct answer counts for nothing
        (announcement,) = await bot.say("u2", "ＦＩＳＨ", room="r1")  # the second winner closes it
        assert announcement.text == "【有奖问答】答案：酸菜鱼。恭喜答对，各得 20 分、一张答题奖励券！"
        assert [m.id for m in announcement.mentions] == ["u1", "u2"]
        assert await bot.say("u3", "酸菜鱼", room="r1") == []
        assert [await bot.field(m, "points") for m in ("u1", "u2", "u3")] == [20, 20, 0]
        assert [await bot.field(m, "coupons") for m in ("u1", "u2", "u3")] == [1, 1, 0]
        assert await bot.advance(timedelta(minutes=15)) == []  # announced once, not again at the deadline


async def test_the_window_closes_on_time_and_the_next_quiz_asks_another_question() -> None:
    async with TestBot.running({"playbooks/quiz.yaml": QUIZ}, start=START) as bot:
        await bot.say("boss", "/出题", room="r1")
        await bot.say("u1", "酸菜鱼", room="r1")
        (closing,) = await bot.advance(timedelta(minutes=10))
        assert closing.text == "【有奖问答】答案：酸菜鱼。恭喜答对，获得 20 分、一张答题奖励券！"
        assert await bot.say("u2", "酸菜鱼", room="r1") == []  # too late: no reward
        assert await bot.field("u2", "points") == 0
        assert texts(await bot.say("boss", "/出题", room="r1"))[0].startswith("【有奖问答】哪天休息？")


async def test_quizzes_in_two_rooms_do_not_interfere() -> None:
    async with TestBot.running({"playbooks/quiz.yaml": QUIZ}, start=START) as bot:
        await bot.say("boss", "/出题", room="r1")
        await bot.say("boss", "/出题", room="r2")
        assert await bot.say("u1", "酸菜鱼", room="r1") == []
        assert await bot.say("u2", "酸菜鱼", room="r2") == []
        (r1, r2) = await bot.advance(timedelta(minutes=10))
        assert sorted((m.target_id, tuple(x.id for x in m.mentions)) for m in (r1, r2)) == [
            ("r1", ("u1",)),
            ("r2", ("u2",)),
        ]


async def test_nobody_right_is_announced_with_the_answer() -> None:
    async with TestBot.running({"playbooks/quiz.yaml": QUIZ}, start=START) as bot:
        await bot.say("boss", "/出题", room="r1")
        await bot.say("u1", "{{ 7*7 }}", room="r1")
        assert texts(await bot.advance(timedelta(minutes=10))) == ["【有奖问答】时间到！本题无人答对，答案是：酸菜鱼"]


async def test_an_open_quiz_survives_a_restart_and_is_announced_after_it(backend: Backend) -> None:
    database = backend.database
    bot = await TestBot.create({"playbooks/quiz.yaml": QUIZ}, start=START, database=database)
    await bot.say("boss", "/出题", room="r1")
    await bot.say("u1", "酸菜鱼", room="r1")
    await bot.close()
    again = await TestBot.create({"playbooks/quiz.yaml": QUIZ}, start=START + timedelta(minutes=1), database=database)
    try:
        (closing,) = await again.say("u2", "酸菜鱼", room="r1")  # the winner before the restart still counts
        assert [m.id for m in closing.mentions] == ["u1", "u2"]
        assert await again.advance(timedelta(minutes=10)) == []
    finally:
        await again.close()


async def test_a_quiz_outside_a_group_fails_clearly() -> None:
    async with TestBot.running({"playbooks/quiz.yaml": QUIZ}, start=START) as bot:
        assert await bot.say("boss", "/出题") == []  # private: the run fails (logged), nothing is opened
        assert await bot.say("u1", "酸菜鱼", room="r1") == []
