"""Alerts: messages to staff about what moderation did or could not do (`alert:`, a refused removal).

config.yaml `alerts: {room: 店员群, to: [wxid_boss]}`: the room is a group named by its id (any group the bot is
in, e.g. a staff room it does not manage) or by the topic of a bound group (never a look-alike nobody bound);
`to` are people, messaged privately when they are the bot's friends. An alert never falls back into a customer
group: a person who cannot be messaged privately gets it through the alert room only, and an alert with
neither is logged. Alerts are outbox rows like every message (the governor paces them); a customer's reply
budget never cuts an alert about them. The machinery sends them too (bot/outbox: a removal WeChat refused), so
they live here and not with the moderation abilities.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pydantic import Field as Option
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Config
from bot.events import MemberRef, Outgoing, RoomRef
from bot.fleet.settings import Webhook
from bot.playbook.types import Duration, Params
from bot.registry import config_section
from bot.store.activity import friend_status, known_room
from bot.textnorm import printable

log = logging.getLogger("qunguan.alerts")
Named = Callable[[str], Awaitable[list[RoomRef]]]  # the bound groups a name means (Context.rooms_named)


@config_section("alerts")
class AlertsSection(Params):
    """`alerts: {room: 店员群, to: [wxid_boss]}`: where alerts to staff go. `webhooks`: group robots outside
    WeChat that hear about the accounts themselves (logged out, refused, silent), which WeChat cannot report."""

    room: str | None = Option(None, min_length=1)
    to: list[str] = []
    webhooks: list[Webhook] = []
    repeat_after: Duration = timedelta(minutes=30)  # the same alert about the same account, at most this often


async def alert_room(conn: AsyncConnection, config: Config, named: Named) -> RoomRef | None:
    """The alert room: a group the bot knows by that id, else the bound group with that topic; None: none."""
    name = config.section(AlertsSection).room
    if name is None:
        return None
    by_id = await known_room(conn, name)
    if by_id is not None:
        return by_id
    bound = await named(name)
    if len(bound) > 1:
        log.warning("alerts.room '%s' names %d bound groups; alerts go to the first", printable(name), len(bound))
    return bound[0] if bound else None


async def is_alert_room(conn: AsyncConnection, config: Config, named: Named, room_id: str) -> bool:
    """The group is the alert room: staff talk about adverts there, and it is never moderated nor welcomed."""
    if config.section(AlertsSection).room is None:
        return False
    room = await alert_room(conn, config, named)
    return room is not None and room.id == room_id


async def alerts(
    conn: AsyncConnection, config: Config, named: Named, text: str, *, playbook_id: str = ""
) -> list[Outgoing]:
    """The messages one alert is: to the alert room, and privately to each `to` person who is the bot's friend.
    One line: a member-made name with line breaks in it cannot forge a line of an alert."""
    text = " ".join(text.splitlines())
    if not text.strip():
        return []
    room = await alert_room(conn, config, named)
    out = [Outgoing(text, room=room, playbook_id=playbook_id, alert=True)] if room is not None else []
    for person in dict.fromkeys(config.section(AlertsSection).to):
        if await friend_status(conn, person):
            out.append(Outgoing(text, member=MemberRef(person), playbook_id=playbook_id, alert=True))
    if not out:
        log.warning("alert (no alert room or reachable staff): %s", printable(text))
    return out
