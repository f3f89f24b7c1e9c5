"""The full path: member messages into the real Bot, handed over as a connector does (`fut = await bot.offer(ev)`),
until each reply is a committed outbox row (SQLite file in WAL).

The bot runs as in production except at its edges: a memory connector, and a delivery worker held back, so
replies stay pending and the figure ends where the issue puts it, at the outbox. `worker=True` lets the
worker run as it does in production (paced: it wakes per event but may send about one message a second).
As in production, too: traces are written, and the log goes through `bot.logs` at INFO to a file, one line per
event, as `qunguan run --log-file` sets it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import dataclasses
import io
import itertools
import pstats
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bench.workload import CHECKIN_TEXT, Traffic, create_database, fill_members, playbook_texts
from bot import heap, logs
from bot.app import Bot
from bot.clock import SystemClock
from bot.config import Config
from bot.connectors.memory import MemoryConnector
from bot.events import MessageEvent
from bot.playbook.library import PlaybookSet, load_texts
from bot.store.tables import OutboxMessage
from handlers.checkin import Checkin
from handlers.points import PointsEntry


def load_playbooks(total: int) -> PlaybookSet:
    loaded = load_texts(playbook_texts(total))
    if loaded.problems:
        raise RuntimeError("generated playbooks do not load: " + "; ".join(map(str, loaded.problems)))
    return loaded


async def make_template(folder: Path, members: int, seed: int) -> Path:
    """A database with the shop's members, copied for each session: filling it once saves seconds a run."""
    path = folder / f"members-{members}.db"
    if not path.exists():
        await create_database(path)
        await asyncio.to_thread(fill_members, path, members, now=SystemClock().now(), seed=seed)
    return path


@dataclass
class Session:
    """A bot on its own copy of the template database, the traffic it will get, and the log file it writes."""

    bot: Bot
    traffic: Iterator[MessageEvent]
    log_file: Path | None = None
    sent: list[MessageEvent] = field(default_factory=list)
    unhandled: int = 0  # events whose future said other than handled (held, refused): none may be


@contextlib.contextmanager
def logging_to(folder: Path, config: Config, name: str = "qunguan.log") -> Iterator[Path]:
    """The log as `qunguan run --log-file` writes it: every record at INFO and above through bot.logs' handler
    and formatter (the shop's timezone, escaped member text) to a file; the terminal gets warnings only."""
    path = folder / name
    logs.setup(config, interactive=False, log_file=path)
    try:
        yield path
    finally:
        logs.close()


@contextlib.asynccontextmanager
async def session(
    playbooks: PlaybookSet,
    template: Path,
    seed: int,
    *,
    worker: bool = False,
    mixed: bool = False,
    config: Config | None = None,
) -> AsyncIterator[Session]:
    clock = SystemClock()
    config = config or Config()
    with tempfile.TemporaryDirectory(prefix="qunguan-bench-") as tmp, logging_to(Path(tmp), config) as log_file:
        path = Path(tmp) / "bot.db"
        await asyncio.to_thread(shutil.copyfile, template, path)
        bot = await Bot.create(
            config,
            clock=clock,
            connector=MemoryConnector(),
            playbooks=playbooks,
            database=str(path),
            governor=True,
            trust_rooms=True,  # the bench's groups are its own: none needs a /绑定
        )
        heap.settle()  # as `qunguan run` does once the bot is up
        if not worker:
            # The delivery worker starts on the first released row; held here, rows stay pending in the outbox.
            bot.outbox.start = lambda: None  # type: ignore[method-assign]
        traffic = Traffic(run="ev", clock_now=clock.now, seed=seed, playbooks=len(playbooks.playbooks), mixed=mixed)
        try:
            yield Session(bot, iter(traffic), log_file)
        finally:
            await bot.crash()  # no shutdown grace: thousands of pending replies would be paced out for seconds


async def drive(s: Session, events: int, *, fair: bool = False) -> tuple[int, float]:
    """Hand `events` events over as a connector does after group commit: `fut = await bot.offer(ev)`, never
    awaiting a commit, so how many are in flight is bounded only by the intake's back-pressure; the figure ends
    when every future is done (committed). `fair`: the loop runs its other tasks (a console's requests) after
    each hand-over, as a connector's socket read lets it."""
    offer = s.bot.offer
    futures = []
    start = time.perf_counter()
    for ev in itertools.islice(s.traffic, events):
        s.sent.append(ev)
        futures.append(await offer(ev))
        if fair:
            await asyncio.sleep(0)
    answers = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    s.unhandled += sum(answer is not True for answer in answers)
    return len(futures), elapsed


def log_lines(s: Session) -> int:
    if s.log_file is None or not s.log_file.exists():
        return 0
    with s.log_file.open(encoding="utf-8") as f:
        return sum(1 for _line in f)


async def verify(s: Session) -> dict[str, int]:
    """What the database holds after the run: one reply row per event, one check-in and ledger row per check-in;
    and how many lines the log got."""
    outbox, checkins, ledger = OutboxMessage.__table__, Checkin.__table__, PointsEntry.__table__
    async with s.bot.store.unit() as conn:
        rows = {
            "events": len(s.sent),
            "unhandled": s.unhandled,
            "checkin_events": sum(ev.text == CHECKIN_TEXT for ev in s.sent),
            "outbox_rows": await conn.scalar(select(func.count()).select_from(outbox)) or 0,
            "checkin_rows": await conn.scalar(select(func.count()).select_from(checkins)) or 0,
            "ledger_rows": await conn.scalar(select(func.count()).select_from(ledger)) or 0,
        }
    if s.log_file is not None:
        rows["log_lines"] = log_lines(s)
    return rows


def check_counts(counts: dict[str, int], *, mixed: bool) -> str | None:
    """A wrong count means the figure measured a shorter path than it claims."""
    if counts.get("unhandled"):
        return f"events not handled (held or refused): {counts}"
    if counts["checkin_rows"] != counts["checkin_events"] or counts["ledger_rows"] != counts["checkin_events"]:
        return f"check-ins not all written: {counts}"
    if not mixed and counts["outbox_rows"] != counts["events"]:
        return f"not one reply per event: {counts}"
    if counts.get("log_lines", counts["events"]) < counts["events"]:
        return f"not a log line per event: {counts}"
    return None


async def throughput(
    playbooks: PlaybookSet,
    template: Path,
    seed: int,
    *,
    events: int,
    worker: bool = False,
    mixed: bool = False,
    fair: bool = False,
) -> tuple[float, dict[str, Any]]:
    """Events per second through the full path, and what was checked."""
    async with session(playbooks, template, seed, worker=worker, mixed=mixed) as s:
        done, elapsed = await drive(s, events, fair=fair)
        counts = await verify(s)
    problem = check_counts(counts, mixed=mixed)
    if problem:
        raise RuntimeError(problem)
    return done / elapsed, {**counts, "seconds": round(elapsed, 3)}


async def latency(
    playbooks: PlaybookSet, template: Path, seed: int, *, rate: float, seconds: float
) -> tuple[list[float], dict[str, Any]]:
    """Event-to-outbox latencies (ms) with events offered at a fixed rate, open loop.

    Each event's latency counts from the moment it was due, not from when it was handed over, until its
    future is done (its commit), so a bot that falls behind is charged for the queue it builds, back-pressure
    included (no coordinated omission).
    """
    async with session(playbooks, template, seed) as s:
        count = max(int(rate * seconds), 1)
        run = await open_loop(s.bot, list(itertools.islice(s.traffic, count)), rate, s.sent)
        s.unhandled += sum(answer is not True for answer in run.answers)
        counts = await verify(s)
    problem = check_counts(counts, mixed=False)
    if problem:
        raise RuntimeError(problem)
    return run.latencies, {**counts, "offered_seconds": round(run.offered, 3), "drained_seconds": round(run.drained, 3)}


@dataclass
class OpenLoop:
    """What an open-loop run saw: each event's latency (ms, in offer order), each future's answer, and the
    seconds until the last hand-over and until the last future was done."""

    latencies: list[float]
    answers: list[bool | None]
    offered: float
    drained: float


async def open_loop(bot: Bot, events: list[MessageEvent], rate: float, sent: list[MessageEvent]) -> OpenLoop:
    """Offer event i at start + i / rate (open loop: whether or not the bot kept up), each stamped when it
    arrives; its latency runs from when it was due until its future is done (its commit)."""
    latencies = [0.0] * len(events)
    futures = []
    start = time.perf_counter()

    def done(i: int, due: float) -> None:
        latencies[i] = (time.perf_counter() - due) * 1000

    for i, ev in enumerate(events):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        ev = dataclasses.replace(ev, at=bot.clock.now())
        sent.append(ev)
        future = await bot.offer(ev)
        future.add_done_callback(lambda _f, i=i, due=due: done(i, due))
        futures.append(future)
    offered = time.perf_counter() - start
    answers = await asyncio.gather(*futures)
    return OpenLoop(latencies, list(answers), offered, time.perf_counter() - start)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# -- diagnosis: what one event costs in statements and transactions, and where the time goes


@contextlib.contextmanager
def traced(engine: Any, on_statement: Callable[[str], None]) -> Iterator[None]:
    """Every statement SQLite runs on the store's connections while inside, as sqlite3's trace callback gives it
    (the driver's own statements included, which SQLAlchemy's events would miss)."""
    connections: list[Any] = []

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(on_statement)
        connections.append(dbapi_connection)

    sync_engine = getattr(engine, "sync_engine", engine)  # SQLite runs inline on a sync engine
    event.listen(sync_engine, "checkout", on_checkout)
    try:
        yield
    finally:
        event.remove(sync_engine, "checkout", on_checkout)
        for dbapi_connection in connections:
            dbapi_connection.set_trace_callback(None)


async def census(playbooks: PlaybookSet, template: Path, seed: int, events: int) -> dict[str, Any]:
    """Statements (by kind) and transactions per event, counted at the database driver (sqlite3's trace callback):
    the hot statements go to the driver without SQLAlchemy, so SQLAlchemy's events would miss them."""
    kinds: Counter[str] = Counter()

    def on_statement(statement: str) -> None:
        kinds[statement.split(None, 1)[0].upper()] += 1

    async with session(playbooks, template, seed) as s:
        with traced(s.bot.store.engine, on_statement):
            await drive(s, events)
    commits = kinds["COMMIT"]
    per = {kind: round(n / events, 2) for kind, n in kinds.most_common()}
    return {
        "events": events,
        "statements_per_event": round(sum(kinds.values()) / events, 2),
        "transactions_per_event": round(commits / events, 2),
        "statements_by_kind": per,
    }


async def profile(playbooks: PlaybookSet, template: Path, seed: int, *, events: int, top: int = 25) -> dict[str, Any]:
    """cProfile of the full path: the functions that take the time, by cumulative and by own time."""
    async with session(playbooks, template, seed) as s:
        profiler = cProfile.Profile()
        profiler.enable()
        done, elapsed = await drive(s, events)
        profiler.disable()
    report: dict[str, Any] = {"events": done, "seconds": round(elapsed, 3)}
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(top)
        report[order] = out.getvalue()
    report["wait_share"] = _wait_share(profiler, elapsed)
    return report


def _wait_share(profiler: cProfile.Profile, elapsed: float) -> float:
    """Share of the wall time the event loop sat in epoll waiting for aiosqlite's thread."""
    waited = sum(
        row[2]  # tottime
        for (_file, _line, name), row in pstats.Stats(profiler).stats.items()  # type: ignore[attr-defined]
        if name == "<method 'poll' of 'select.epoll' objects>"
    )
    return round(waited / elapsed, 3) if elapsed else 0.0
