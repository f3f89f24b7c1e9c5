"""有奖问答: a question from a bank, an answer window, the first correct answerers rewarded in order."""

from __future__ import annotations

import logging
import random
import unicodedata
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema
from sqlalchemy import func, select

from bot.commands import CommandContext
from bot.context import RunContext, RunError
from bot.events import MemberRef, MessageEvent
from bot.playbook.types import WORD_SCHEMA, Duration, Params
from bot.registry import action, resource, staff_command, window_kind
from bot.store import dialect
from bot.store.tables import Member
from bot.textnorm import normalize
from bot.windows import OpenWindow, WindowEntry, last_windows
from handlers.coupons import Issued, issue
from handlers.points import add_points

_entries = WindowEntry.__table__
_members = Member.__table__

KIND = "quiz"
log = logging.getLogger("qunguan.quiz")


def normalize_answer(text: str) -> str:
    """What counts as the same answer: full-width/half-width, case, and surrounding spaces and punctuation."""
    folded = normalize(text)
    start, end = 0, len(folded)
    while start < end and _edge(folded[start]):
        start += 1
    while end > start and _edge(folded[end - 1]):
        end -= 1
    return folded[start:end]


def _edge(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PS"


def _answers(value: object) -> object:
    return [value] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else value


class Question(Params):
    """One entry of a question bank: the question and its accepted answers."""

    q: str
    a: Annotated[
        list[Annotated[str, BeforeValidator(str)]],
        BeforeValidator(_answers),
        WithJsonSchema({"anyOf": [WORD_SCHEMA, {"type": "array", "minItems": 1}]}),  # any answer reads as text
        Field(min_length=1),
    ]


resource("questions", schema=Question, form="mapping", noun="question bank")


class Reward(Params):
    points: int = Field(0, ge=0, le=100_000)
    coupon: str | None = None


class QuizParams(Params):
    questions: str
    pick: Literal["random", "next"] = "random"
    window: Duration = timedelta(minutes=10)
    winners: int = Field(1, ge=1, le=100)
    reward: Reward = Reward()


def _prize(reward: Reward, title: str | None) -> str:
    """'20 分、一张周末券': after a verb it takes a space when it starts with the number (各得 20 分)."""
    parts = [f"{reward.points} 分"] if reward.points else []
    if title:
        parts.append(f"一张{title}")
    return "、".join(parts)


def _after(verb: str, prize: str) -> str:
    return f"{verb} {prize}" if prize[:1].isdigit() else f"{verb}{prize}"


def span_text(span: timedelta) -> str:
    """How long a window stays open as a customer reads it: '2 小时', '30 分钟'."""
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} 小时" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} 分钟" if minutes else "片刻"


@action("quiz", schema=QuizParams, primary="questions", refs={"questions": "questions", "reward.coupon": "coupons"})
async def quiz(ctx: RunContext, p: QuizParams) -> None:
    """Post a question in this group; never the same one twice in a row here; answers open for `window`."""
    if ctx.room is None:
        raise RunError("a quiz needs a group: this run has none")
    bank = ctx.resource("questions", p.questions)
    recent = [w for w in await last_windows(ctx.conn, KIND, ctx.room.id, limit=20) if w.data["bank"] == p.questions]
    last = recent[0].data["index"] if recent else None
    if p.pick == "next":
        index = 0 if last is None else (last + 1) % len(bank)
    else:
        choices = [i for i in range(len(bank)) if i != last] or [0]
        index = random.choice(choices)
    question = bank[index]
    title = None
    if p.reward.coupon is not None:
        title = ctx.resource("coupons", p.reward.coupon).title
    prize = _prize(p.reward, title)
    window = await ctx.open_window(
        KIND,
        p.window,
        {
            "bank": p.questions,
            "index": index,
            "question": question.q,
            "answers": sorted({normalize_answer(a) for a in question.a}),
            "shown_answer": question.a[0],
            "winners": p.winners,
            "points": p.reward.points,
            "coupon": p.reward.coupon,
            "prize": prize,
        },
    )
    top = f"前 {p.winners} 位"
    reward_line = f"，{top}答对的{_after('各得', prize)}" if prize else f"，看看谁最快答对（{top}）"
    span = span_text(window.closes_at - window.opened_at)
    ctx.send(f"【有奖问答】{question.q}\n{span}内直接在群里回复答案{reward_line}！", room=ctx.room)


async def on_answer(ctx: RunContext, window: OpenWindow, event: MessageEvent) -> None:
    """A correct answer takes the next rank; a member's second answer and answers after the last winner do nothing."""
    if normalize_answer(event.text) not in window.data["answers"]:
        return
    taken = (
        await ctx.conn.execute(select(func.count()).select_from(_entries).where(_entries.c.window_id == window.id))
    ).scalar_one()
    if taken >= window.data["winners"]:
        return
    row = {"window_id": window.id, "member_id": event.sender.id, "outcome": "won", "rank": taken + 1, "at": ctx.now()}
    if not (await ctx.conn.execute(dialect.insert_ignore(ctx.conn, _entries), row)).rowcount:
        return
    points = window.data["points"]
    if points:
        await add_points(
            ctx.conn, event.sender.id, points, at=ctx.now(), reason="有奖问答", playbook_id=window.playbook_id
        )
    batch_id = window.data["coupon"]
    if batch_id is not None:
        batch = ctx.resource("coupons", batch_id)
        if batch is not None:
            issued = await issue(ctx.conn, batch, event.sender.id, now=ctx.now(), tz=ctx.config.tz)
            if not isinstance(issued, Issued):
                log.info("quiz %s: winner %s got no coupon (%s)", window.id, event.sender.id, issued)
    if taken + 1 == window.data["winners"] and await ctx.close_window(window):
        await announce(ctx, window)


async def on_close(ctx: RunContext, window: OpenWindow) -> None:
    if await ctx.close_window(window):
        await announce(ctx, window)


async def announce(ctx: RunContext, window: OpenWindow) -> None:
    rows = await ctx.conn.execute(
        select(_entries.c.member_id, _members.c.name)
        .join(_members, _members.c.id == _entries.c.member_id, isouter=True)
        .where(_entries.c.window_id == window.id)
        .order_by(_entries.c.rank)
    )
    winners = tuple(MemberRef(r.member_id, r.name or r.member_id) for r in rows)
    answer = window.data["shown_answer"]
    room = ctx.room
    assert room is not None
    if not winners:
        ctx.send(f"【有奖问答】时间到！本题无人答对，答案是：{answer}", room=room)
        return
    prize = window.data["prize"]
    each = f"，{_after('各得' if len(winners) > 1 else '获得', prize)}" if prize else ""
    ctx.send(f"【有奖问答】答案：{answer}。恭喜答对{each}！", room=room, mentions=winners)


window_kind(KIND, on_message=on_answer, on_close=on_close)


@staff_command("问答", aliases=("quiz",), role="staff", usage="/问答 题库ID（私聊时最后写群名）")
async def quiz_now(ctx: CommandContext) -> str:
    """在群里立刻出一道题（奖励和时长同剧本里的设置）"""
    room = await ctx.room()
    bank = ctx.resource_arg("questions", "题库")
    ctx.refuse_if_running(KIND, room, "有奖问答")
    playbook, params = ctx.step_for("quiz", "questions", "questions", bank, QuizParams(questions=bank))
    run = ctx.playbook_run(playbook, room)
    await quiz(run, params)
    ctx.keep(run, f"quiz-{bank}")
    return "" if ctx.event.room is not None else f"已在「{room.topic}」出题"
