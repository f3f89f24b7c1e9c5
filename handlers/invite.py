"""`invite`: bring a member (a friend of the bot) into a group — the end of the friend -> group funnel."""

from __future__ import annotations

import logging

from bot.context import RunContext, RunError
from bot.playbook.types import Params
from bot.registry import action
from handlers.messaging import find_room

log = logging.getLogger("qunguan.invite")


class InviteParams(Params):
    room: str
    to: str = "member"


@action("invite", schema=InviteParams, primary="room", member_directed=True)
async def invite(ctx: RunContext, p: InviteParams) -> None:
    """WeChat lets a bot invite only its friends; others are skipped with a log line."""
    target = ctx.target(p.to)
    room = await find_room(ctx, p.room)
    if room is None:
        raise RunError(f"no bound group '{p.room}' is known to the bot")
    if not await ctx.is_friend(target.id):
        log.info("invite of %s to %s skipped: not the bot's friend (playbook %s)", target.id, room.id, ctx.playbook.id)
        return
    ctx.invite(target, room)
