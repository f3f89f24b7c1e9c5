"""The alert room is staff's (config.yaml `alerts:`): someone joining it is no customer to welcome, even when the
group is bound (an alert room named by topic must be). Its messages are never moderated (bot/stages/moderation.py);
staff commands there work as anywhere."""

from __future__ import annotations

from bot.alerts import is_alert_room
from bot.context import RunContext
from bot.registry import guard


@guard("alert-room", events=("join",))
async def joined_the_alert_room(ctx: RunContext) -> bool:
    """A join in the alert room goes no further: no welcome playbook runs there."""
    room = ctx.room
    return room is not None and await is_alert_room(ctx.conn, ctx.config, ctx.rooms_named, room.id)
