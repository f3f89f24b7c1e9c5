"""Referrals: whom a member brought into the groups, as WeChat reported it (`member.invited_today`)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.context import FieldContext
from bot.registry import member_field
from bot.store.tables import RoomMember

_room_members = RoomMember.__table__


@member_field("invited_today")
async def member_invited_today(ctx: FieldContext, member_id: str) -> int:
    """Members this member brought into a group since local midnight (inviting yourself is nobody): a referral
    reward that stops after a few a day makes a stack of alt accounts pay little."""
    midnight = ctx.local_now().replace(hour=0, minute=0, second=0, microsecond=0)
    c = _room_members.c
    invited = select(func.count(func.distinct(c.member_id))).where(
        c.inviter_id == member_id, c.member_id != member_id, c.joined_at >= midnight
    )
    return (await ctx.conn.execute(invited)).scalar_one()
