"""The dead-letter file: events the bot could not store, kept as JSON lines beside the database.

One line per event: `{"at": when it was given up, "reason": why, "event": the whole event}`. Lines are
appended (O_APPEND, one write per batch, so a second writer never tears a line) and synced to disk; the file
is 0600, since it holds member data. `qunguan replay` (bot/replay.py) brings the events in: each keeps its
id, so one that is already stored acts once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from bot.config import Config
from bot.events import Event
from bot.store.database import database_file, database_url

log = logging.getLogger("qunguan.intake")

SUFFIX = ".dead-letters.jsonl"
_KINDS: dict[str, type] = {cls.kind: cls for cls in get_args(Event)}


def beside(database: str, config: Config) -> Path | None:
    """Where a database's dead letters go: `data/qunguan.db` -> `data/qunguan.dead-letters.jsonl`; a server
    database's into the data folder beside config.yaml; an in-memory database has none (the log gets them)."""
    url = database_url(database)
    file = database_file(url)
    if file is not None:
        return file.with_name(file.stem + SUFFIX)
    return None if url.startswith("sqlite") else config.path("data") / f"qunguan{SUFFIX}"


def encode(event: Event) -> dict[str, Any]:
    """The whole event as JSON values; `decode` gives it back."""
    return {"kind": event.kind, **_plain(event)}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def decode(data: Mapping[str, Any]) -> Event:
    """An event from `encode`'s JSON; ValueError when it is not one."""
    kind = data.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    try:
        return _typed(_KINDS[kind], data)  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"a {kind} event that cannot be read ({exc})") from None


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if get_origin(hint) in (Union, UnionType):
        return _typed(next(a for a in get_args(hint) if a is not type(None)), value)
    if get_origin(hint) is tuple:
        return tuple(_typed(get_args(hint)[0], v) for v in value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if is_dataclass(hint):
        hints = get_type_hints(hint)
        return hint(**{f.name: _typed(hints[f.name], value[f.name]) for f in fields(hint) if f.name in value})
    return value


def append(path: Path, lines: Sequence[str]) -> None:
    """Add whole lines at the end of the file (created 0600), synced to disk."""
    data = memoryview("".join(f"{line}\n" for line in lines).encode("utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class DeadLetters:
    """Where events go that the bot could not store: the file, or, when even that fails, the log.

    `trusted_rooms`: the bot counted config.yaml's groups as bound (simulator, tests); its letters say so, so
    that a replay manages their groups as the bot did."""

    def __init__(self, path: Path | None, *, trusted_rooms: bool = False) -> None:
        self.path = path
        self.trusted_rooms = trusted_rooms

    def add(self, events: Sequence[Event], reason: str, at: datetime) -> bool:
        """Append the events; True when they are in the file. When it cannot be written (or there is none),
        each event goes whole into an ERROR log line instead, so that it can still be put back by hand."""
        trust = {"trusted_rooms": True} if self.trusted_rooms else {}
        lines = [
            json.dumps({"at": at.isoformat(), "reason": reason, "event": encode(e), **trust}, ensure_ascii=False)
            for e in events
        ]
        if self.path is None:
            problem = "the database is in memory, so there is no dead-letter file"
        else:
            try:
                append(self.path, lines)
                return True
            except OSError as exc:
                problem = f"the dead-letter file {self.path} cannot be written ({exc.strerror or exc})"
        for line in lines:
            log.error("event not stored and %s; here it is whole: %s", problem, line)
        return False


@dataclass(frozen=True)
class Letter:
    """One line of a dead-letter file: the event, or why the line is not one."""

    line: int
    text: str
    event: Event | None
    problem: str = ""
    trusted_rooms: bool = False


def read(path: Path) -> list[Letter]:
    letters = []
    for number, text in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            letters.append(Letter(number, text, decode(data["event"]), trusted_rooms=data.get("trusted_rooms") is True))
        except (ValueError, KeyError, TypeError) as exc:
            detail = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc).strip("'") or "no event"
            letters.append(Letter(number, text, None, f"not a dead letter ({detail})"))
    return letters
