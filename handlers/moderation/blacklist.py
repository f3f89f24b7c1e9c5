"""The shop's blacklist: `blacklist: {reason}` takes a member out of every managed group they are in, and the
`blacklist` guard takes them out again, with an alert to staff and no welcome, whenever they join one later."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field as Option
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from bot.alerts import alerts
from bot.commands import one_line
from bot.context import Context, FieldContext, RunContext
from bot.events import MemberRef, Outgoing, RoomRef
from bot.playbook.types import Params
from bot.registry import action, guard, member_field
from bot.store import dialect
from bot.store.tables import RoomMember
from handlers.moderation.actions import moderated, removal
from handlers.moderation.log import record


class Blacklisted(SQLModel, table=True):
    """A member on the shop's blacklist: never in a managed group again until staff lift it (/解封, /撤销)."""

    __tablename__ = "blacklist"
    member_id: str = Field(primary_key=True)
    member_name: str = ""
    reason: str = ""
    by: str  # the playbook, or the staff member
    at: datetime


_blacklist = Blacklisted.__table__
_room_members = RoomMember.__table__


async def is_blacklisted(conn: AsyncConnection, member_id: str) -> Blacklisted | None:
    row = (await conn.execute(select(_blacklist).where(_blacklist.c.member_id == member_id))).first()
    return Blacklisted(**row._mapping) if row is not None else None


@member_field("blacklisted")
async def member_blacklisted(ctx: FieldContext, member_id: str) -> bool:
    """On the shop's blacklist."""
    return await is_blacklisted(ctx.conn, member_id) is not None


async def add(conn: AsyncConnection, member: MemberRef, reason: str, by: str, at: datetime) -> bool:
    """On the blacklist (False: already was)."""
    row = {"member_id": member.id, "member_name": member.name, "reason": reason, "by": by, "at": at}
    return (await conn.execute(dialect.insert_ignore(conn, _blacklist), row)).rowcount == 1


async def lift(conn: AsyncConnection, member_id: str) -> bool:
    return (await conn.execute(delete(_blacklist).where(_blacklist.c.member_id == member_id))).rowcount == 1


async def groups_of(ctx: Context, member_id: str) -> list[RoomRef]:
    """The managed groups the member is in now, as the store knows."""
    rows = await ctx.conn.execute(
        select(_room_members.c.room_id).where(_room_members.c.member_id == member_id, _room_members.c.active)
    )
    present = {r.room_id for r in rows}
    return [room for room in await ctx.managed_rooms() if room.id in present]


async def put_on(
    ctx: Context,
    member: MemberRef,
    reason: str,
    *,
    message: object = None,
    playbook_id: str | None = None,
    staff_id: str | None = None,
) -> list[Outgoing]:
    """On the blacklist (logged), out of every managed group the member is in: the removals, then the alert."""
    now = ctx.now()
    await add(ctx.conn, member, reason, playbook_id or staff_id or "", now)
    by = {"message": message, "playbook_id": playbook_id, "staff_id": staff_id}
    await record(ctx.conn, "blacklist", member, at=now, room=ctx.event.room, reason=reason, **by)
    rooms = await groups_of(ctx, member.id)
    out = [o for r in rooms if (o := await removal(ctx, member, r, reason, **by)) is not None]
    why = f"（{one_line(reason)}）" if reason else ""
    text = f"已拉黑 {one_line(member.name or member.id)}{why}，正在移出 {len(out)} 个群"
    return out + await alerts(ctx.conn, ctx.config, ctx.rooms_named, text, playbook_id=playbook_id or "command")


class BlacklistParams(Params):
    reason: str = Option("", max_length=100)
    to: str = "member"


@action("blacklist", schema=BlacklistParams, primary="reason", member_directed=True)
async def blacklist(ctx: RunContext, p: BlacklistParams) -> None:
    """Put the member on the shop's blacklist: removed from every managed group they are in, and again on every
    later join (each time with an alert to staff)."""
    member = moderated(ctx, p.to, "blacklists")
    ctx.outgoing += await put_on(ctx, member, p.reason, message=ctx.event, playbook_id=ctx.playbook.id)
    ctx.changed(member.id)


@guard("blacklist", events=("join",))
async def blacklisted_back(ctx: RunContext) -> bool:
    """A blacklisted member joined a managed group again: removed, staff told; no welcome. A newcomer a
    blacklisted member invited: staff told (a likely alt), welcomed as usual."""
    member, room = ctx.member, ctx.room
    if member is None or room is None or ctx.config.role_of(member.id) is not None:
        return False
    listed = await is_blacklisted(ctx.conn, member.id)
    if listed is None:
        await _invited_by_blacklisted(ctx, member, room)
        return False
    await record(ctx.conn, "rejoin", member, at=ctx.now(), room=room, reason=listed.reason, message=ctx.event)
    ctx.outgoing.append(Outgoing(listed.reason, room=room, member=member, playbook_id="blacklist", remove=True))
    why = f"（{one_line(listed.reason)}）" if listed.reason else ""
    who, where = one_line(member.name or member.id), one_line(room.topic or room.id)
    text = f"黑名单成员 {who} 又进了「{where}」，已移出{why}"
    ctx.outgoing += await alerts(ctx.conn, ctx.config, ctx.rooms_named, text, playbook_id="blacklist")
    return True


async def _invited_by_blacklisted(ctx: RunContext, member: MemberRef, room: RoomRef) -> None:
    """An alt has a new WeChat id: the one thing WeChat tells is who pulled it in. Staff are told; the newcomer
    stays (they may be a real customer the scammer added)."""
    inviter = getattr(ctx.event, "inviter", None)
    if inviter is None or await is_blacklisted(ctx.conn, inviter.id) is None:
        return
    who = f"{one_line(inviter.name or inviter.id)}（{inviter.id}）"
    whom = f"{one_line(member.name or member.id)}（{member.id}）"
    text = f"黑名单成员 {who}拉了 {whom}进「{one_line(room.topic or room.id)}」，可能是小号，请留意"
    ctx.outgoing += await alerts(ctx.conn, ctx.config, ctx.rooms_named, text, playbook_id="blacklist")
