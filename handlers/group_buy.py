"""拼团: members join a window in a group with a keyword; every `size` of them form a team and each gets a coupon.

The database decides the teams: a member's row is keyed by (window, member), so nobody sits in two teams of one
window; seats are handed out by one conditional UPDATE of the window's counter (its row lock orders concurrent
joins on PostgreSQL, SQLite has one writer), so seat n is in team (n - 1) // size + 1 whoever races whom. The
join that takes a team's last seat issues its coupons, in the same transaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import Connection, UniqueConstraint, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field as Column
from sqlmodel import SQLModel

from bot.commands import CommandContext, one_line
from bot.console.panels import PanelScope, console_read
from bot.context import RunContext, RunError
from bot.events import MemberRef, MessageEvent
from bot.playbook.types import Duration, Params
from bot.registry import action, staff_command, window_kind
from bot.store import dialect
from bot.store.tables import Member, Room
from bot.textnorm import normalize
from bot.windows import OpenWindow, Window
from handlers.coupons import (
    REASONS,
    CouponBatch,
    Issued,
    batch_expiry,
    batch_to_open,
    issue,
    issued_to,
    local_text,
    stock_left,
)
from handlers.quiz import span_text

KIND = "group_buy"


class GroupBuy(SQLModel, table=True):
    """One 拼团 window's seat counter: `joined` only grows by a conditional UPDATE, and not once `ended`."""

    __tablename__ = "group_buys"
    window_id: int = Column(primary_key=True)
    size: int
    joined: int = 0
    ended: bool = False


class GroupBuyMember(SQLModel, table=True):
    """A member's place in a 拼团 window: the key keeps them in one team; (team, seat) is never given twice."""

    __tablename__ = "group_buy_members"
    __table_args__ = (UniqueConstraint("window_id", "team", "seat", name="uq_group_buy_seat"),)
    window_id: int = Column(primary_key=True)
    member_id: str = Column(primary_key=True)
    team: int | None = None  # None: not seated (they hold the coupon already)
    seat: int | None = None
    outcome: str  # waiting / won / limit / sold_out / batch_expired / holds / not_formed
    at: datetime
    answered_again: bool = False  # a second 参团 is answered once; later ones are spam


_buys = GroupBuy.__table__
_seats = GroupBuyMember.__table__
_members = Member.__table__
_windows = Window.__table__
_rooms = Room.__table__


class GroupBuyParams(Params):
    batch: str
    size: int = Field(3, ge=2, le=50)
    keyword: str = "参团"
    window: Duration = timedelta(hours=2)


@action("group_buy", schema=GroupBuyParams, primary="batch", refs={"batch": "coupons"})
async def group_buy(ctx: RunContext, p: GroupBuyParams) -> None:
    """Open a 拼团 in this group; the playbook announces it (`say`), the bot answers each join."""
    if ctx.room is None:
        raise RunError("a group buy needs a group: this run has none")
    running = await _open_until(ctx.conn, ctx.room.id, ctx.now())
    if running is not None:  # the same keyword would seat a member in two
        until = local_text(running, ctx.config.tz)
        raise RunError(f"a group buy is already open in group {ctx.room.id} until {until}: no second one opened")
    batch = ctx.resource("coupons", p.batch)
    if batch is None:  # checked at load; a hot reload could still swap the set mid-run
        raise RunError(f"coupon batch '{p.batch}' is not declared")
    left = await stock_left(ctx.conn, batch)
    if left < p.size:
        raise RunError(f"coupon batch '{p.batch}' has {left} left, too few for a team of {p.size}: no group buy opened")
    window = await ctx.open_window(KIND, p.window, {"batch": p.batch, "keyword": normalize(p.keyword), "size": p.size})
    await ctx.conn.execute(_buys.insert().values(window_id=window.id, size=p.size, joined=0, ended=False))


async def on_join(ctx: RunContext, window: OpenWindow, event: MessageEvent) -> None:
    """A seat in the open team, the team's coupons when it fills, or why not (once per member)."""
    if normalize(event.text) != window.data["keyword"]:
        return
    member, room = event.sender, ctx.room
    assert room is not None
    batch = ctx.resource("coupons", window.data["batch"])
    if batch is None:  # the batch was removed by a reload: the group buy cannot go on
        await finish(ctx, window, "活动已调整")
        return
    row = {"window_id": window.id, "member_id": member.id, "at": ctx.now()}
    if (await ctx.conn.execute(select(_seats.c.team).where(_mine(window.id, member.id)))).first() is not None:
        await _again(ctx, window, member)
        return
    if await issued_to(ctx.conn, batch, member.id) >= batch.per_member:
        held = {**row, "outcome": "holds", "answered_again": True}
        if (await ctx.conn.execute(dialect.insert_ignore(ctx.conn, _seats), held)).rowcount:
            text = f"你已经有{batch.title}了，这次不用参团啦，把名额留给其他小伙伴吧～"
            ctx.send(text, room=room, mentions=(member,))
        return
    over = await _over(ctx, batch)
    if over is not None:
        await finish(ctx, window, over)
        return
    if not (await ctx.conn.execute(dialect.insert_ignore(ctx.conn, _seats), {**row, "outcome": "waiting"})).rowcount:
        await _again(ctx, window, member)
        return
    taken = await ctx.conn.execute(
        update(_buys)
        .where(_buys.c.window_id == window.id, _buys.c.ended.is_(False))
        .values(joined=_buys.c.joined + 1)
        .returning(_buys.c.joined)
    )
    number = taken.scalar()
    if number is None:  # the deadline came while this join waited for its seat
        await ctx.conn.execute(delete(_seats).where(_mine(window.id, member.id)))
        ctx.send("这轮拼团已经结束啦，下次早点来哦～", room=room, mentions=(member,))
        return
    size = window.data["size"]
    team, seat = (number - 1) // size + 1, (number - 1) % size + 1
    await ctx.conn.execute(update(_seats).where(_mine(window.id, member.id)).values(team=team, seat=seat))
    if seat < size:
        text = f"参团成功！你在第 {team} 团，还差 {size - seat} 人成团，快邀请小伙伴来参团吧～"
        ctx.send(text, room=room, mentions=(member,))
        return
    await _form(ctx, window, batch, team)
    if await stock_left(ctx.conn, batch) <= 0:
        await finish(ctx, window, f"{batch.title}已发完")


async def _over(ctx: RunContext, batch: CouponBatch) -> str | None:
    """Why no team could get its coupons any more (the batch ran out or expired), if so."""
    if await stock_left(ctx.conn, batch) <= 0:
        return f"{batch.title}已发完"
    expires = batch_expiry(batch, ctx.now(), ctx.config.tz)
    return f"{batch.title}已过期" if expires is not None and expires <= ctx.now() else None


async def _form(ctx: RunContext, window: OpenWindow, batch: CouponBatch, team: int) -> None:
    """The team's last seat is taken: a coupon each, and one announcement saying who got what and why not."""
    rows = await ctx.conn.execute(
        select(_seats.c.member_id, _members.c.name)
        .join(_members, _members.c.id == _seats.c.member_id, isouter=True)
        .where(_seats.c.window_id == window.id, _seats.c.team == team)
        .order_by(_seats.c.seat)
    )
    team_members = [MemberRef(r.member_id, one_line(r.name or r.member_id)) for r in rows]
    outcomes: dict[str, list[MemberRef]] = {}
    for member in team_members:
        result = await issue(
            ctx.conn, batch, member.id, now=ctx.now(), tz=ctx.config.tz, playbook_id=window.playbook_id
        )
        outcome = "won" if isinstance(result, Issued) else result
        outcomes.setdefault(outcome, []).append(member)
        await ctx.conn.execute(update(_seats).where(_mine(window.id, member.id)).values(outcome=outcome))
    ctx.changed()
    assert ctx.room is not None
    head = f"【拼团成功】第 {team} 团成团啦！"
    wallet = f"{batch.title}已放进券包，私聊我发送 /我的券 查看券码～"
    if list(outcomes) == ["won"]:
        ctx.send(f"{head}每人一张{wallet}", room=ctx.room, mentions=tuple(team_members))
        return
    lines = [head]
    for outcome, who in outcomes.items():
        names = "、".join(m.name for m in who)
        lines.append(f"{names}：{wallet if outcome == 'won' else MISSED[outcome].format(title=batch.title)}")
    ctx.send("\n".join(lines), room=ctx.room, mentions=tuple(team_members))


MISSED = {
    "limit": "已经领过{title}，这次不重复发",
    "sold_out": "{title}刚好发完，没能领到，抱歉～",
    "batch_expired": "{title}" + REASONS["batch_expired"] + "，没能领到，抱歉～",
}


async def _again(ctx: RunContext, window: OpenWindow, member: MemberRef) -> None:
    """A member who joined already: told where they stand the first time they try again, then left alone."""
    answered = await ctx.conn.execute(
        update(_seats)
        .where(_mine(window.id, member.id), _seats.c.answered_again.is_(False))
        .values(answered_again=True)
        .returning(_seats.c.team, _seats.c.outcome)
    )
    mine = answered.first()
    if mine is None or mine.team is None:
        return
    assert ctx.room is not None
    if mine.outcome != "waiting":
        ctx.send(f"你所在的第 {mine.team} 团已经成团啦，每人只能参团一次～", room=ctx.room, mentions=(member,))
        return
    seated = await _team_count(ctx.conn, window.id, mine.team)
    missing = window.data["size"] - seated
    ctx.send(
        f"你已经在第 {mine.team} 团了，还差 {missing} 人成团，不用重复参团，邀请小伙伴来吧～",
        room=ctx.room,
        mentions=(member,),
    )


async def on_close(ctx: RunContext, window: OpenWindow) -> None:
    await finish(ctx, window, None)


async def finish(ctx: RunContext, window: OpenWindow, early: str | None) -> None:
    """End the window once (its deadline, or `early`: why it ends now); an unfilled team is told it did not form."""
    ended = await ctx.conn.execute(  # first, as a join does: waits for a join holding the counter, counts its seat
        update(_buys).where(_buys.c.window_id == window.id).values(ended=True).returning(_buys.c.joined, _buys.c.size)
    )
    counter = ended.first()
    if not await ctx.close_window(window):
        return
    joined, size = (counter.joined, counter.size) if counter is not None else (0, window.data["size"])
    formed, waiting = divmod(joined, size)
    room = ctx.room
    assert room is not None
    if early is not None:
        ctx.send(f"【拼团结束】{early}，本轮拼团提前结束，共成团 {formed} 个～", room=room)
    elif not joined:
        ctx.send("【拼团结束】这次没有人参团，下次再来～", room=room)
    if not waiting:
        if early is None and joined:
            ctx.send(f"【拼团结束】本轮共成团 {formed} 个，谢谢大家～", room=room)
        return
    team = formed + 1
    rows = await ctx.conn.execute(
        select(_seats.c.member_id, _members.c.name)
        .join(_members, _members.c.id == _seats.c.member_id, isouter=True)
        .where(_seats.c.window_id == window.id, _seats.c.team == team)
        .order_by(_seats.c.seat)
    )
    left = tuple(MemberRef(r.member_id, one_line(r.name or r.member_id)) for r in rows)
    await ctx.conn.execute(
        update(_seats).where(_seats.c.window_id == window.id, _seats.c.team == team).values(outcome="not_formed")
    )
    summary = "" if early is not None else f"本轮共成团 {formed} 个。"
    ctx.send(
        f"【拼团结束】{summary}第 {team} 团还差 {size - waiting} 人，没有成团，这次没有券，下次再约小伙伴一起来～",
        room=room,
        mentions=left,
    )


window_kind(KIND, on_message=on_join, on_close=on_close)


async def _open_until(conn: AsyncConnection, room_id: str, now: datetime) -> datetime | None:
    """When the 拼团 open in this group ends, if one is (the database says, also for one opened a moment ago)."""
    windows = _windows.c
    query = select(windows.closes_at).where(
        windows.kind == KIND, windows.room_id == room_id, windows.closed_at.is_(None), windows.closes_at > now
    )
    return (await conn.execute(query)).scalar()


def _mine(window_id: int, member_id: str) -> Any:
    return (_seats.c.window_id == window_id) & (_seats.c.member_id == member_id)


async def _team_count(conn: AsyncConnection, window_id: int, team: int) -> int:
    query = select(func.count()).where(_seats.c.window_id == window_id, _seats.c.team == team)
    return int((await conn.execute(query)).scalar_one())


@staff_command("拼团", aliases=("groupbuy",), role="staff", usage="/拼团 券ID（私聊时最后写群名）")
async def group_buy_now(ctx: CommandContext) -> str:
    """在群里立刻开一轮拼团（人数、口令和时长同剧本里的设置）"""
    room, batch, left = await batch_to_open(ctx, KIND, "拼团", "没有开团")
    if left <= 0:
        return f"{batch.title}已经发完了（共 {batch.stock} 张），没有开团"
    playbook, params = ctx.step_for("group_buy", "batch", "coupons", batch.id, GroupBuyParams(batch=batch.id))
    if left < params.size:
        return f"{batch.title}只剩 {left} 张，不够 {params.size} 人成一个团，没有开团"
    run = ctx.playbook_run(playbook, room)
    await group_buy(run, params)
    run.send(
        f"【拼团】{batch.title}：{params.size} 人成团，每人得一张！在群里发送「{params.keyword}」加入，"
        f"{span_text(params.window)}内有效，每人限参一次～",
        room=room,
    )
    ctx.keep(run, f"group-buy-{batch.id}")
    return "" if ctx.event.room is not None else f"已在「{room.topic}」开团：{batch.title}"


@console_read("group_buys")
def group_buys_panel(conn: Connection, scope: PanelScope) -> dict[str, Any]:
    """The console's 拼团: each group buy (newest first) with its group, batch, team size, seats taken, teams
    formed, and how its members came out (won, waiting, not formed, ...)."""
    windows = conn.execute(
        select(_windows, _buys.c.size, _buys.c.joined, _buys.c.ended, _rooms.c.topic)
        .join(_buys, _buys.c.window_id == _windows.c.id)
        .outerjoin(_rooms, _rooms.c.id == _windows.c.room_id)
        .where(_windows.c.kind == KIND)
        .order_by(_windows.c.opened_at.desc(), _windows.c.id.desc())
        .limit(scope.limit)
    ).all()
    ids = [w.id for w in windows]
    outcomes: dict[int, dict[str, int]] = {}
    for r in conn.execute(
        select(_seats.c.window_id, _seats.c.outcome, func.count().label("count"))
        .where(_seats.c.window_id.in_(ids))
        .group_by(_seats.c.window_id, _seats.c.outcome)
    ):
        outcomes.setdefault(r.window_id, {})[r.outcome] = r.count
    rows = []
    for w in windows:
        data = json.loads(w.data)
        closed = w.closed_at is not None or w.ended
        rows.append(
            {
                "id": w.id,
                "room_id": w.room_id,
                "room": w.topic or w.room_id,
                "playbook": w.playbook_id,
                "batch": data.get("batch", ""),
                "size": w.size,
                "joined": w.joined,
                "teams": w.joined // w.size,
                "opened_at": dialect.aware(w.opened_at).isoformat(),
                "closes_at": dialect.aware(w.closes_at).isoformat(),
                "state": "已结束" if closed else "进行中",
                "outcomes": outcomes.get(w.id, {}),
            }
        )
    return {"group_buys": rows}
