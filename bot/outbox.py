"""The durable outbox: every message the bot decides to send is a database row first.

The engine writes an event's messages (one executemany) inside the transaction
that decided them, so they exist exactly when the event's other writes do. A
delivery worker then sends them one at a time, as the governor allows:

    pending -> sending (committed before connector.send is called) -> sent
                      -> pending again (an error: retry after a backoff; a refusal: after the pause)
                      -> failed (still failing after `retries`)
    sending found at start -> unknown, never resent

A process that dies during a send leaves its row `sending`. WeChat cannot tell
us whether that message went out, and a message sent twice is worse than one in
doubt, so such rows are logged and kept as `unknown` (at most once). Nothing
`pending` is ever lost: it is sent after the next start.

With pacing off (TestBot, scenarios without `governor: true`, the simulator)
there is no worker: an event's rows are sent before `dispatch` returns, through
the same table and the same states.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.budget import Budget
from bot.clock import Clock
from bot.config import Config
from bot.connectors.base import Connector, SendRefused
from bot.events import Event, FriendRequest, MemberRef, Outgoing, RoomRef, answered
from bot.governor import PRIORITY, Governor, Queued, merge_welcomes
from bot.store import Store, dialect
from bot.store.tables import OutboxMessage

log = logging.getLogger("qunguan.outbox")

TABLE = OutboxMessage.__table__
WINDOW = 1000  # pending rows one pass looks at, by priority then age
FULL_READ = 100  # passes between two full reads of the pending rows
PASS_RETRY = timedelta(seconds=10)  # after a pass failed on the database


@dataclass(frozen=True, slots=True)
class _Row:
    """A pending row as the worker holds it between loading and recording."""

    id: int
    queued: Queued
    attempts: int
    raw: Any  # the database row; the message is built only for rows that are sent

    @property
    def message(self) -> Outgoing:
        return _message(self.raw)

    @property
    def target(self) -> str:
        m = self.message
        if m.room is not None:
            return f"room {m.room.topic} ({m.room.id})" if m.room.topic not in ("", m.room.id) else f"room {m.room.id}"
        assert m.member is not None
        name = m.member.name
        return f"member {name} ({m.member.id})" if name not in ("", m.member.id) else f"member {m.member.id}"


NOT_ACCEPTED = "the friend request it follows could not be accepted"


def _not_behind_an_accept(queue: list[_Row]) -> list[_Row]:
    """The rows that may go: what an event decided after accepting a friend request (the greeting, the
    invitation) waits until that acceptance is sent, since WeChat delivers neither to someone not a friend."""
    accepting = {r.raw.event_id for r in queue if r.raw.accept}
    return [r for r in queue if r.raw.accept or r.raw.event_id not in accepting] if accepting else queue


def _behind(queue: list[_Row], accept: _Row) -> list[_Row]:
    return [r for r in queue if r.raw.event_id == accept.raw.event_id and r is not accept]


def _message(r: Any) -> Outgoing:
    room = RoomRef(r.room_id, r.room_topic) if r.room_id is not None else None
    member = MemberRef(r.member_id, r.member_name) if r.member_id is not None else None
    mentions = tuple(MemberRef(i, n) for i, n in json.loads(r.mentions))
    return Outgoing(r.text, room, member, mentions, r.playbook_id, r.invite, accept=bool(r.accept))


def _row(r: Any) -> _Row:
    group = None
    if r.kind == "welcome" and r.room_id is not None and not r.invite:
        # The i-th message of each join's run merges with the i-th of the others (key: event/playbook/part/i).
        group = f"{r.room_id}\n{r.playbook_id}\n{'/'.join(r.dedup_key.rsplit('/', 2)[-2:])}"
    target = r.room_id if r.room_id is not None else r.member_id
    queued = Queued(r.id, r.kind, target, dialect.aware(r.not_before), group, r.reply_to, dialect.aware(r.created_at))
    return _Row(r.id, queued, r.attempts, r)


_RECORD = (
    update(TABLE)
    .where(TABLE.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        not_before=bindparam("b_not_before"),
        last_error=bindparam("b_error"),
        platform_id=bindparam("b_platform_id"),
        sent_at=bindparam("b_sent_at"),
        merged_into=bindparam("b_merged_into"),
    )
)


def _record(
    row: _Row,
    state: str,
    *,
    attempts: int,
    not_before: datetime | None = None,
    error: str | None = None,
    platform_id: str | None = None,
    sent_at: datetime | None = None,
    merged_into: int | None = None,
) -> dict[str, Any]:
    return {
        "b_id": row.id,
        "b_state": state,
        "b_attempts": attempts,
        "b_not_before": not_before or row.queued.not_before,
        "b_error": error,
        "b_platform_id": platform_id,
        "b_sent_at": sent_at,
        "b_merged_into": merged_into,
    }


class Outbox:
    def __init__(
        self, store: Store, connector: Connector, clock: Clock, config: Config, *, paced: bool, seed: int | None = None
    ) -> None:
        self.store = store
        self.connector = connector
        self.clock = clock
        self.config = config
        self.settings = config.sending
        self.paced = paced
        self.governor = Governor(config.sending, config.tz, paced=paced, seed=seed)
        rule = config.sending.reply_budget
        self.budget = Budget(rule, config.tz) if rule is not None else None
        self.wake_at: datetime | None = None  # when the worker looks again by itself (None: when told)
        self._lock = asyncio.Lock()  # one sender at a time: the account sends one message at a time
        self._wake = asyncio.Event()
        self._kicks = 0
        self._settle_waiters: list[tuple[float, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._cache: list[_Row] | None = None  # pending rows as the last pass left them (None: read all)
        self._newest = 0  # highest row id read so far
        self._reads = 0  # passes since the last full read

    # -- the engine's side: queue inside the event's transaction, release after it commits

    def entries(
        self,
        event: Event,
        playbook_id: str,
        part: int,
        messages: Sequence[Outgoing],
        now: datetime,
        *,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows for one playbook run's messages; `part` counts the run's resumptions after `wait:`.

        `kind` overrides what the event implies (a staff /群发 is a broadcast, though a message started it).
        Replies to a customer past their reply budget are left out: not queued at all."""
        kind = kind or event.sends_as  # replies answer a person, welcomes a join, broadcasts a schedule
        member = answered(event) if kind == "reply" else None
        if member is not None and messages and self.budget is not None and self.config.role_of(member.id) is None:
            messages = messages[: self.budget.take(member, len(messages), now)]
        hold = self.paced and kind == "welcome" and self.settings.welcome_batch_max > 1
        rows = []
        for i, m in enumerate(messages):
            batched = hold and m.room is not None and not m.invite
            rows.append(
                {
                    "dedup_key": f"{event.id}/{playbook_id}/{part}/{i}",
                    "kind": kind,
                    "priority": PRIORITY[kind],
                    "event_id": event.id,
                    "playbook_id": m.playbook_id or playbook_id,
                    "room_id": m.room.id if m.room else None,
                    "room_topic": m.room.topic if m.room else "",
                    "member_id": m.member.id if m.member else None,
                    "member_name": m.member.name if m.member else "",
                    "mentions": json.dumps([[x.id, x.name] for x in m.mentions], ensure_ascii=False),
                    "invite": m.invite,
                    "accept": m.accept,
                    "reply_to": member.id if member is not None else None,
                    "text": m.text,
                    "created_at": now,
                    "not_before": now + self.settings.welcome_batch if batched else now,
                    "expires_at": m.expires_at,
                    "state": "pending",
                    "attempts": 0,
                }
            )
        return rows

    async def queue(self, conn: AsyncConnection, entries: Sequence[dict[str, Any]]) -> None:
        """Write rows in the caller's transaction; a dedup key already there is skipped, not queued twice."""
        if entries:
            await conn.execute(dialect.insert_ignore(conn, TABLE), list(entries))

    async def released(self) -> None:
        """The transaction that queued rows has committed: paced, wake the worker; unpaced, send them now."""
        if self.paced:
            self.start()
            self._wake.set()
            return
        try:
            await self.flush()
        except Exception:  # the rows stay pending for the next flush; the event itself went through
            self._cache = None
            log.exception("sending the queued messages failed; they stay queued")

    async def flush(self) -> datetime | None:
        """Send everything the governor allows right now; returns when more may go."""
        async with self._lock:
            self.wake_at = await self._pass()
        return self.wake_at

    # -- lifecycle

    async def open(self) -> None:
        """At start: rows a crash left `sending` become `unknown`; the governor learns recent sends."""
        now = self.clock.now()
        async with self.store.unit() as conn:
            lost = await conn.execute(
                update(TABLE)
                .where(TABLE.c.state == "sending")
                .values(state="unknown", last_error="the bot stopped during the send; not resent")
            )
            pending = await conn.scalar(select(func.count()).where(TABLE.c.state == "pending"))
            if self.paced:
                local = now.astimezone(self.config.tz)
                midnight = datetime.combine(local.date(), time(0), tzinfo=self.config.tz).astimezone(UTC)
                done = (TABLE.c.state == "sent") & TABLE.c.merged_into.is_(None)
                today = await conn.scalar(select(func.count()).where(done, TABLE.c.sent_at >= midnight))
                since = now - max(self.settings.room_gap, timedelta(minutes=1))
                recent = (
                    await conn.execute(
                        select(TABLE.c.sent_at, TABLE.c.room_id, TABLE.c.member_id).where(
                            done, TABLE.c.sent_at >= since
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

    def start(self) -> None:
        """Start the delivery worker (paced only); the engine also starts it on the first event."""
        if not self.paced or self._task is not None or self._closing:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="qunguan-outbox")
        self._task.add_done_callback(self._worker_done)

    async def settled(self) -> None:
        """Return once the bot has sent everything the governor allows at the clock's present (tests)."""
        if not self.paced:
            await self.flush()
            return
        self.start()
        if self._task is None or self._task.done():
            return
        self._kicks += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._settle_waiters.append((self._kicks, future))
        self._wake.set()
        await future

    async def queued(self) -> list[Outgoing]:
        """Messages decided but not sent yet, by kind then age (tests, scenario reports); the worker takes them in
        fair turns within a kind."""
        async with self.store.unit() as conn:
            return [r.message for r in await self._load(conn)]

    async def pending(self) -> int:
        async with self.store.unit() as conn:
            return (await conn.scalar(select(func.count()).where(TABLE.c.state == "pending"))) or 0

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

    async def abandon(self) -> None:
        """Stop the worker where it stands, recording nothing (tests: what a kill -9 leaves behind)."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the worker

    async def _run(self) -> None:
        while not self._closing:
            generation = self._kicks
            self._wake.clear()
            try:
                async with self._lock:
                    wake = await self._pass()
            except Exception:
                log.exception("delivery pass failed; trying again in %s", PASS_RETRY)
                self._cache = None
                wake = self.clock.now() + PASS_RETRY
            self.wake_at = wake
            self._settled(generation)
            if self._closing:
                break
            await self._sleep(wake)

    async def _sleep(self, wake: datetime | None) -> None:
        """Until new rows are released, or the clock reaches `wake`."""
        if self._wake.is_set():
            return
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
        if wake is not None:
            waits.add(asyncio.ensure_future(self.clock.until(wake)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _settled(self, generation: float) -> None:
        keep = []
        for wanted, future in self._settle_waiters:
            if wanted <= generation:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((wanted, future))
        self._settle_waiters = keep

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self._settled(math.inf)
        if not task.cancelled() and task.exception() is not None:
            log.error("the outbox worker stopped", exc_info=task.exception())

    async def _pass(self) -> datetime | None:
        """Send what the governor allows now, one message at a time; returns when to look again.

        Each transaction records the previous send and claims the next message, so a busy pass costs one
        commit per message; the claim is committed before the platform is called.
        """
        queue: list[_Row] | None = None
        done: list[dict[str, Any]] = []
        try:
            while True:
                now = self.clock.now()
                async with self.store.unit() as conn:
                    if done:
                        await conn.execute(_RECORD, done)
                        done = []
                    if queue is None:
                        queue = await self._pending_rows(conn)
                    queue = await self._expire(conn, queue, now)
                    plan = self.governor.plan([r.queued for r in _not_behind_an_accept(queue)], now)
                    batch = sorted((r for r in queue if r.id in plan.ids), key=lambda r: plan.ids.index(r.id))
                    claimed = bool(batch) and await self._claim(conn, batch)
                if not batch:
                    return plan.wake
                queue = [r for r in queue if r.id not in plan.ids]
                if claimed:
                    done, back = await self._send(batch)
                    queue.extend(back)
                    if batch[0].raw.accept and done[0]["b_state"] == "failed":  # what it decided goes nowhere
                        done += [
                            _record(r, "failed", attempts=r.attempts, error=NOT_ACCEPTED)
                            for r in _behind(queue, batch[0])
                        ]
                        queue = [r for r in queue if r.raw.event_id != batch[0].raw.event_id]
        finally:
            # What is still pending, for the next pass; forgotten (read again) after anything unexpected.
            self._cache = queue if self._cache is not None and not done else None

    async def _pending_rows(self, conn: AsyncConnection) -> list[_Row]:
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

    async def _load(self, conn: AsyncConnection, *, after: int = 0) -> list[_Row]:
        rows = await conn.execute(
            select(TABLE)
            .where(TABLE.c.state == "pending", TABLE.c.id > after)
            .order_by(TABLE.c.priority, TABLE.c.id)
            .limit(WINDOW)
        )
        return [_row(r) for r in rows]

    async def _expire(self, conn: AsyncConnection, queue: list[_Row], now: datetime) -> list[_Row]:
        """Drop, unsent, what a playbook said is worthless after a time (held by quiet hours or a pause)."""
        late = [r for r in queue if r.raw.expires_at is not None and dialect.aware(r.raw.expires_at) <= now]
        if not late:
            return queue
        await conn.execute(
            update(TABLE)
            .where(TABLE.c.id.in_([r.id for r in late]), TABLE.c.state == "pending")
            .values(state="expired", last_error="expired before it could be sent")
        )
        for r in late:
            log.info("outbox: message %s to %s expired unsent (playbook %s)", r.id, r.target, r.raw.playbook_id)
        return [r for r in queue if r not in late]

    async def _claim(self, conn: AsyncConnection, batch: Sequence[_Row]) -> bool:
        ids = [r.id for r in batch]
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

    def _message(self, batch: Sequence[_Row]) -> Outgoing:
        lead = batch[0].message
        if len(batch) == 1:
            return lead
        text, mentions = merge_welcomes([(r.message.text, r.message.mentions) for r in batch])
        return replace(lead, text=text, mentions=mentions)

    async def _send(self, batch: Sequence[_Row]) -> tuple[list[dict[str, Any]], list[_Row]]:
        """One platform send for the batch; returns the rows' records and the rows to try again this pass."""
        lead = batch[0]
        message = self._message(batch)
        try:
            if message.accept:
                assert message.member is not None
                at = dialect.aware(lead.raw.created_at)
                request = FriendRequest(lead.raw.event_id, at, message.member, message.text)
                await self.connector.accept_friend(request)
                platform_id = None
            else:
                platform_id = await self.connector.send(message)
        except SendRefused as exc:
            self.governor.refused(self.clock.now())
            log.warning("send to %s refused (playbook %s): %s; it waits", lead.target, message.playbook_id, exc)
            error = f"refused: {exc}"
            return [_record(r, "pending", attempts=r.attempts, error=error) for r in batch], list(batch)
        except Exception as exc:
            return self._failed(batch, exc)
        now = self.clock.now()
        if not message.accept:  # accepting a request is no message: it takes no turn and no place in the pace
            self.governor.sent(lead.queued.target, now, lead.queued.who)
        merged = f", {len(batch)} welcomes as one" if len(batch) > 1 else ""
        preview = " ".join(message.text.split())
        preview = preview if len(preview) <= 60 else preview[:59] + "…"
        what = "invitation" if message.invite else "friend acceptance" if message.accept else lead.queued.kind
        log.info(
            "sent %s %s to %s (playbook %s%s): %s", what, lead.id, lead.target, message.playbook_id, merged, preview
        )
        return [
            _record(
                r,
                "sent",
                attempts=r.attempts + 1,
                platform_id=platform_id,
                sent_at=now,
                merged_into=None if r is lead else lead.id,
            )
            for r in batch
        ], []

    def _failed(self, batch: Sequence[_Row], exc: Exception) -> tuple[list[dict[str, Any]], list[_Row]]:
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
                records.append(_record(r, "failed", attempts=r.attempts + 1, error=error))
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
            records.append(_record(r, "pending", attempts=r.attempts + 1, not_before=retry, error=error))
            back.append(_Row(r.id, replace(r.queued, not_before=retry), r.attempts + 1, r.raw))
        return records, back
