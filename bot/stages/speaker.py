"""One speaker per group (a fleet: config.yaml `accounts:`): every account in a group gets each of its events,
each with its own message id; exactly one, the holder of the group's lease (bot/fleet/leases.py), acts on them.

Dedup, before this, has kept membership current on every account. Here the speaker marks the event's
account-independent key done (bot/fleet/held.py) and counts the activity, in the event's own transaction, and
the event goes on; any other account holds the event for a takeover and it goes no further. Scheduled ticks and
window ends are not the group's members' events (they are made once by the process that fires them) and pass,
as does everything outside a fleet, at no cost.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.events import RoomRef
from bot.fleet import account_rooms, held, leases
from bot.stages.stage import Stage, Turn
from bot.store.activity import record_activity, set_friend

if TYPE_CHECKING:
    from bot.context import Runtime

log = logging.getLogger("qunguan.fleet")
FRIENDS_KEPT = 100_000  # members whose recorded friendship this process remembers (then it starts over)


class Speaker(Stage):
    name = "speaker"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        config = runtime.config
        self.fleet = bool(config.accounts)
        self.account = config.account
        self.lease = config.fleet.lease
        self.stopped = False  # a clean stop released this account's leases: it acts on no group event any more
        self.released: set[str] = set()  # groups the account left: it holds their events, never speaks there
        self._known: set[str] = set()  # groups recorded in account_rooms by this process
        self._friends: dict[str, bool] = {}  # what this account last recorded of a member's friendship (committed)

    async def handle(self, turn: Turn) -> bool:
        event, room = turn.event, turn.event.room
        if not self.fleet or not event.recorded:
            return False
        conn, now = turn.conn, turn.now
        if turn.managed:
            await self._friendships(turn)
        if room is None:
            return False
        await self._keep_rooms(turn, room)
        key = held.key(event)
        speaks, first = False, False
        if not (self.stopped or room.id in self.released):
            speaks, first = await held.speak_done(conn, key, event, self.account, now, self.lease)
        if speaks:
            if not first:
                log.debug("event %s was acted on through another account's copy", event.id)
                turn.duplicate = True
                return True
            turn.speaker = (room.id, self.account)
            if turn.managed:
                today = turn.now.astimezone(self.runtime.config.tz).date()
                assert turn.later is not None  # the engine's: every event in a transaction has one
                await record_activity(conn, event, now, today=today, later=turn.later)
            return False
        await held.hold(conn, key, event, self.account)
        turn.duplicate = True  # not this account's to act on: no reply, no trace, no count
        return True

    async def _friendships(self, turn: Turn) -> None:
        """Whatever the event says of its people's friendship with this account, on every account: a `dm` goes
        from an account the member is a friend of, whichever account speaks for the group."""
        event = turn.event
        said: dict[str, bool] = {}
        for member in (event.member, event.inviter, event.by):
            if member is not None and member.friend is not None and self._friends.get(member.id) != member.friend:
                await set_friend(turn.conn, member.id, member.friend, account=self.account, at=turn.now)
                said[member.id] = member.friend
        if said:  # only this account writes its own view: once recorded, the same again needs no statement
            turn.cached.append(lambda: self._remember(said))

    def _remember(self, said: dict[str, bool]) -> None:
        if len(self._friends) > FRIENDS_KEPT:
            self._friends.clear()
        self._friends.update(said)

    async def _keep_rooms(self, turn: Turn, room: RoomRef) -> None:
        """account_rooms: the groups this account is in, once per group and process (remembered once the write has
        committed: a batch that failed as a whole writes it again when its events are tried again); left when it
        leaves."""
        conn, event, now = turn.conn, turn.event, turn.now
        me = self.runtime.bot_id
        if me and event.member is not None and event.member.id == me and event.kind in ("join", "leave"):
            if event.kind == "leave":
                await account_rooms.left(conn, self.account, room.id)
                await leases.release(conn, self.account, now, room.id)
                self.released.add(room.id)
                self._known.discard(room.id)
                log.info("account %s left group %s: another account in it speaks for it now", self.account, room.id)
                return
            self.released.discard(room.id)
        if room.id not in self._known:
            await account_rooms.seen_in(conn, self.account, room.id, now)
            turn.cached.append(lambda: self._known.add(room.id))
