"""The moderation actions of playbooks: `warn`, `alert`, `remove`, `blacklist` (MODERATION.md).

They never act on staff or on the bot itself, whatever triggered the playbook: the action is skipped with a log
line. Removals and alerts are outbox rows (never a platform call here); everything is in the moderation log."""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import Field as Option
from sqlalchemy import select

from bot.alerts import alerts
from bot.context import Context, RunContext, SkipAction
from bot.events import MemberRef, Outgoing, RoomRef
from bot.playbook.types import Duration, Params, TextField
from bot.registry import action
from bot.runner import StopRun
from bot.store.tables import OutboxMessage, RoomMember
from handlers.moderation.log import live_warnings, record
from handlers.moderation.throttle import held_back

log = logging.getLogger("qunguan.moderation")
WARNING_LIFE = timedelta(days=30)
_room_members = RoomMember.__table__
_outbox = OutboxMessage.__table__


def moderated(ctx: RunContext, to: str, what: str) -> MemberRef:
    """The member an action is about; staff and the bot never are (skipped, with a log line)."""
    member = ctx.target(to)
    role = ctx.config.role_of(member.id)
    if role is not None or member.id == ctx.bot_id:
        raise SkipAction(f"{member.id} is {role or 'the bot'}: moderation never {what} staff")
    return member


async def removal(
    ctx: Context,
    member: MemberRef,
    room: RoomRef,
    reason: str,
    *,
    message: object = None,
    playbook_id: str | None = None,
    staff_id: str | None = None,
) -> Outgoing | None:
    """One removal, in the moderation log: the outbox row that asks WeChat for it (after the commit); None when
    the member is out of the group already, or a removal from it is on its way."""
    if await gone_or_going(ctx, member, room):
        log.info("%s is out of %s already, or on the way out: not removed again", member.id, room.id)
        return None
    by = {"playbook_id": playbook_id, "staff_id": staff_id}
    await record(ctx.conn, "remove", member, at=ctx.now(), room=room, reason=reason, message=message, **by)
    return Outgoing(reason, room=room, member=member, playbook_id=playbook_id or "command", remove=True)


async def gone_or_going(ctx: Context, member: MemberRef, room: RoomRef) -> bool:
    present = select(_room_members.c.active).where(
        _room_members.c.room_id == room.id, _room_members.c.member_id == member.id
    )
    going = select(_outbox.c.id).where(
        _outbox.c.remove.is_(True),
        _outbox.c.state.in_(("pending", "sending")),
        _outbox.c.room_id == room.id,
        _outbox.c.member_id == member.id,
    )
    active = (await ctx.conn.execute(present)).scalar()
    return active is False or (await ctx.conn.execute(going.limit(1))).first() is not None


class WarnParams(Params):
    reason: str = Option("", max_length=100)
    expires: Duration = WARNING_LIFE  # a warning counts this long
    to: str = "member"


@action("warn", schema=WarnParams, primary="reason", member_directed=True, sets={"warn": frozenset({"count"})})
async def warn(ctx: RunContext, p: WarnParams) -> None:
    """Record a warning (in this group's moderation log); `warn.count`: the member's live warnings, all groups."""
    member = ctx.target(p.to)
    now = ctx.now()
    ctx.vars["warn"] = {"count": await live_warnings(ctx.conn, member.id, now)}
    member = moderated(ctx, p.to, "warns")
    await record(
        ctx.conn,
        "warn",
        member,
        at=now,
        room=ctx.room,
        reason=p.reason,
        message=ctx.event,
        playbook_id=ctx.playbook.id,
        expires_at=now + p.expires,
    )
    ctx.vars["warn"] = {"count": await live_warnings(ctx.conn, member.id, now)}
    ctx.changed(member.id)


class AlertParams(Params):
    text: TextField


@action("alert", schema=AlertParams, primary="text")
async def alert(ctx: RunContext, p: AlertParams) -> None:
    """A message to staff: the `alerts:` room and people of config.yaml; never the customer group. About a member
    in a group, at most one every 10 minutes per playbook (the next says how many were held back)."""
    text = await ctx.render(p.text)
    if ctx.member is not None and ctx.room is not None:
        held = await held_back(ctx.conn, ctx.playbook.id, ctx.room.id, ctx.member.id, ctx.now())
        if held is None:
            raise SkipAction(f"an alert about {ctx.member.id} in {ctx.room.id} went lately: this one is held back")
        text += f"（上次提醒后又有 {held} 条同类提醒未发）" if held else ""
    ctx.outgoing += await alerts(ctx.conn, ctx.config, ctx.rooms_named, text, playbook_id=ctx.playbook.id)


class RemoveParams(Params):
    reason: str = Option("", max_length=100)
    to: str = "member"


@action("remove", schema=RemoveParams, primary="reason", member_directed=True)
async def remove(ctx: RunContext, p: RemoveParams) -> None:
    """Remove the member from this group: an outbox row ahead of the run's messages, outside the daily limit.
    When WeChat refuses (the bot is no owner or admin), staff get an alert; the run does not fail. When the member
    is out already or on the way out (a burst of ads), the run stops here: its "已移出本群" was said once."""
    member = moderated(ctx, p.to, "removes")
    if ctx.room is None:
        raise SkipAction("a removal needs a group: this run has none")
    out = await removal(ctx, member, ctx.room, p.reason, message=ctx.event, playbook_id=ctx.playbook.id)
    if out is None:
        raise StopRun()
    ctx.outgoing.append(out)
