"""The full path with the web console in use: the same bot and traffic as bench/fullpath.py, with the console
served on the bot's event loop (as `qunguan run` with `web.listen` does) and a logged-in client in another
process asking it for 20 pages and API reads a second over loopback. The bot must keep 0.9x its rate.

The client reads /api/openapi.json and asks, in turn, for the home page, /api/me and every GET operation
listed (analytics, traces, members ...), so the figure covers the console as it grows. Its statuses and
latencies go into the row's detail; a client that could not keep 20 requests/s, or got a 5xx, makes the
run fail instead of flattering the figure.

Run as a module, it is that client: `python -m bench.console_load BASE LOGIN_PATH RATE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from bench import fullpath, proc
from bench.report import Row, Target
from bench.sizes import Sizes
from bot.config import Config, StaffSection, WebSection
from bot.console import auth
from bot.console.guard import Console
from bot.console.server import serving
from bot.playbook.library import PlaybookSet

RATE = 20.0  # console requests per second
STAFF = "bench-admin"
CONFIG = Config(staff=StaffSection(admin=[STAFF]), web=WebSection(public_url="http://console.bench"))
READY_WAIT = 60.0  # seconds the client gets to log in and read the document


async def throughput(
    playbooks: PlaybookSet,
    template: Path,
    seed: int,
    *,
    events: int,
    fair: bool = True,
) -> tuple[float, dict[str, Any]]:
    """Events per second through the full path while the client loads the console, and what was checked."""
    async with fullpath.session(playbooks, template, seed) as s:
        console = Console(s.bot.store, CONFIG, s.bot.clock)
        async with serving(console, "127.0.0.1:0") as address:
            async with s.bot.store.unit() as conn:
                link = await auth.issue_link(conn, CONFIG, STAFF, s.bot.clock.now())
            assert link is not None
            path = link.removeprefix(CONFIG.web.public_url)
            client = subprocess.Popen(
                [sys.executable, "-m", "bench.console_load", f"http://{address}", path, str(RATE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=proc.ROOT,
                env=proc.env(),
            )
            try:
                ready = await asyncio.wait_for(asyncio.to_thread(_line, client), READY_WAIT)
                if ready.strip() != "ready":
                    raise RuntimeError(f"console client did not start: {ready.strip() or _tail(client)}")
                done, elapsed = await fullpath.drive(s, events, fair=True)
                out, err = await asyncio.to_thread(client.communicate, "stop\n", READY_WAIT)
            finally:
                if client.poll() is None:
                    client.kill()
                    client.wait()
        counts = await fullpath.verify(s)
    problem = fullpath.check_counts(counts, mixed=False)
    if problem:
        raise RuntimeError(problem)
    lines = out.strip().splitlines()
    if client.returncode != 0 or not lines:
        raise RuntimeError(f"console client failed: {(err.strip().splitlines() or ['no output'])[-1]}")
    served = json.loads(lines[-1])
    if served["server_errors"] or served["requests"] < 0.9 * RATE * served["seconds"] - 1:
        bot = f"the bot did {done / elapsed:,.0f} msgs/s meanwhile"
        raise RuntimeError(f"the console was not loaded as meant ({bot}): {served}")
    return done / elapsed, {**counts, "seconds": round(elapsed, 3), "console": served}


def _line(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    return child.stdout.readline()


def _tail(child: subprocess.Popen[str]) -> str:
    child.kill()
    _out, err = child.communicate()
    return (err.strip().splitlines() or ["no output"])[-1]


class Collecting(Protocol):
    """What the group needs of bench/runner.py's Collector."""

    sizes: Sizes
    runs: int
    seed: int

    def row(self, key: str, label: str, unit: str) -> Row: ...
    def say(self, text: str) -> None: ...
    def attempt(self, row: Row, what: Callable[[], float]) -> None: ...


def group(c: Collecting, folder: Path) -> None:
    """The bench group `console`: the full path without and with the console loaded, taking turns each run, so
    a machine that slows down slows both sides of the ratio."""
    s = c.sizes
    main = s.playbook_counts[1]
    template = asyncio.run(fullpath.make_template(folder, s.path_members, c.seed))
    playbooks = fullpath.load_playbooks(main)
    plain = c.row("console_off", f"full path, {main} playbooks, console not served (baseline of the next)", "msgs/s")
    loaded = c.row("console_20rps", f"full path with the console serving {RATE:g} requests/s", "msgs/s")
    for run in range(c.runs):
        for row, measure in ((plain, fullpath.throughput), (loaded, throughput)):
            c.say(f"console: {row.label}, run {run + 1}/{c.runs}")

            def one(row: Row = row, measure: Any = measure, run: int = run) -> float:
                rate, checked = asyncio.run(
                    measure(
                        playbooks,
                        template,
                        c.seed + run,
                        events=s.path_events,
                        fair=True,
                    )
                )
                row.detail.setdefault("runs", []).append(checked)
                return float(rate)

            c.attempt(row, one)
    loaded.baseline, loaded.target = plain.label, Target(">=", 0.9, "ratio")
    loaded.baseline_value = plain.median
    if plain.median is None:
        loaded.note = f"baseline: {plain.error or 'no samples'}"


# -- the client (a child process, so its work does not share the bot's interpreter)


async def targets(client: httpx.AsyncClient) -> list[str]:
    """The home page, /api/me, and every GET operation of the document, path parameters filled in."""
    paths = (await client.get("/api/openapi.json")).raise_for_status().json()["paths"]
    found = ["/", "/api/me"]
    for path, item in paths.items():
        if "get" in item and path not in (*found, "/api/openapi.json"):
            found.append(re.sub(r"\{\w+\}", "1", path))
    return found


async def client_main(base: str, login_path: str, rate: float) -> None:
    """Log in, print `ready`, then GET the targets in turn, one due every 1/`rate` s whether or not the last
    has been answered (a page asks for several at once), until a line comes on stdin; print what was served as
    one JSON line. Latency counts from when a request was due."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(target=lambda: (sys.stdin.readline(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=20)) as client:
        if (await client.post(login_path)).status_code != 303:
            raise SystemExit("login refused")
        paths = await targets(client)
        for path in paths:  # once before the clock starts: templates compiled, connections open
            await client.get(path)
        print("ready", flush=True)

        async def one(path: str, due: float) -> None:
            statuses[(await client.get(path)).status_code] += 1
            latencies.append((time.perf_counter() - due) * 1000)

        tasks = []
        start = time.perf_counter()
        while not stop.is_set():
            due = start + len(tasks) / rate
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.perf_counter()))
            if stop.is_set():
                break
            tasks.append(asyncio.ensure_future(one(paths[len(tasks) % len(paths)], due)))
        elapsed = time.perf_counter() - start
        await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    print(
        json.dumps(
            {
                "requests": len(tasks),
                "seconds": round(elapsed, 3),
                "rate": round(len(tasks) / elapsed, 2) if elapsed else 0.0,
                "paths": paths,
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
                "server_errors": sum(v for k, v in statuses.items() if k >= 500),
                "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
                "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1) if ordered else None,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(client_main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
