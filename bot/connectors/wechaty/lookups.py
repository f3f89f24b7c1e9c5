"""Names, topics and friend flags from the puppet service, remembered for a while and never without bound.

python-wechaty's own Contact/Room objects live in class-level pools whose payloads go stale, so we ask
the puppet directly and keep the answers here: for CACHE_SECONDS by the connector's clock (tests move it
without sleeping), and at most MAX_CONTACTS / MAX_ROOMS of them (least recently used go first).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import TTLCache

from bot.clock import Clock
from bot.connectors.wechaty.shims import first_line
from bot.events import MemberRef, RoomRef

log = logging.getLogger("qunguan.wechaty")

CACHE_SECONDS = 120.0  # names, topics and friendship flags are looked up again after this
MAX_CONTACTS = 5000  # a bot meets many members over months; one not remembered is looked up again
MAX_ROOMS = 1000

Rpc = Callable[..., Awaitable[Any]]


class Lookups:
    def __init__(self, rpc: Rpc, clock: Clock) -> None:
        self._rpc = rpc
        self._clock = clock
        self.contacts: TTLCache[str, Any] = TTLCache(MAX_CONTACTS, CACHE_SECONDS, timer=self._seconds)  # payloads
        self.rooms: TTLCache[str, str] = TTLCache(MAX_ROOMS, CACHE_SECONDS, timer=self._seconds)  # topics

    def _seconds(self) -> float:
        return self._clock.now().timestamp()

    def clear(self) -> None:
        """A new login may be another account: nothing known about the last one holds."""
        self.contacts.clear()
        self.rooms.clear()

    def forget_contact(self, contact_id: str) -> None:
        """Their payload just changed (a friend request, a new friend): look it up afresh."""
        self.contacts.pop(contact_id, None)

    def forget_room(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)

    def renamed(self, room_id: str, topic: str) -> None:
        """The topic from a rename event: the service's room payload may lag behind it."""
        self.rooms[room_id] = topic

    async def contact(self, contact_id: str) -> Any:
        """The contact's payload; raises when the puppet service cannot say."""
        payload = self.contacts.get(contact_id)
        if payload is None:
            payload = self.contacts[contact_id] = await self._rpc("contact_payload", contact_id)
        return payload

    async def member(self, contact_id: str) -> MemberRef:
        """Who someone is, and whether a friend of the bot; an event is not dropped because a name could not be
        looked up."""
        try:
            contact = await self.contact(contact_id)
            return MemberRef(contact_id, contact.name or "", friend=contact.friend)
        except Exception as exc:
            log.debug("no contact payload for %s: %s", contact_id, first_line(exc))
            return MemberRef(contact_id)

    async def room(self, room_id: str) -> RoomRef:
        topic = self.rooms.get(room_id)
        if topic is None:
            try:
                topic = self.rooms[room_id] = (await self._rpc("room_payload", room_id)).topic or ""
            except Exception as exc:
                log.debug("no room payload for %s: %s", room_id, first_line(exc))
                return RoomRef(room_id)
        return RoomRef(room_id, topic)
