"""The full path on PostgreSQL: one bot process, and a fleet of three (one account each, on disjoint groups of one
shop, one shared database), fed at once; msgs/s in total.

Each process is a fresh interpreter (`python -m bench.fleet SPEC`) running the real Bot as the SQLite full path
does (bench/fullpath.py: memory connector, delivery worker held, first check-ins with 100 playbooks, events handed
over with `bot.offer`, traces and a log file at INFO): it opens the database, says `ready`, waits for `go` on
stdin, offers its share of `path_events`, and prints when its first event went in and its last one committed, on the
machine's monotonic clock, which all processes share. The figure is every process's events over the span from
the first event in to the last one committed; the database is then checked for one reply, one check-in and one
ledger entry per event. A fleet's processes beat as in production (`Bot.fleet`, every `fleet.heartbeat`).
Beside them, the floor rows run a first check-in's own statements alone on the same database (bench/pg_floor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import fullpath, pg, pg_floor, proc
from bench.workload import ROOMS, Traffic, room
from bot import eventloop

if TYPE_CHECKING:
    from bench.report import Row
    from bench.runner import Collector
    from bot.config import Config

ACCOUNTS = ("shop-a", "shop-b", "shop-c")
TEMPLATE = "members"  # the database every run copies
READY_TIMEOUT = 120.0  # seconds a process may take to open the database and load the playbooks
RUN_TIMEOUT = 600.0


def config(account: str | None) -> Config:
    """The SQLite full path's config for one process; in a fleet, this account's view of a shop of three."""
    from bot.config import Config
    from bot.fleet.accounts import run_as

    if account is None:
        return Config()
    return run_as(Config.model_validate({"accounts": {name: {} for name in ACCOUNTS}}), account)


def mine(traffic: Traffic, index: int, of: int) -> Iterator[Any]:
    """The traffic of process `index` of `of`: its groups only (group k belongs to process k mod `of`); every
    member is in one group, so no two processes see the same member."""
    rooms = {room(k).id for k in range(ROOMS) if k % of == index}
    return (ev for ev in traffic if ev.room.id in rooms)


@contextlib.asynccontextmanager
async def session(spec: dict[str, Any]) -> AsyncIterator[fullpath.Session]:
    from bot import heap
    from bot.app import Bot
    from bot.clock import SystemClock
    from bot.connectors.memory import MemoryConnector

    clock = SystemClock()
    playbooks = fullpath.load_playbooks(spec["playbooks"])
    settings = config(spec["account"])
    log_name = f"qunguan-{spec['index']}.log"  # in the run's temporary folder (run_processes), one per process
    with fullpath.logging_to(Path.cwd(), settings, log_name) as log_file:
        bot = await Bot.create(
            settings,
            clock=clock,
            connector=MemoryConnector(),
            playbooks=playbooks,
            database=spec["url"],
            governor=True,
            trust_rooms=True,  # the bench's groups are its own: none needs a /绑定
        )
        heap.settle()  # as `qunguan run` does once the bot is up
        bot.outbox.start = lambda: None  # type: ignore[method-assign]  # replies stay pending, as in fullpath.py
        traffic = Traffic(run="ev", clock_now=clock.now, seed=spec["seed"], playbooks=len(playbooks.playbooks))
        try:
            if bot.fleet is not None:
                await bot.fleet.beat()
                bot.fleet.start()
            yield fullpath.Session(bot, mine(traffic, spec["index"], spec["of"]), log_file)
        finally:
            await bot.crash()  # as fullpath.py: thousands of pending replies are not paced out


async def child(spec: dict[str, Any]) -> dict[str, Any]:
    async with session(spec) as s:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        done, elapsed = await fullpath.drive(s, spec["events"])
        end = time.perf_counter()  # CLOCK_MONOTONIC on Linux: the same clock in every process
        lines = fullpath.log_lines(s)
    found = {"account": spec["account"], "events": done, "start": end - elapsed, "end": end}
    return found | {"unhandled": s.unhandled, "log_lines": lines}


def _spawn(spec: dict[str, Any], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.fleet", json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,  # a server database's dead letters would go to ./data: a temporary folder, not the checkout
        env=proc.env(),
    )


def _ready(child: subprocess.Popen[str], deadline: float) -> None:
    assert child.stdout is not None
    waited, _w, _x = select.select([child.stdout], [], [], max(deadline - time.perf_counter(), 0))
    line = child.stdout.readline() if waited else ""
    if line.strip() != "ready":
        child.kill()
        _out, err = child.communicate()
        raise RuntimeError(f"a bot process did not start: {(err.strip().splitlines() or [line or 'no output'])[-1]}")


def run_processes(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Start every process, let them all go at once, and collect what each says."""
    with tempfile.TemporaryDirectory(prefix="qunguan-bench-fleet-") as tmp:
        children = [_spawn(spec, Path(tmp)) for spec in specs]
        try:
            deadline = time.perf_counter() + READY_TIMEOUT
            for c in children:
                _ready(c, deadline)
            for c in children:
                assert c.stdin is not None
                c.stdin.write("go\n")
                c.stdin.flush()
            results = []
            for c in children:
                out, err = c.communicate(timeout=RUN_TIMEOUT)
                lines = out.strip().splitlines()
                if c.returncode != 0 or not lines:
                    raise RuntimeError(f"a bot process failed (exit {c.returncode}): {err.strip()[-500:]}")
                results.append(json.loads(lines[-1]))
            return results
        finally:
            for c in children:
                if c.poll() is None:
                    c.kill()
                    c.communicate()


async def counted(url: str, events: int) -> dict[str, Any]:
    """What the shared database holds after a run, in fullpath.verify's terms; which account each reply is to be
    sent from; and whether commits waited for the disk (the database's synchronous_commit, the sessions' too)."""
    from sqlalchemy import func, select, text

    from bot.store import Store
    from bot.store.tables import OutboxMessage
    from handlers.checkin import Checkin
    from handlers.points import PointsEntry

    store = await Store.open(url)
    try:
        async with store.unit() as conn:
            found: dict[str, Any] = {
                name: await conn.scalar(select(func.count()).select_from(table.__table__)) or 0
                for name, table in (
                    ("outbox_rows", OutboxMessage),
                    ("checkin_rows", Checkin),
                    ("ledger_rows", PointsEntry),
                )
            }
            found["synchronous_commit"] = await conn.scalar(text("SHOW synchronous_commit"))
            outbox = OutboxMessage.__table__
            by_account = select(outbox.c.account, func.count()).group_by(outbox.c.account)
            found["outbox_by_account"] = {account: n for account, n in await conn.execute(by_account)}
    finally:
        await store.close()
    return {"events": events, "checkin_events": events, **found}


def throughput(
    server: pg.Server, name: str, accounts: list[str | None], spec: dict[str, Any], *, wait_for_disk: bool = True
) -> tuple[float, dict[str, Any]]:
    """msgs/s in total of len(accounts) processes on a fresh copy of the members' database. Without
    `wait_for_disk` a commit returns before its WAL is flushed (synchronous_commit off)."""
    url = server.create(name, template=TEMPLATE)
    if not wait_for_disk:
        server.admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        share = max(spec["events"] // len(accounts), 1)
        specs = [
            {**spec, "events": share, "url": url, "account": a, "index": i, "of": len(accounts)}
            for i, a in enumerate(accounts)
        ]
        results = run_processes(specs)
        events = sum(r["events"] for r in results)
        span = max(r["end"] for r in results) - min(r["start"] for r in results)
        counts = asyncio.run(counted(url, events))
        counts["unhandled"] = sum(r["unhandled"] for r in results)
        counts["log_lines"] = sum(r["log_lines"] for r in results)
    finally:
        server.drop(name)
    problem = fullpath.check_counts(counts, mixed=False)
    if problem:
        raise RuntimeError(problem)
    per = {str(r["account"] or "default"): r["events"] for r in results}
    return events / span, {**counts, "seconds": round(span, 3), "per_process": per}


def group(c: Collector, folder: Path) -> None:
    s = c.sizes
    main = s.playbook_counts[1]
    what = f"{main} playbooks, first check-ins, durable (fsync on)"
    reference = c.row("pg_row_commit", "PostgreSQL reference: asyncpg, INSERT + COMMIT per row (fsync on)", "rows/s")
    one = c.row("pg_path_1", f"full path on PostgreSQL, 1 process ({what})", "msgs/s")
    three = c.row("pg_path_3", "full path on PostgreSQL, 3 processes (3 accounts, disjoint groups), in total", "msgs/s")
    lazy = c.row("pg_path_1_async", "full path on PostgreSQL, 1 process, synchronous_commit off", "msgs/s")
    alone = c.row(
        "pg_floor", "PostgreSQL floor: a first check-in's statements alone, one by one (4 round trips)", "events/s"
    )
    piped = c.row("pg_floor_pipelined", "PostgreSQL floor: the same, pipelined per batch, no savepoints", "events/s")
    floors = [(alone, False), (piped, True)]
    paths: list[tuple[Row, list[str | None], bool]] = [(one, [None], True), (three, list(ACCOUNTS), True)]
    paths.append((lazy, [None], False))
    c.say("fleet: starting a PostgreSQL server (server defaults: fsync and synchronous_commit on)")
    try:
        server = pg.Server.start()
    except Exception as exc:
        for row in (reference, one, three, lazy, alone, piped):
            row.error = f"no PostgreSQL server: {exc}"
        return
    try:
        c.say(f"fleet: copying {s.path_members:,} members into PostgreSQL")
        try:
            template = asyncio.run(fullpath.make_template(folder, s.path_members, c.seed))
            one.detail["database"] = asyncio.run(pg.copy_sqlite(template, server.create(TEMPLATE)))
            server.analyze(TEMPLATE)
        except Exception as exc:
            for row in (reference, one, three, lazy, alone, piped):
                row.error = f"database not built: {exc}"
            return
        spec = {"playbooks": main, "events": s.path_events}
        for run in range(c.runs):
            c.say(f"fleet: {reference.label}, run {run + 1}/{c.runs}")
            c.attempt(reference, lambda run=run: _reference(server, f"reference_{run}", s.slow_rows))
            for row, accounts, durable in paths:
                c.say(f"fleet: {row.label}, run {run + 1}/{c.runs}")

                def measured(
                    row: Row = row, accounts: list[str | None] = accounts, run: int = run, durable: bool = durable
                ) -> float:
                    name, seeded = f"{row.id}_{run}", {**spec, "seed": c.seed + run}
                    rate, checked = throughput(server, name, accounts, seeded, wait_for_disk=durable)
                    row.detail.setdefault("runs", []).append(checked)
                    return rate

                c.attempt(row, measured)
            for row, pipelined in floors:
                c.say(f"fleet: {row.label}, run {run + 1}/{c.runs}")
                name = f"{row.id}_{run}"
                c.attempt(row, lambda row=row, name=name, piped=pipelined: _floor(server, row, name, spec, piped))
    finally:
        server.stop()


def _floor(server: pg.Server, row: Row, name: str, spec: dict[str, Any], pipelined: bool) -> float:
    url = server.create(name, template=TEMPLATE)
    try:
        rate, counts = asyncio.run(pg_floor.check_ins(url, spec["events"], pipelined=pipelined))
    finally:
        server.drop(name)
    row.detail.setdefault("runs", []).append(counts)
    return rate


def _reference(server: pg.Server, name: str, rows: int) -> float:
    url = server.create(name)
    try:
        return asyncio.run(pg.row_commits(url, rows))
    finally:
        server.drop(name)


if __name__ == "__main__":
    print(json.dumps(eventloop.run(child(json.loads(sys.argv[1])))), flush=True)
