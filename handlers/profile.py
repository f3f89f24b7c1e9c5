"""/成员: a member's profile for staff — points, streak, lifecycle stage, and in private the tags, coupons, groups
and inviter (in a group everyone reads the answer, so the full card goes to the asker privately)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from bot.commands import CommandContext
from bot.events import Outgoing
from bot.optout import opted_out
from bot.registry import staff_command
from bot.store.tables import RoomMember
from handlers.checkin import member_streak
from handlers.coupons import Coupon
from handlers.points import balance
from handlers.segments import CHINESE, member_lifecycle
from handlers.tags import MemberTag

if TYPE_CHECKING:
    from bot.events import MemberRef

_tags = MemberTag.__table__
_coupons = Coupon.__table__
_room_members = RoomMember.__table__
STAGE_NAMES = {stage: name for name, stage in CHINESE.items()}


@staff_command("成员", aliases=("member",), role="staff", usage="/成员 @某人")
async def profile(ctx: CommandContext) -> str:
    """查看成员资料：积分、连续签到、标签、券、所在群（在群里问，完整资料私信给你）"""
    member = await ctx.target()
    points = await balance(ctx.conn, member.id)
    streak = await member_streak(ctx.fields(), member.id)
    stage = STAGE_NAMES.get(await member_lifecycle(ctx.fields(), member.id), "")
    summary = f"积分 {points}｜连续签到 {streak} 天｜{stage}"
    if ctx.event.room is None:
        return await _full_profile(ctx, member, summary)
    if not await ctx.is_friend(ctx.sender.id):  # everyone in the group reads the answer: no ids, tags, ...
        return f"{member.name}：{summary}（加我为好友后私聊我发送 /成员 微信ID，可看完整资料）"
    full = await _full_profile(ctx, member, summary)
    ctx.send("profile", [Outgoing(full, member=ctx.sender)])
    return f"{member.name}：{summary}（完整资料已私信给你）"


async def _full_profile(ctx: CommandContext, member: MemberRef, summary: str) -> str:
    tags = [r.tag for r in await ctx.conn.execute(select(_tags.c.tag).where(_tags.c.member_id == member.id))]
    coupons = (
        await ctx.conn.execute(
            select(func.count()).where(_coupons.c.member_id == member.id, _coupons.c.redeemed_at.is_(None))
        )
    ).scalar_one()
    rooms = (
        await ctx.conn.execute(
            select(func.count()).where(_room_members.c.member_id == member.id, _room_members.c.active.is_(True))
        )
    ).scalar_one()
    inviter = (
        await ctx.conn.execute(
            select(_room_members.c.inviter_id)
            .where(_room_members.c.member_id == member.id, _room_members.c.inviter_id.is_not(None))
            .limit(1)
        )
    ).scalar()
    quiet = "｜已退订" if await opted_out(ctx.conn, member.id) else ""
    return (
        f"{member.name}（{member.id}）\n{summary}{quiet}\n未用的券 {coupons} 张｜在 {rooms} 个群｜"
        f"邀请人 {inviter or '无'}\n标签：{'、'.join(tags) or '无'}"
    )
