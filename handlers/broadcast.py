"""群发: staff send one text to every managed group (or the groups of a tag), previewed first and queued only
when the same staff member says /确认 within two minutes. The pending preview is a database row, so another
process or a restart in between changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Index, and_, func, insert, select, update
from sqlmodel import Field, SQLModel

from bot.commands import CommandContext, Failed, Refused, UsageError, one_line
from bot.events import Outgoing, RoomRef
from bot.registry import staff_command
from bot.store.tables import RoomMember

CONFIRM_WITHIN = timedelta(minutes=2)
MAX_TEXT = 2000  # characters; WeChat shows longer texts folded, and a slip of the paste should not go out


class Broadcast(SQLModel, table=True):
    """A staff /群发, previewed; it is queued only when the same staff member says /确认 in time."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_staff", "staff_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    staff_id: str
    staff_name: str = ""
    text: str
    selector: str = ""  # tag:NAME, or empty for every managed room
    rooms: int
    members: int
    created_at: datetime
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None  # replaced by a newer /群发 of the same staff member


_broadcasts = Broadcast.__table__
_room_members = RoomMember.__table__


def span_text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 1)} 秒"
    minutes = (seconds + 59) // 60
    return f"{minutes} 分钟" if minutes < 60 else f"{minutes // 60} 小时 {minutes % 60} 分钟"


def _pending() -> ColumnElement[bool]:
    return and_(_broadcasts.c.confirmed_at.is_(None), _broadcasts.c.cancelled_at.is_(None))


async def _rooms(ctx: CommandContext, selector: str) -> list[RoomRef]:
    rooms = await ctx.managed_rooms()
    return [r for r in rooms if ctx.selects([selector], r)] if selector else rooms


def _timing(ctx: CommandContext, rooms: int) -> str:
    estimate = ctx.send_estimate(rooms)
    text = f"预计 {span_text(estimate.span)}内发完（按发送限速）"
    waits = [
        (estimate.paused_until, "微信提示发送过于频繁，暂停中"),
        (estimate.capped_until, "今天的发送量已到上限"),
        (estimate.quiet_until, "现在是免打扰时段"),
    ]
    for until, why in waits:
        if until is not None:
            local = until.astimezone(ctx.config.tz)
            days = (local.date() - ctx.local_now().date()).days
            when = {0: "", 1: "明天 "}.get(days, f"{local:%m-%d} ") + f"{local:%H:%M}"
            text += f"；{why}，{when} 后开始发"
            break
    return text


@staff_command("群发", aliases=("broadcast",), role="admin", usage="/群发 [tag:群标签] 内容", max_length=MAX_TEXT + 100)
async def broadcast(ctx: CommandContext) -> str:
    """群发到所有群（或某个标签的群）；先预览，2 分钟内 /确认 才发出"""
    selector = ctx.args[0] if ctx.args and ctx.args[0].startswith("tag:") else ""
    text = ctx.rest(skip=1 if selector else 0)
    if selector and selector[4:] not in ctx.config.all_room_tags:
        tags = "、".join(f"tag:{t}" for t in sorted(ctx.config.all_room_tags)) or "（config.yaml 里还没有群标签）"
        raise UsageError(f"没有群标签「{selector[4:]}」，可用：{tags}")
    if not text:
        raise UsageError("请写出要群发的内容")
    if len(text) > MAX_TEXT:
        raise UsageError(f"内容太长（{len(text)} 字），最多 {MAX_TEXT} 字")
    rooms = await _rooms(ctx, selector)
    if not rooms:
        raise Failed("没有可以群发的群（机器人还没在任何被管理的群里收到过消息）")
    members = (
        await ctx.conn.execute(
            select(func.count(func.distinct(_room_members.c.member_id))).where(
                _room_members.c.room_id.in_([r.id for r in rooms]), _room_members.c.active.is_(True)
            )
        )
    ).scalar_one()
    await ctx.conn.execute(  # a new preview replaces this member's earlier ones: only the latest can be confirmed
        update(_broadcasts).where(_broadcasts.c.staff_id == ctx.sender.id, _pending()).values(cancelled_at=ctx.now())
    )
    await ctx.conn.execute(
        insert(_broadcasts).values(
            staff_id=ctx.sender.id,
            staff_name=ctx.sender.name,
            text=text,
            selector=selector,
            rooms=len(rooms),
            members=members,
            created_at=ctx.now(),
        )
    )
    preview = text if len(text) <= 60 else text[:60] + "……"
    return (
        f"群发预览：{len(rooms)} 个群，共 {members} 人\n{_timing(ctx, len(rooms))}\n内容：{preview}\n"
        "2 分钟内发送 /确认 才会发出；不发就不用管"
    )


@staff_command("确认", aliases=("confirm",), role="staff", usage="/确认")
async def confirm(ctx: CommandContext) -> str:
    """确认你刚预览的群发"""
    since = ctx.now() - CONFIRM_WITHIN
    rows = (
        await ctx.conn.execute(
            select(_broadcasts).where(_pending(), _broadcasts.c.created_at >= since).order_by(_broadcasts.c.id.desc())
        )
    ).all()
    mine = next((r for r in rows if r.staff_id == ctx.sender.id), None)
    if mine is None:
        if rows:
            raise Refused(f"这条群发是 {one_line(rows[0].staff_name) or rows[0].staff_id} 发起的，要他本人发送 /确认")
        raise Failed("没有等你确认的群发（预览 2 分钟内有效），请重新发送 /群发")
    taken = await ctx.conn.execute(
        update(_broadcasts).where(_broadcasts.c.id == mine.id, _pending()).values(confirmed_at=ctx.now())
    )
    if taken.rowcount != 1:  # confirmed a moment ago (a double tap): it goes once
        raise Failed("这条群发已经确认过了")
    rooms = await _rooms(ctx, mine.selector)
    ctx.send(f"broadcast-{mine.id}", [Outgoing(mine.text, room=r) for r in rooms], kind="broadcast")
    return f"已确认，开始群发到 {len(rooms)} 个群，{_timing(ctx, len(rooms))}"
