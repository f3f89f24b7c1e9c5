"""Speaking: `reply`, `say` (to a room) and `dm` (private, friends only)."""

from __future__ import annotations

import logging

from pydantic import StrictBool

from bot.context import RunContext, RunError
from bot.events import RoomRef
from bot.optout import opted_out
from bot.playbook.types import Duration, Params, TextField
from bot.registry import action

log = logging.getLogger("qunguan.messaging")


class ReplyParams(Params):
    text: TextField
    expires: Duration | None = None  # not sent at all if it cannot leave within this (quiet hours, a pause)
    mention: StrictBool = False


@action("reply", schema=ReplyParams, primary="text")
async def reply(ctx: RunContext, p: ReplyParams) -> None:
    """Answer where the event happened; `mention: true` @-mentions the sender in a group."""
    text = await ctx.render(p.text)
    member = ctx.member
    if ctx.room is not None:
        ctx.send(text, room=ctx.room, mentions=(member,) if p.mention and member else (), expires=p.expires)
    elif member is not None:
        ctx.send(text, member=member, expires=p.expires)
    else:
        raise RunError("nowhere to reply: this event has no conversation")


class SayParams(Params):
    text: TextField
    expires: Duration | None = None
    room: str | None = None


async def find_room(ctx: RunContext, name: str) -> RoomRef | None:
    """A managed (bound) group by its id, topic or config.yaml name: a look-alike with that topic is never it."""
    rooms = await ctx.engine.rooms.named(ctx.conn, name)
    return rooms[0] if rooms else None


@action("say", schema=SayParams, primary="text")
async def say(ctx: RunContext, p: SayParams) -> None:
    """Post to a room by topic or id (default: the current one)."""
    room = ctx.room if p.room is None else await find_room(ctx, p.room)
    if room is None:
        raise RunError(f"no bound group '{p.room}' is known to the bot" if p.room else "this event has no room")
    ctx.send(await ctx.render(p.text), room=room, expires=p.expires)


class DmParams(Params):
    text: TextField
    expires: Duration | None = None
    to: str = "member"


@action("dm", schema=DmParams, primary="text", member_directed=True)
async def dm(ctx: RunContext, p: DmParams) -> None:
    """Private message. WeChat only delivers to friends: otherwise @-mention in the room or skip.
    A member who opted out (退订) gets none."""
    target = ctx.target(p.to)
    if await opted_out(ctx.conn, target.id):
        log.info("dm to %s skipped: opted out (playbook %s)", target.id, ctx.playbook.id)
        return
    text = await ctx.render(p.text)
    if await ctx.engine.connector.is_friend(target.id):
        ctx.send(text, member=target, expires=p.expires)
    elif ctx.config.dm_fallback == "mention" and ctx.room is not None:
        ctx.send(text, room=ctx.room, mentions=(target,), expires=p.expires)
    else:
        log.info("dm to %s skipped: not the bot's friend (playbook %s)", target.id, ctx.playbook.id)
