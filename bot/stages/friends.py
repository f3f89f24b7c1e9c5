"""A friend request: accepted per config.friends (at all; with one of its keywords in the greeting, if any are
set). The decision is made here, in the event's transaction, and carried out by the outbox after the commit
(a durable row sent before the greeting): a crash neither loses it nor repeats it. A request left unanswered
runs no playbook.

In a fleet, what an event says about a member's friendship is this account's own (bot/fleet/friendships.py),
recorded by the speaker stage on every account, before it decides who acts.
"""

from __future__ import annotations

import logging

from bot.events import Outgoing
from bot.stages.stage import Stage, Turn
from bot.store.activity import set_friend

log = logging.getLogger("qunguan.engine")


class Friends(Stage):
    name = "friends"

    async def handle(self, turn: Turn) -> bool:
        event = turn.event
        if event.kind != "friend":
            return False
        account = self.runtime.config.account
        member, hello = event.member, event.hello  # type: ignore[union-attr]
        assert member is not None
        policy = self.runtime.config.friends
        if not policy.accept or (policy.keywords and not any(word in hello for word in policy.keywords)):
            log.info("friend request of %s left unanswered (config.friends)", member.id)
            return True
        accept = Outgoing(hello, member=member, accept=True)  # the request as the outbox hands it over
        turn.queued += self.runtime.outbox.entries(event, "accept", 0, [accept], turn.now, kind="notice")
        # its playbooks' greeting and `invite` need a friend
        await set_friend(turn.conn, member.id, True, account=account, at=turn.now)
        return False
