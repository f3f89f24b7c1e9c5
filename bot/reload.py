"""Loading the playbooks folder into a running bot: at start-up and at every reload, by one rule, per file.

A file with errors keeps its last good version running if it has one, else it is left out; the good files
load (bot/playbook/fallback.py has the rule, with what it does when files use each other's coupon batches and
question banks). A file that loads as written, changed, is kept as its newest version in `playbook_versions`
(bot/store/versions.py), so a restart after a bad edit runs what ran before it, as a reload would.

A reload reads first (`read`: the folder and the last good versions, changing nothing), then records the new
versions (`record`, in a transaction of the caller's: /重载's is its event's) and swaps the set in (`apply`, for
/重载 once its event's transaction committed: a redelivered /重载 is a duplicate before anything changed).

Ways in besides start-up: a staff member's /重载; `qunguan reload`, which leaves a request row that every
running bot on the same database picks up within a second (with the /启用 /停用 switches stored meanwhile);
a save in the web console (bot/console/playbook_files.py: the bot of the same process directly, `running_on`,
else a request row); and, when config says `reload: {watch: true}`, saving a file in the folder. Only a
folder that is not there changes nothing. What is told here is English, like the logs: /重载 and
`qunguan reload` show it in the configured language.

In a fleet the database's versions are the truth: each reload also stores the set that runs (`versions.share`),
every other process swaps it in from the database on its heartbeat (`follow`), a process starts on it, and
`qunguan reload` stores its own folder's set and asks each account's process to answer (docs/fleet-shared-state.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, Row, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import translate_line
from bot.playbook.errors import Problem
from bot.playbook.fallback import Fallback, Source, Version, digest
from bot.playbook.library import (
    PlaybookSet,
    display_path,
    load_sources,
    missing_folder,
    playbook_files,
    read_folder,
)
from bot.store import dialect, versions
from bot.store.switches import load_switches
from bot.store.tables import ReloadRequest
from bot.textnorm import printable

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Config
    from bot.store import Store

log = logging.getLogger("qunguan.reload")
_requests = ReloadRequest.__table__
# The bot of this process on a store, found by the web console served beside it (`qunguan run`): a console alone
# (`qunguan console`) finds none and leaves a request row instead, as `qunguan reload` does.
_running: weakref.WeakKeyDictionary[Store, weakref.ref[Reloader]] = weakref.WeakKeyDictionary()

Signature = tuple[tuple[str, int, int], ...]
START_UP = "start-up"  # who loaded a version: this, a staff member's WeChat id (/重载), or one of these two
CLI = "qunguan reload"
WATCH = "watch"
FLEET = "another process of the fleet"  # why a set stored by another process was swapped in
TAKEN = "…"  # a request of no account that one process of a fleet answers (by re-reading its folder)


@dataclass(frozen=True)
class Outcome:
    playbooks: PlaybookSet  # running now; when not `swapped`, what was read (the running set stayed)
    swapped: bool
    verb: str  # "loaded" at start-up, else "reloaded"
    tz: tzinfo  # the shop's: versions are told by the local time they loaded at

    @property
    def count(self) -> int:
        return len(self.playbooks.playbooks)

    @property
    def problems(self) -> list[Problem]:
        return self.playbooks.problems

    @property
    def warnings(self) -> list[Problem]:
        return self.playbooks.warnings

    @property
    def clean(self) -> bool:
        """Every file runs as written."""
        return self.swapped and not self.problems and not self.playbooks.fallbacks

    def summary(self) -> str:
        """One line for logs and `qunguan reload` (English, like every log line)."""
        if not self.swapped:
            return f"not reloaded, {len(self.problems)} problem(s); the previous playbooks keep running"
        parts = [f"{self.count} playbook(s) running"]
        if self.playbooks.fallbacks:
            parts.append(f"{len(self.playbooks.fallbacks)} file(s) with errors")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s)")
        return f"{self.verb}: {', '.join(parts)}"

    def file_lines(self) -> list[str]:
        """Each file that does not run as written: what runs instead, and what another file overrides in it."""
        return [line for fallback in self.playbooks.fallbacks.values() for line in fallback_lines(fallback, self.tz)]

    def lines(self) -> list[str]:
        """The summary, the files that fell back, then every problem and warning in file order."""
        return [self.summary(), *self.file_lines(), *map(str, sorted([*self.problems, *self.warnings]))]


def fallback_lines(fallback: Fallback, tz: tzinfo) -> list[str]:
    """What runs of a file with errors, and what another file overrides in it (English, like the logs)."""
    path, version = fallback.path, fallback.version
    when = f"{dialect.aware(version.at).astimezone(tz):%Y-%m-%d %H:%M}" if version is not None else ""
    if fallback.running:
        head = f"{path}: has errors; its last good version of {when} runs instead"
    elif version is None:
        head = f"{path}: has errors and no last good version: left out"
    else:
        head = f"{path}: has errors, and its last good version of {when} cannot run either ({fallback.why}): left out"
    return [head, *(f"{path}: {note}" for note in fallback.notes)]


def answered_clean(answer: str) -> bool:
    """A running bot's answer to `qunguan reload` says every file runs as written."""
    first = answer.partition("\n")[0]
    return first.startswith("reloaded: ") and "with errors" not in first


class Running(Protocol):
    """The bot a Reloader loads playbooks into (the Engine)."""

    store: Store
    config: Config
    clock: Clock
    reloader: Reloader | None
    switches: dict[str, bool]

    def swap(self, playbooks: PlaybookSet) -> None: ...


@dataclass(frozen=True)
class Reading:
    """The folder as read and checked, with the last good versions of its files; nothing changed yet."""

    outcome: Outcome  # what applying it does (`swapped`: it will be swapped in)
    changed: dict[str, tuple[str, str]]  # file -> (text, hash): new versions that load as written
    signature: Signature  # the folder as it was read
    by: str  # who it is recorded as loaded by
    running: dict[str, str] = field(default_factory=dict)  # file -> hash of the version that runs (a fleet shares it)


def tell_start_up(engine: Running) -> None:
    """For an operator at the terminal: the start-up's problems in their language (the log has them in English)."""
    outcome = engine.reloader.last if engine.reloader is not None else None
    if outcome is None or outcome.clean:
        return
    for line in [*outcome.lines()[:1], *outcome.file_lines(), *map(str, outcome.problems)]:
        print(printable(translate_line(line, engine.config.language)), file=sys.stderr)


def running_on(store: Store) -> Reloader | None:
    """The reloader of the bot this process runs on `store`, if one does (its playbooks come from a folder)."""
    found = _running.get(store)
    return found() if found is not None else None


async def request_reload(conn: AsyncConnection, at: datetime, accounts: Sequence[str] = ()) -> list[int]:
    """Leave a request row: every running bot on this database re-reads its playbooks (and switches) within a
    second and writes its answer into the row. In a fleet, one row per account, each answered by that account's
    process once it runs the set of versions the caller stored (`share_folder`). Returns the rows' ids."""
    ids = []
    for account in accounts or [None]:
        row = await conn.execute(insert(_requests).values(at=at, account=account))
        ids.append(int(row.inserted_primary_key[0]))
    return ids


async def share_folder(store: Store, config: Config, folder: Path, at: datetime) -> Outcome:
    """`qunguan reload` in a fleet: read this folder and store its versions as the set every process runs."""
    reading = await read(store, config, folder, CLI)
    if reading.outcome.swapped:
        async with store.unit() as conn:
            await versions.record(conn, reading.changed, at=at, by=CLI)
            await versions.share(conn, reading.running)
    return reading.outcome


async def read(store: Store, config: Config, folder: Path, by: str) -> Reading:
    """Read and check `folder`, with each file's last good version from `store`; nothing changes."""
    verb = "loaded" if by == START_UP else "reloaded"
    seen = signature(folder)
    sources = await asyncio.to_thread(read_folder, folder)  # off the loop: a big folder must not stall it
    if sources is None:  # moved or unmounted, most likely: what runs keeps running
        return Reading(Outcome(missing_folder(folder), False, verb, config.tz), {}, seen, by)
    async with store.unit() as conn:
        last_good = await versions.newest(conn, [s.key for s in sources])
    sources = [_with_last_good(s, last_good.get(s.key)) for s in sources]
    loaded = await asyncio.to_thread(load_sources, sources, config)
    changed = {}  # ran as written, with a text its last good version does not have
    running = {}
    for s in sources:
        fallback = loaded.fallbacks.get(s.path)
        if s.text is not None and fallback is None:
            running[s.key] = text_hash = digest(s.text)
            if s.last_good is None or s.last_good.hash != text_hash:
                changed[s.key] = (s.text, text_hash)
        elif fallback is not None and fallback.running and s.last_good is not None:
            running[s.key] = s.last_good.hash
    return Reading(Outcome(loaded, True, verb, config.tz), changed, seen, by, running)


def signature(folder: Path) -> Signature:
    """What a change to the folder changes: each playbook file's path, mtime and size."""
    out = []
    for path in playbook_files(folder) if folder.is_dir() else []:
        try:
            st = path.stat()
        except OSError:  # deleted while we looked
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


class Reloader:
    def __init__(self, engine: Running, folder: Path) -> None:
        self.engine = engine
        self.folder = folder
        self._signature: Signature = ()  # the folder as `open` reads it
        self._handled = 0  # reload requests up to this id were answered by us or made before we started
        self._shared: str | None = None  # in a fleet: the set of versions (bot/store/versions.py) running here
        self._lock = asyncio.Lock()
        self.last: Outcome | None = None

    @property
    def fleet(self) -> bool:
        return bool(self.engine.config.accounts)

    async def open(self) -> None:
        """Load the folder, as any reload would; in a fleet whose database has a set of versions, that set (the
        folder is an input to /重载 and `qunguan reload` only). Requests made before this start are not for it."""
        async with self.engine.store.unit() as conn:
            self._handled = (await conn.execute(select(func.max(_requests.c.id)))).scalar() or 0
            stored = await versions.shared(conn) if self.fleet else None
        if stored is not None:
            self._signature = signature(self.folder)  # a watched folder's later edits are the input, not this
            await self._swap_shared(stored, START_UP)
        else:
            await self.reload("start-up", by=START_UP)
        _running[self.engine.store] = weakref.ref(self)

    async def reload(self, why: str, *, by: str) -> Outcome:
        """Read the folder and swap the set in; `by` is who it is recorded as loaded by (a staff member's id, ...)."""
        async with self._lock:
            reading = await self.read(by)
            if reading.changed or (self.fleet and reading.outcome.swapped):
                async with self.engine.store.unit() as conn:
                    await self.record(conn, reading)
            return self.apply(reading, why)

    async def read(self, by: str) -> Reading:
        """Read and check the folder, with each file's last good version; nothing changes (a /重载's prepare)."""
        return await read(self.engine.store, self.engine.config, self.folder, by)

    async def record(self, conn: AsyncConnection, reading: Reading) -> None:
        """Keep the files that load as written, changed, as their newest versions (in the caller's transaction); in
        a fleet, say that this set runs, so every other process swaps it in on its next heartbeat."""
        if reading.changed:
            await versions.record(conn, reading.changed, at=self.engine.clock.now(), by=reading.by)
        if self.fleet and reading.outcome.swapped:
            self._shared = await versions.share(conn, reading.running)

    def apply(self, reading: Reading, why: str) -> Outcome:
        """Swap in what `read` found (unless the folder was not there) and say so in the log."""
        outcome = reading.outcome
        self._signature = reading.signature
        if outcome.swapped:
            self.engine.swap(outcome.playbooks)
        self.last = outcome
        lines = outcome.lines()
        log.log(logging.INFO if outcome.clean else logging.WARNING, "%s (%s)", lines[0], why)
        for line in lines[1:]:
            log.warning("%s", line)
        if outcome.swapped and not outcome.count:
            log.warning("no playbooks in %s: the bot answers staff commands only", self.folder)
        return outcome

    async def poll(self) -> None:
        """Once a second: answer a `qunguan reload`; with `reload.watch`, follow edited files. Never raises."""
        try:
            await self._poll()
        except Exception:
            log.exception("checking for a playbook reload failed")

    async def _poll(self) -> None:
        account = self.engine.config.account
        for_me = or_(_requests.c.account.is_(None), _requests.c.account == account)
        async with self.engine.store.unit() as conn:
            newest = (await conn.execute(select(func.max(_requests.c.id)).where(for_me))).scalar() or 0
        if newest > self._handled:
            async with self.engine.store.unit() as conn:  # a console alone switched a playbook on or off, maybe
                self.engine.switches.update(await load_switches(conn))
            outcome, answering = await self._answer(newest)
            result = "\n".join(outcome.lines())
            rows = (_requests.c.id <= newest, _requests.c.id > self._handled, answering)
            async with self.engine.store.unit() as conn:
                answer = {"answered_at": self.engine.clock.now(), "result": result}
                await conn.execute(update(_requests).where(*rows).values(answer))
            self._handled = newest
        elif self.engine.config.reload.watch and signature(self.folder) != self._signature:
            await self.reload("a playbook file changed", by=WATCH)

    async def _answer(self, newest: int) -> tuple[Outcome, ColumnElement[bool]]:
        """A request's reload, and which rows its answer goes into. Alone: this folder, into every open row. In a
        fleet: the set `qunguan reload` stored, into this account's rows; a row of no account (a console's alone)
        is taken by the first process to see it, which re-reads its folder; the others follow it on a beat."""
        unanswered = _requests.c.answered_at.is_(None)
        if not self.fleet:
            return await self.reload("qunguan reload", by=CLI), unanswered
        await self.follow()
        shared = (_requests.c.account.is_(None), _requests.c.id > self._handled, _requests.c.id <= newest)
        async with self.engine.store.unit() as conn:
            free = unanswered, _requests.c.result == ""
            taken = await conn.execute(update(_requests).where(*shared, *free).values(result=TAKEN))
        if taken.rowcount:
            outcome = await self.reload("a request of the console", by=CLI)
            return outcome, and_(_requests.c.account.is_(None), _requests.c.result == TAKEN)
        assert self.last is not None
        return replace(self.last, verb="reloaded"), and_(_requests.c.account == self.engine.config.account, unanswered)

    async def follow(self) -> None:
        """In a fleet, on each heartbeat: swap in the set of versions another process stored, from the database."""
        async with self.engine.store.unit() as conn:
            stored = await versions.shared(conn)
        if stored is not None and stored != self._shared:
            await self._swap_shared(stored, FLEET)

    async def _swap_shared(self, stored: str, why: str) -> None:
        async with self._lock:
            running: dict[str, str] = json.loads(stored)
            async with self.engine.store.unit() as conn:
                found = await versions.texts(conn, running)
            for key in sorted(running.keys() - found.keys()):
                log.warning("%s: the version the fleet runs is no longer in the database: left out", key)
            sources = [Source(key, display_path(self.folder / key), found[key]) for key in sorted(found)]
            loaded = await asyncio.to_thread(load_sources, sources, self.engine.config)
            verb = "loaded" if why == START_UP else "reloaded"
            outcome = Outcome(loaded, True, verb, self.engine.config.tz)
            self.apply(Reading(outcome, {}, self._signature, FLEET), f"{why}: the fleet's versions")
            self._shared = stored


def _with_last_good(source: Source, row: Row[Any] | None) -> Source:
    if row is None:
        return source
    return replace(source, last_good=Version(row.text, row.hash, dialect.aware(row.at)))
