"""/统计: what happened in the groups over a span — people, check-ins, quizzes, coupons, whether the
reactivation nudges worked (members nudged who came back, against the holdout kept back on purpose), and
moderation (warnings, removals, blacklisted members stopped at the door), and the members' RFM classes now."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from bot.commands import CommandContext, UsageError
from bot.events import RoomRef
from bot.registry import staff_command
from bot.store.tables import Member, RoomMember
from bot.windows import Window, WindowEntry
from handlers.checkin import Checkin
from handlers.coupons import Coupon
from handlers.moderation.log import ModerationEntry
from handlers.rfm import rfm_table
from handlers.segments import Nudge, SegmentScope

DEFAULT_SPAN = "7d"
UNITS = {"h": "小时", "d": "天", "w": "周"}
_SPAN = re.compile(r"^\d{1,4}[hdw]$")
_room_members = RoomMember.__table__
_members = Member.__table__
_checkins = Checkin.__table__
_coupons = Coupon.__table__
_nudges = Nudge.__table__
_windows = Window.__table__
_entries = WindowEntry.__table__
_moderation = ModerationEntry.__table__


async def _scope(ctx: CommandContext, names: list[str]) -> tuple[list[RoomRef], str]:
    """The rooms asked about: one named, else the room the command was said in, else every managed room."""
    if names:
        rooms = await ctx.managed_rooms(" ".join(names))
        return rooms, rooms[0].topic
    if ctx.event.room is not None:
        return [ctx.event.room], ctx.event.room.topic
    return await ctx.managed_rooms(), "全部群"


def _rate(part: int, whole: int) -> str:
    return f"{part * 100 // whole}%" if whole else "—"


@staff_command("统计", aliases=("stats",), role="staff", usage="/统计 [群名] [7d]")
async def stats(ctx: CommandContext) -> str:
    """最近几天的数据：进退群、活跃、签到、问答、券、召回效果"""
    spans = [a for a in ctx.args if _SPAN.match(a.lower())]
    span_text = spans[-1].lower() if spans else DEFAULT_SPAN
    span = timedelta(hours=int(span_text[:-1]) * {"h": 1, "d": 24, "w": 168}[span_text[-1]])
    if not timedelta(hours=1) <= span <= timedelta(days=366):
        raise UsageError("统计时长要在 1 小时到一年之间（例如 7d、30d、12h）")
    rooms, where = await _scope(ctx, [a for a in ctx.args if a not in spans])
    since = ctx.now() - span
    ids = [r.id for r in rooms]
    in_rooms = select(_room_members.c.member_id).where(_room_members.c.room_id.in_(ids))

    async def count(table: Any, *where: ColumnElement[bool], what: Any = None) -> int:
        counted = func.count() if what is None else func.count(func.distinct(what))
        return (await ctx.conn.execute(select(counted).select_from(table).where(*where))).scalar_one()

    joins = await count(_room_members, _room_members.c.room_id.in_(ids), _room_members.c.joined_at >= since)
    leaves = await count(_room_members, _room_members.c.room_id.in_(ids), _room_members.c.left_at >= since)
    active = await count(_members, _members.c.id.in_(in_rooms), _members.c.last_active >= since)
    checkins = await count(_checkins, _checkins.c.member_id.in_(in_rooms), _checkins.c.at >= since)
    windows = _entries.join(_windows, _windows.c.id == _entries.c.window_id)
    opened = and_(_windows.c.room_id.in_(ids), _windows.c.opened_at >= since)
    quizzes = await count(_windows, opened, _windows.c.kind == "quiz")
    quiz_won = await count(windows, opened, _windows.c.kind == "quiz", _entries.c.outcome == "won")
    claimed = await count(windows, opened, _windows.c.kind == "claim", _entries.c.outcome == "won")
    issued = await count(_coupons, _coupons.c.member_id.in_(in_rooms), _coupons.c.issued_at >= since)
    redeemed = await count(_coupons, _coupons.c.member_id.in_(in_rooms), _coupons.c.redeemed_at >= since)
    nudged = _nudges.join(_members, _members.c.id == _nudges.c.member_id)
    recent = and_(_nudges.c.member_id.in_(in_rooms), _nudges.c.at >= since)
    back = _members.c.last_active > _nudges.c.at
    who = _nudges.c.member_id  # people, not nudges: a member nudged three times counts once
    sent = await count(_nudges, recent, _nudges.c.holdout.is_(False), what=who)
    sent_back = await count(nudged, recent, _nudges.c.holdout.is_(False), back, what=who)
    held = await count(_nudges, recent, _nudges.c.holdout.is_(True), what=who)
    held_back = await count(nudged, recent, _nudges.c.holdout.is_(True), back, what=who)
    moderated = and_(_moderation.c.room_id.in_(ids), _moderation.c.at >= since)
    warnings = await count(_moderation, moderated, _moderation.c.action == "warn")
    removals = await count(_moderation, moderated, _moderation.c.action.in_(("remove", "rejoin")))
    hits = await count(_moderation, moderated, _moderation.c.action == "rejoin")
    roles = ctx.config.staff
    customers = and_(_members.c.id.in_(in_rooms), _members.c.id.not_in([*roles.owner, *roles.admin, *roles.staff]))
    rfm = "\n".join(await rfm_table(ctx.conn, SegmentScope.at(ctx.now(), ctx.config), customers))
    return (
        f"近 {span_text[:-1]} {UNITS[span_text[-1]]}统计（{where}）\n"
        f"入群 {joins}｜退群 {leaves}｜活跃 {active} 人\n"
        f"签到 {checkins} 次｜问答 {quizzes} 场，{quiz_won} 人答对\n"
        f"券：发出 {issued}｜抢到 {claimed}｜核销 {redeemed}\n"
        f"违规：警告 {warnings}｜移出 {removals}｜黑名单拦截 {hits}\n"
        f"{rfm}\n"
        f"召回：提醒 {sent} 人，回来 {sent_back} 人（{_rate(sent_back, sent)}）\n"
        f"对照组 {held} 人，回来 {held_back} 人（{_rate(held_back, held)}）"
    )
