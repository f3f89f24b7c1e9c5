"""抢券: a first-come window in a group; whoever says the keyword gets a coupon while stock and time last."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.commands import CommandContext
from bot.context import RunContext, RunError
from bot.events import MessageEvent
from bot.playbook.types import Duration, Params
from bot.registry import action, staff_command, window_kind
from bot.store import hot
from bot.textnorm import normalize
from bot.windows import OpenWindow, WindowEntry
from handlers.coupons import Issued, batch_to_open, issue

_entries = WindowEntry.__table__
# Every claim runs these: on the driver, prepared once (bot/store/hot.py).
_ENTERED = hot.Statement(
    "claim entered", "SELECT 1 FROM window_entries WHERE window_id = :window AND member_id = :member"
)
_ENTRY = hot.insert("claim entry", _entries, ["window_id", "member_id", "rank", "at", "outcome"], conflict="DO NOTHING")
_LATE = hot.Statement(
    "late claims", "SELECT count(*) FROM window_entries WHERE window_id = :window AND outcome = 'late'"
)

KIND = "claim"


class ClaimParams(Params):
    batch: str
    keyword: str = "抢券"
    window: Duration = timedelta(minutes=30)


@action("claim", schema=ClaimParams, primary="batch", refs={"batch": "coupons"})
async def claim(ctx: RunContext, p: ClaimParams) -> None:
    """Open a drop in this group; the playbook announces it (`say`/`reply`), the bot answers each claim."""
    if ctx.room is None:
        raise RunError("a coupon drop needs a group: this run has none")
    await ctx.open_window(KIND, p.window, {"batch": p.batch, "keyword": normalize(p.keyword)})


async def on_claim(ctx: RunContext, window: OpenWindow, event: MessageEvent) -> None:
    """One answer per member: the coupon, or — to the first member who comes too late — 已抢完, once."""
    if normalize(event.text) != window.data["keyword"]:
        return
    member = event.sender
    room = ctx.room
    assert room is not None
    entry = {"window_id": window.id, "member_id": member.id, "rank": 0, "at": ctx.now()}
    batch = ctx.resource("coupons", window.data["batch"])
    if batch is None:  # the batch was removed by a reload: the drop cannot go on
        if await ctx.close_window(window):
            ctx.send("这轮抢券已结束～", room=room)
        return
    if await hot.fetchone(ctx.conn, _ENTERED, {"window": window.id, "member": member.id}) is not None:
        return
    result = await issue(ctx.conn, batch, member.id, now=ctx.now(), tz=ctx.config.tz, playbook_id=window.playbook_id)
    if isinstance(result, Issued):
        await hot.execute(ctx.conn, _ENTRY, {**entry, "outcome": "won"})
        ctx.send(f"抢到了！{batch.title}已放进你的券包，私聊我发送 /我的券 查看券码", room=room, mentions=(member,))
        return
    if result == "limit":
        await hot.execute(ctx.conn, _ENTRY, {**entry, "outcome": "limit"})
        ctx.send(f"你已经领过{batch.title}啦，把机会留给其他小伙伴吧～", room=room, mentions=(member,))
        return
    late = await hot.scalar(ctx.conn, _LATE, {"window": window.id})
    await hot.execute(ctx.conn, _ENTRY, {**entry, "outcome": "late"})
    if late == 0:
        ctx.send(f"{batch.title}已抢完，下次早点来哦～", room=room)


async def on_close(ctx: RunContext, window: OpenWindow) -> None:
    if not await ctx.close_window(window):
        return
    won = (
        await ctx.conn.execute(
            select(func.count())
            .select_from(_entries)
            .where(_entries.c.window_id == window.id, _entries.c.outcome == "won")
        )
    ).scalar_one()
    batch = ctx.resource("coupons", window.data["batch"])
    title = batch.title if batch is not None else "券"
    assert ctx.room is not None
    if won:
        ctx.send(f"本轮抢券结束，共 {won} 位小伙伴抢到{title}，下次再来～", room=ctx.room)
    else:
        ctx.send(f"本轮抢券结束，这次没有人领{title}，下次记得来抢哦～", room=ctx.room)


window_kind(KIND, on_message=on_claim, on_close=on_close)


@staff_command("发券", aliases=("drop",), role="staff", usage="/发券 券ID（私聊时最后写群名）")
async def drop_now(ctx: CommandContext) -> str:
    """在群里立刻开一轮抢券（口令和时长同剧本里的设置）"""
    room, batch, left = await batch_to_open(ctx, KIND, "抢券", "没有开抢")
    if left <= 0:
        return f"{batch.title}已经发完了（共 {batch.stock} 张），没有开抢"
    playbook, params = ctx.step_for("claim", "batch", "coupons", batch.id, ClaimParams(batch=batch.id))
    run = ctx.playbook_run(playbook, room)
    await claim(run, params)
    minutes = max(1, int(params.window.total_seconds() // 60))
    run.send(
        f"【限时抢券】{batch.title}还剩 {left} 张！现在在群里发送「{params.keyword}」即可领取，"
        f"{minutes} 分钟后截止，每人限领 {batch.per_member} 张～",
        room=room,
    )
    ctx.keep(run, f"drop-{batch.id}")
    return "" if ctx.event.room is not None else f"已在「{room.topic}」开抢{batch.title}"
