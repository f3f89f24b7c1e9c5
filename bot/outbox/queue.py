"""The outbox's queue: an event's messages become rows in the transaction that decided them (bot/outbox).

`entries` says what each row holds (kind, priority, target, dedup key, when it may go), leaving out
replies past a customer's reply budget; `queue` writes them; `released` hands them to delivery once
the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.budget import Budget, Charge
from bot.clock import Clock
from bot.config import Config
from bot.connectors.base import Connector
from bot.events import Event, Outgoing, answered
from bot.outbox import routing
from bot.outbox.delivery import Delivery
from bot.outbox.rows import INSERT, entry
from bot.store import Store, hot
from bot.store.deferred import Deferred


class Outbox(Delivery):
    """The engine's side of the outbox: queue inside the event's transaction, release after it commits."""

    def __init__(
        self, store: Store, connector: Connector, clock: Clock, config: Config, *, paced: bool, seed: int | None = None
    ) -> None:
        super().__init__(store, connector, clock, config, paced=paced, seed=seed)
        rule = config.sending.reply_budget
        self.budget = Budget(rule, config.tz) if rule is not None else None

    def entries(
        self,
        event: Event,
        playbook_id: str,
        part: int,
        messages: Sequence[Outgoing],
        now: datetime,
        *,
        kind: str | None = None,
        charged: list[Charge] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows for one playbook run's messages; `part` counts the run's resumptions after `wait:`.

        `kind` overrides what the event implies (a staff /群发 is a broadcast, though a message started it).
        Replies to a customer past their reply budget are left out: not queued at all. Removals and alerts to
        staff are no answers: the budget never cuts them, and removals go ahead of the run's messages. The answers
        counted against the budget are noted in `charged` (`give_back` if the rows never commit)."""
        kind = kind or event.sends_as  # replies answer a person, welcomes a join, broadcasts a schedule
        member = answered(event) if kind == "reply" else None
        if member is not None and messages and self.budget is not None and self.config.role_of(member.id) is None:
            answers = [m for m in messages if not (m.remove or m.announce or m.alert)]
            taken = self.budget.take(member, len(answers), now, charged=charged) if answers else 0
            cut = {id(m) for m in answers[taken:]}
            messages = [m for m in messages if id(m) not in cut]
        messages = sorted(messages, key=lambda m: not m.remove)
        hold = self.paced and kind == "welcome" and self.settings.welcome_batch_max > 1
        rows = []
        for i, m in enumerate(messages):
            batched = hold and m.room is not None and not m.invite
            rows.append(
                entry(
                    m,
                    key=f"{event.id}/{playbook_id}/{part}/{i}",
                    kind=kind,
                    event_id=event.id,
                    playbook_id=playbook_id,
                    reply_to=member.id if member is not None else None,
                    now=now,
                    not_before=now + self.settings.welcome_batch if batched else now,
                )
            )
        return routing.hint(rows, self.config, event.room.id if event.room is not None else None)

    async def queue(
        self,
        conn: AsyncConnection,
        entries: Sequence[dict[str, Any]],
        *,
        later: Deferred | None = None,
        speaker: tuple[str, str] | None = None,
    ) -> None:
        """Write rows in the caller's transaction (`later`: with the rest of a batch's, before its commit); a dedup
        key already there is skipped, not queued twice. In a fleet each row's sender is chosen first (routing.py;
        `speaker`: (group, account) the transaction found speaking for that group)."""
        if entries:
            await routing.assign(conn, self.config, entries, self.clock.now(), speaker=speaker)
            if later is not None:
                later.add(INSERT, entries)
            else:
                await hot.executemany(conn, INSERT, entries)

    def give_back(self, charged: list[Charge]) -> None:
        """The transaction that made these answers' rows did not commit: the reply budget counts them no more."""
        if self.budget is not None:
            self.budget.give_back(charged)

    async def released(self) -> None:
        """The transaction that queued rows has committed: paced, wake the worker; unpaced, send them now."""
        if self.paced:
            self.wake()
        else:
            await self.send_now()
