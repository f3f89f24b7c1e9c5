"""Where committed decisions to speak go on their way to the connector.

Messages are handed over only after the transaction that decided them has
committed, in the order they were decided. A send that fails is logged with
its target; it never takes the engine down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.connectors.base import Connector
from bot.events import Outgoing

log = logging.getLogger("qunguan.outbox")


class Outbox:
    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def deliver(self, messages: Iterable[Outgoing]) -> None:
        for message in messages:
            try:
                await self.connector.send(message)
            except Exception:
                log.exception("send to %s failed (playbook %s)", message.target_id, message.playbook_id)
