"""`member.days_in_room`: whole days since the member joined this group as the bot saw it (a join event), or,
for a member who was there before, since the bot first saw the group (bot/store/activity.py records them so).
None outside a group, or for a member the store never saw in it. Advertisers are mostly newcomers:
`expr: "member.days_in_room < 1"`."""

from __future__ import annotations

from sqlalchemy import select

from bot.context import FieldContext
from bot.registry import member_field
from bot.store.tables import RoomMember

_room_members = RoomMember.__table__


@member_field("days_in_room")
async def days_in_room(ctx: FieldContext, member_id: str) -> int | None:
    if ctx.room_id is None:
        return None
    query = select(_room_members.c.joined_at).where(
        _room_members.c.room_id == ctx.room_id, _room_members.c.member_id == member_id
    )
    joined = (await ctx.conn.execute(query)).scalar_one_or_none()
    if joined is None:
        return None
    if joined.tzinfo is None:
        joined = joined.replace(tzinfo=ctx.now.tzinfo)
    return max(0, (ctx.now - joined).days)
