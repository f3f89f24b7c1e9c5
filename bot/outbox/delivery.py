"""Delivery: sends the outbox's pending rows one at a time, as the governor allows (bot/outbox; the task that
runs the passes is worker.py).

Each send is claimed (`sending`, committed) before the platform is called and recorded after it:
sent, pending again after an error or a refusal, failed after `retries`, expired when a playbook
said it is worthless after a time. Unpaced, there is no worker task: `flush` sends what is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.config import Config
from bot.connectors.base import Connector, SendRefused
from bot.events import FriendRequest, Outgoing
from bot.governor import Governor, Status, merge_welcomes
from bot.outbox import announcements, removals, status
from bot.outbox.outcomes import NamedRooms, Outcome, given_up
from bot.outbox.removals import Told
from bot.outbox.rows import RECORD, TABLE, Row, behind, dropped_records, free, holds, read_row, record
from bot.outbox.rows import expire as expire_late
from bot.outbox.views import SENT, local_midnight
from bot.outbox.worker import Worker
from bot.store import Store, dialect

log = logging.getLogger("qunguan.outbox")

WINDOW = 1000  # pending rows one pass looks at, by priority then age
FULL_READ = 100  # passes between two full reads of the pending rows


class Delivery(Worker):
    """Sends what the engine queued: the worker task when paced, `flush` when not (the Outbox is one)."""

    def __init__(
        self, store: Store, connector: Connector, clock: Clock, config: Config, *, paced: bool, seed: int | None = None
    ) -> None:
        super().__init__(clock, paced=paced)
        self.store = store
        self.connector = connector
        self.config = config
        self.settings = config.sending
        self.governor = Governor(config.sending, config.tz, paced=paced, seed=seed)
        # In a fleet each process sends only its account's rows, and its governor counts only those.
        self._mine = [TABLE.c.account == config.account] if config.accounts else []
        self._cache: list[Row] | None = None  # pending rows as the last pass left them (None: read all)
        self._newest = 0  # highest row id read so far
        self._reads = 0  # passes since the last full read
        self._removals: list[Outcome] = []  # removals made or refused, told to the store with their rows' records
        self._told = Told()  # refused removals staff were told of lately
        self._announced: list[Outcome] = []  # announcements set or refused, followed up like removals
        self.named_rooms: NamedRooms | None = None  # the bound groups a name means (alerts.room), set by the engine
        self._breaker: Status | None = None  # the breaker as last stored for the console (None: not yet)

    async def send_now(self) -> None:
        """New rows were committed (unpaced): send them before the event's dispatch returns."""
        try:
            await self.flush()
        except Exception:  # the rows stay pending for the next flush; the event itself went through
            self.forget()
            log.exception("sending the queued messages failed; they stay queued")

    # -- lifecycle

    async def open(self) -> None:
        """At start: rows a crash left `sending` become `unknown`; the governor learns recent sends."""
        now = self.clock.now()
        async with self.store.unit() as conn:
            lost = await conn.execute(
                update(TABLE)
                .where(TABLE.c.state == "sending", *self._mine)
                .values(state="unknown", last_error="the bot stopped during the send; not resent")
            )
            pending = await conn.scalar(select(func.count()).where(TABLE.c.state == "pending", *self._mine))
            if self.paced:
                midnight = local_midnight(now, self.config.tz)
                today = await conn.scalar(select(func.count()).where(SENT, TABLE.c.sent_at >= midnight, *self._mine))
                since = now - max(self.settings.room_gap, timedelta(minutes=1))
                recent = (
                    await conn.execute(
                        select(TABLE.c.sent_at, TABLE.c.room_id, TABLE.c.member_id).where(
                            SENT, TABLE.c.sent_at >= since, *self._mine
                        )
                    )
                ).all()
                self.governor.restore(((dialect.aware(r[0]), r[1] or r[2]) for r in recent), today or 0, now)
        if lost.rowcount:
            log.warning(
                "%d message(s) were being sent when the bot last stopped: marked 'unknown' and not resent "
                "(WeChat cannot tell whether they went out; see the outbox table)",
                lost.rowcount,
            )
        if pending:
            log.info("%d message(s) queued before the last stop will be sent", pending)

    async def queued(self) -> list[Outgoing]:
        """Messages decided but not sent yet, by kind then age (tests, scenario reports; not friend acceptances);
        the worker takes them in fair turns within a kind."""
        async with self.store.unit() as conn:
            return [r.message for r in await self._load(conn) if not r.raw.accept]

    async def pending(self) -> int:
        async with self.store.unit() as conn:
            return (await conn.scalar(select(func.count()).where(TABLE.c.state == "pending", *self._mine))) or 0

    async def close(self) -> int:
        """Stop: keep sending for at most `shutdown_grace`, leave the rest pending; returns how many are left."""
        grace = self.settings.shutdown_grace if self.paced else timedelta()
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            self._wake.set()
            _done, running = await asyncio.wait({task}, timeout=grace.total_seconds() or 1.0)
            if running:  # a send that hangs: its row stays `sending` and becomes `unknown` at the next start
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        deadline = self.clock.now() + grace
        try:
            while (wake := await self.flush()) is not None and wake <= deadline:
                await self.clock.sleep((wake - self.clock.now()).total_seconds())
            left = await self.pending()
        except Exception:  # a broken database must not stop the shutdown
            log.exception("the outbox could not be drained")
            return 0
        if left:
            log.info("%d message(s) left queued; they are sent after the next start", left)
        return left

    def forget(self) -> None:
        self._cache = None

    # -- one pass

    async def _pass(self) -> datetime | None:
        """Send what the governor allows now, one message at a time; returns when to look again.

        Each transaction records the previous send and claims the next message, so a busy pass costs one
        commit per message; the claim is committed before the platform is called.
        """
        queue: list[Row] | None = None
        done: list[dict[str, Any]] = []
        try:
            while True:
                now = self.clock.now()
                async with self.store.unit() as conn:
                    if done:
                        await conn.execute(RECORD, done)
                        done = []
                    if await self._follow(conn, now):  # alerts, texts posted instead: read again
                        queue = self._cache = None
                    if queue is None:
                        queue = await self._pending_rows(conn)
                    queue = await expire_late(conn, queue, now)
                    plan = self.governor.plan([r.queued for r in free(queue)], now)
                    self._breaker = await status.publish(
                        conn, self.governor.status(), self._breaker, self.config.account
                    )
                    batch = sorted((r for r in queue if r.id in plan.ids), key=lambda r: plan.ids.index(r.id))
                    claimed = bool(batch) and await self._claim(conn, batch)
                if not batch:
                    return plan.wake
                queue = [r for r in queue if r.id not in plan.ids]
                if claimed:
                    done, back = await self._send(batch)
                    queue.extend(back)
                    if holds(batch[0]) and done[0]["b_state"] == "failed":  # what was held on it goes nowhere
                        dropped = behind(queue, batch[0])
                        done += dropped_records(batch[0], dropped)
                        queue = [r for r in queue if r not in dropped]
        finally:
            # What is still pending, for the next pass; forgotten (read again) after anything unexpected.
            self._cache = queue if self._cache is not None and not done else None

    async def _follow(self, conn: AsyncConnection, now: datetime) -> bool:
        """What the removals and announcements since the last look lead to; whether it queued rows."""
        made, self._removals = self._removals, []
        announced, self._announced = self._announced, []
        named = self.named_rooms
        queued = await removals.follow(conn, made, self.config, named, now, self._told)
        queued += await announcements.follow(conn, announced, self.config, named, now)
        return bool(queued)

    async def _pending_rows(self, conn: AsyncConnection) -> list[Row]:
        """Pending rows: all of them the first time, then only those committed since (ids only grow).

        Events wake the worker far more often than it may send; reading only the new rows keeps a wake
        cheap however long the queue. Everything is read again every FULL_READ passes (a PostgreSQL
        sequence may commit ids out of order) and whenever the window did not hold it all.
        """
        if self._cache is None or self._reads >= FULL_READ:
            rows, self._reads = await self._load(conn), 0
            complete = len(rows) < WINDOW
        else:
            new = await self._load(conn, after=self._newest)
            rows, self._reads = [*self._cache, *new], self._reads + 1
            complete = len(new) < WINDOW
        self._newest = max([self._newest, *(r.id for r in rows)])
        self._cache = rows if complete else None
        return rows

    async def _load(self, conn: AsyncConnection, *, after: int = 0) -> list[Row]:
        rows = await conn.execute(
            select(TABLE)
            .where(TABLE.c.state == "pending", TABLE.c.id > after, *self._mine)
            .order_by(TABLE.c.priority, TABLE.c.id)
            .limit(WINDOW)
        )
        return [read_row(r) for r in rows]

    async def _claim(self, conn: AsyncConnection, batch: Sequence[Row]) -> bool:
        """Mark the batch `sending` in this transaction, or nothing if another sender has any of it. On PostgreSQL
        the rows are locked first, skipping those another transaction holds, so two senders never wait on or
        take one row (SQLite runs one writer at a time: the update alone decides)."""
        ids = [r.id for r in batch]
        if conn.dialect.name == "postgresql":
            free = select(TABLE.c.id).where(TABLE.c.id.in_(ids), TABLE.c.state == "pending")
            if len((await conn.execute(free.with_for_update(skip_locked=True))).all()) != len(ids):
                log.info("outbox rows %s are taken by another sender; skipped here", ids)
                self._cache = None
                return False
        done = await conn.execute(
            update(TABLE)
            .where(TABLE.c.id.in_(ids), TABLE.c.state == "pending")
            .values(state="sending", attempts=TABLE.c.attempts + 1)
        )
        if done.rowcount != len(ids):  # another process shares this database: never risk a second send
            log.error("outbox rows %s were claimed by someone else; not sending them here", ids)
            self._cache = None
            return False
        return True

    def _message(self, batch: Sequence[Row]) -> Outgoing:
        lead = batch[0].message
        if len(batch) == 1:
            return lead
        text, mentions = merge_welcomes([(r.message.text, r.message.mentions) for r in batch])
        return replace(lead, text=text, mentions=mentions)

    async def _send(self, batch: Sequence[Row]) -> tuple[list[dict[str, Any]], list[Row]]:
        """One platform send for the batch; returns the rows' records and the rows to try again this pass."""
        lead = batch[0]
        message = self._message(batch)
        try:
            if message.accept:
                assert message.member is not None
                at = dialect.aware(lead.raw.created_at)
                await self.connector.accept_friend(FriendRequest(lead.raw.event_id, at, message.member, message.text))
                platform_id = None
            elif message.remove:
                self._removals.append(removal := await removals.remove(self.connector, lead))
                if removal.refused is not None:  # no owner or admin rights: staff are told, nothing is retried
                    return [record(lead, "failed", attempts=lead.attempts + 1, error=removal.refused)], []
                platform_id = None
            elif message.announce:
                self._announced.append(outcome := await announcements.announce(self.connector, lead))
                if outcome.refused is not None:  # posted as a message instead, staff are told, nothing is retried
                    return [record(lead, "failed", attempts=lead.attempts + 1, error=outcome.refused)], []
                platform_id = None
            else:
                platform_id = await self.connector.send(message)
        except SendRefused as exc:
            self.governor.refused(self.clock.now())
            log.warning("send to %s refused (playbook %s): %s; it waits", lead.target, message.playbook_id, exc)
            error = f"refused: {exc}"
            return [record(r, "pending", attempts=r.attempts, error=error) for r in batch], list(batch)
        except Exception as exc:
            return self._failed(batch, exc)
        now = self.clock.now()
        if not (message.accept or message.remove):  # no message: no turn, no place in the pace or the daily limit
            self.governor.sent(lead.queued.target, now, lead.queued.who)
        merged = f", {len(batch)} welcomes as one" if len(batch) > 1 else ""
        preview = " ".join(message.text.split())
        preview = preview if len(preview) <= 60 else preview[:59] + "…"
        what = "invitation" if message.invite else "friend acceptance" if message.accept else lead.queued.kind
        what = "removal" if message.remove else "announcement" if message.announce else what
        log.info(
            "sent %s %s to %s (playbook %s%s): %s", what, lead.id, lead.target, message.playbook_id, merged, preview
        )
        return [
            record(
                r,
                "sent",
                attempts=r.attempts + 1,
                platform_id=platform_id,
                sent_at=now,
                merged_into=None if r is lead else lead.id,
            )
            for r in batch
        ], []

    def _failed(self, batch: Sequence[Row], exc: Exception) -> tuple[list[dict[str, Any]], list[Row]]:
        now = self.clock.now()
        self.governor.failed(now)
        lead = batch[0]
        tries = lead.attempts + 1
        error = f"{type(exc).__name__}: {exc}"
        records = []
        if tries > self.settings.retries:
            log.error(
                "send to %s failed for good after %d tries (playbook %s): %s",
                lead.target,
                tries,
                lead.message.playbook_id,
                error,
            )
            for r in batch:
                records.append(record(r, "failed", attempts=r.attempts + 1, error=error))
            if lead.raw.remove:  # staff must know the member is still in the group
                self._removals.append(given_up(lead, tries))
            if lead.raw.announce:  # the text still reaches the group, and staff must know
                self._announced.append(given_up(lead, tries))
            return records, []
        retry = now + self.settings.retry_after * 2 ** (tries - 1)
        log.warning(
            "send to %s failed (try %d of %d, playbook %s): %s; trying again at %s",
            lead.target,
            tries,
            self.settings.retries + 1,
            lead.message.playbook_id,
            error,
            retry.astimezone(self.config.tz).strftime("%H:%M:%S"),
        )
        back = []
        for r in batch:
            records.append(record(r, "pending", attempts=r.attempts + 1, not_before=retry, error=error))
            back.append(Row(r.id, replace(r.queued, not_before=retry), r.attempts + 1, r.raw))
        return records, back
