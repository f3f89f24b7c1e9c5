"""`announce`: set the group announcement (群公告), e.g. the group rules.

The action only queues an outbox row (bot/outbox/announcements.py makes it after the commit): WeChat lets only a
group's owner or admins set the announcement, and where the bot is neither the text is posted in the group as a
message instead and staff are alerted. WeChat takes at most ANNOUNCE_LIMIT characters: a text written out longer
is a load error; one a template made longer is not set, and staff are told."""

from __future__ import annotations

from pydantic import field_validator

from bot.alerts import alerts
from bot.context import RunContext, RunError, SkipAction, SkipSend
from bot.events import Outgoing
from bot.playbook.templates import Text
from bot.playbook.types import Params, TextField
from bot.registry import action
from handlers.messaging import carries_code, find_room

# The longest group announcement (群公告) the bot asks WeChat for, in characters. Neither wechaty nor the puppets
# check a length; 2000 is the limit commonly given for the WeChat client's announcement editor.
ANNOUNCE_LIMIT = 2000


class AnnounceParams(Params):
    text: TextField
    room: str | None = None  # a bound group by topic or id, like `say`; default: the current one

    @field_validator("text")
    @classmethod
    def _fits(cls, text: Text) -> Text:
        if not text.templated and len(text.source.strip()) > ANNOUNCE_LIMIT:
            raise ValueError(
                f"is {len(text.source.strip())} characters long; a WeChat group announcement takes at most "
                f"{ANNOUNCE_LIMIT}"
            )
        return text


@action("announce", schema=AnnounceParams, primary="text")
async def announce(ctx: RunContext, p: AnnounceParams) -> None:
    """Set the group announcement of this group (or `room:`): an outbox row, made after the commit."""
    room = ctx.room if p.room is None else await find_room(ctx, p.room)
    if room is None:
        if p.room is not None:
            raise RunError(f"no bound group '{p.room}' is known to the bot")
        raise SkipAction("an announcement needs a group: this run has none")
    text = await ctx.render(p.text)
    if not text:
        raise SkipSend("the announcement is empty: not set")
    if carries_code(ctx, p.text, text):
        raise SkipSend("the text carries a coupon code, and a group is no place for one: use 'dm'")
    if len(text) > ANNOUNCE_LIMIT:
        told = f"群公告没有设置：内容有 {len(text)} 字，微信最多 {ANNOUNCE_LIMIT} 字"
        ctx.outgoing += await alerts(ctx.conn, ctx.config, ctx.rooms_named, told, playbook_id=ctx.playbook.id)
        raise SkipSend(
            f"an announcement of {len(text)} characters for {room.id}: WeChat takes at most {ANNOUNCE_LIMIT}; not set"
        )
    ctx.outgoing.append(Outgoing(text, room=room, playbook_id=ctx.playbook.id, announce=True))
