"""/统计: what happened in the groups over a span — people, check-ins, quizzes, coupons, messages (the figures
of the console's dashboard, bot/analytics/daily.py), whether the
reactivation nudges worked (members nudged who came back, against the holdout kept back on purpose), and
moderation (warnings, removals, blacklisted members stopped at the door), and the members' RFM classes now."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from bot.analytics.daily import totals
from bot.analytics.nudges import effects
from bot.commands import CommandContext, UsageError
from bot.events import RoomRef
from bot.registry import staff_command
from bot.store.tables import Member, RoomMember
from handlers.moderation.log import ModerationEntry
from handlers.rfm import rfm_table
from handlers.segments import SegmentScope

DEFAULT_SPAN = "7d"
UNITS = {"h": "小时", "d": "天", "w": "周"}
_SPAN = re.compile(r"^\d{1,4}[hdw]$")
_room_members = RoomMember.__table__
_members = Member.__table__
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
    now, tz = ctx.now(), ctx.config.tz
    n = await ctx.conn.run_sync(lambda conn: totals(conn, since, now, tz, ids))
    (recall,) = await ctx.conn.run_sync(lambda conn: effects(conn, since, ids, by_playbook=False))

    async def count(table: Any, *where: ColumnElement[bool]) -> int:
        return (await ctx.conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()

    moderated = and_(_moderation.c.room_id.in_(ids), _moderation.c.at >= since)
    warnings = await count(_moderation, moderated, _moderation.c.action == "warn")
    removals = await count(_moderation, moderated, _moderation.c.action.in_(("remove", "rejoin")))
    hits = await count(_moderation, moderated, _moderation.c.action == "rejoin")
    roles = ctx.config.staff
    customers = and_(_members.c.id.in_(in_rooms), _members.c.id.not_in([*roles.owner, *roles.admin, *roles.staff]))
    rfm = "\n".join(await rfm_table(ctx.conn, SegmentScope.at(ctx.now(), ctx.config), customers))
    return (
        f"近 {span_text[:-1]} {UNITS[span_text[-1]]}统计（{where}）\n"
        f"入群 {n['joins']}｜退群 {n['leaves']}｜活跃 {n['active']} 人\n"
        f"签到 {n['checkins']} 次｜问答 {n['quiz_answers']} 人次作答，{n['quiz_winners']} 人答对\n"
        f"券：发出 {n['coupons_issued']}｜抢到 {n['coupons_claimed']}｜核销 {n['coupons_redeemed']}\n"
        f"消息：发出 {n['messages_sent']}｜限速压住 {n['messages_held']}\n"
        f"违规：警告 {warnings}｜移出 {removals}｜黑名单拦截 {hits}\n"
        f"{rfm}\n"
        f"召回：提醒 {recall.nudged} 人，回来 {recall.nudged_back} 人（{_rate(recall.nudged_back, recall.nudged)}）\n"
        f"对照组 {recall.held} 人，回来 {recall.held_back} 人（{_rate(recall.held_back, recall.held)}）"
    )
