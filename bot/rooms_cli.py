"""`qunguan rooms`: list the groups the bot has seen, bind or unbind one by its id (bot/rooms.py).

It works on the database while the bot runs: a running bot follows a change within a second. Member-made
text (topics, names) is escaped for the terminal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.cli_shared import ConfigOption
from bot.clock import SystemClock
from bot.config import Config
from bot.events import RoomRef
from bot.rooms import CLI, Binding, bind, read_bindings, unbind
from bot.store import Store, StoreError
from bot.store.activity import known_room, known_rooms
from bot.store.tables import AuditEntry, Member
from bot.textnorm import printable

T = TypeVar("T")
HINT = "bind one with `qunguan rooms bind ID`, unbind with `qunguan rooms unbind ID`"


class NoDatabase(Exception):
    """There is no database where config.yaml says: the bot has not run here (or another config is meant)."""


@dataclass(frozen=True)
class Outcome:
    code: int  # the exit code
    message: str


async def _open(config: Config) -> Store:
    path = config.database_path
    if path != ":memory:" and "://" not in path and not Path(path).exists():
        raise NoDatabase(f"no database at {path}: has the bot run with this config.yaml?")
    return await Store.open(path)


async def listing(config: Config) -> list[str]:
    """One line per group seen (id, topic, bound or not, and how its topic relates to config.yaml), then a summary."""
    store = await _open(config)
    try:
        async with store.unit() as conn:
            rooms = await known_rooms(conn)
            bindings = await read_bindings(conn)
            names = await _binders(conn, bindings)
    finally:
        await store.close()
    bound_names = {r.id: _names(config, r, bindings) for r in rooms if config.room_by_id(r.id) or r.id in bindings}
    lines = [_line(config, room, bindings, names, bound_names) for room in rooms]
    taken = {b.entry_topic for b in bindings.values()} | {r.topic for r in rooms}
    for entry in config.rooms:
        if not entry.id and entry.topic not in taken:
            lines.append(f"(config.yaml candidate '{printable(entry.topic or '')}': no group with that topic seen yet)")
    lines.append(f"{len(rooms)} group(s); {HINT}" if rooms else f"no group seen yet; {HINT}")
    return lines


def _names(config: Config, room: RoomRef, bindings: dict[str, Binding]) -> set[str | None]:
    """What a bound group is called: its topic, and the config.yaml entry it is bound by or as."""
    entry = config.room_by_id(room.id)
    binding = bindings.get(room.id)
    return {room.topic, entry.topic if entry else None, binding.entry_topic if binding else None}


def _line(
    config: Config,
    room: RoomRef,
    bindings: dict[str, Binding],
    names: dict[str, str],
    bound_names: dict[str, set[str | None]],
) -> str:
    head = f"{printable(room.id)}  {printable(room.topic) or '-'}"
    entry = config.room_by_id(room.id)
    if entry is not None:
        return f"{head}  bound (config.yaml id){_tags(entry.tags)}"
    binding = bindings.get(room.id)
    if binding is not None:
        who = "qunguan rooms bind" if binding.by == CLI else f"/绑定 by {names.get(binding.by, binding.by)}"
        when = binding.at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
        candidate = config.candidate(binding.entry_topic)
        named = "" if candidate is None else f"; config.yaml: '{printable(candidate.topic or '')}'"
        return f"{head}  bound ({who}, {when}){named}{_tags(candidate.tags if candidate else [])}"
    twins = [i for i, called in bound_names.items() if room.topic and room.topic in called]
    if twins:
        note = f"; look-alike? '{printable(room.topic)}' is the name of bound group {', '.join(map(printable, twins))}"
    elif config.candidate(room.topic) is not None:
        note = f"; topic matches config.yaml candidate '{printable(room.topic)}': bind it if it is that group"
    else:
        note = ""
    return f"{head}  not bound{note}"


def _tags(tags: list[str]) -> str:
    return f" [tags: {', '.join(printable(t) for t in tags)}]" if tags else ""


async def _binders(conn: AsyncConnection, bindings: dict[str, Binding]) -> dict[str, str]:
    members = Member.__table__
    ids = {b.by for b in bindings.values()} - {CLI}
    rows = await conn.execute(select(members.c.id, members.c.name).where(members.c.id.in_(ids)))
    return {r.id: f"{printable(r.name)} ({printable(r.id)})" if r.name else printable(r.id) for r in rows}


async def change(config: Config, room_id: str, *, bound: bool) -> Outcome:
    """Bind or unbind a group the bot has seen; the change is audited as the CLI's."""
    store = await _open(config)
    try:
        async with store.unit() as conn:
            room = await known_room(conn, room_id)
            shown = printable(room_id)
            if room is None:
                return Outcome(1, f"no group {shown} has been seen: `qunguan rooms` lists those the bot has seen")
            shown = f"{shown} ('{printable(room.topic)}')"
            if config.room_by_id(room_id) is not None:
                if bound:
                    return Outcome(0, f"{shown} is bound by its id in config.yaml already")
                return Outcome(1, f"{shown} is bound by its id in config.yaml: remove it from `rooms:` there")
            now = SystemClock().now()
            if bound and await bind(conn, room, config, by=CLI, at=now) is None:
                return Outcome(0, f"{shown} is bound already")
            if not bound and not await unbind(conn, room_id):
                return Outcome(0, f"{shown} is not bound")
            message = f"{'bound' if bound else 'unbound'} {shown}; a running bot follows within a second"
            await conn.execute(
                insert(AuditEntry.__table__).values(
                    at=now,
                    member_id=CLI,
                    member_name="qunguan rooms",
                    role="owner",
                    command="绑定" if bound else "解绑",
                    args=room_id,
                    room_id=room_id,
                    result="ok",
                    answer=message,
                )
            )
            return Outcome(0, message)
    finally:
        await store.close()


RoomIdArgument = Annotated[str, typer.Argument(help="the group's id, as `qunguan rooms` lists it")]


def rooms_commands(load: Callable[[Path | None], Config]) -> typer.Typer:
    """The `rooms` command group; `load` reads config.yaml as every other command does."""
    group = typer.Typer(
        help="List the groups the bot has seen (no command), or bind or unbind one: it manages only bound groups."
    )

    @group.callback(invoke_without_command=True)
    def rooms(ctx: typer.Context, config: ConfigOption = None) -> None:
        """List the groups the bot has seen: id, topic, bound or not, and whether the topic is a config.yaml name."""
        if ctx.invoked_subcommand is None:
            for line in _run(listing(load(config))):
                typer.echo(line)

    @group.command("bind")
    def bind_command(room_id: RoomIdArgument, config: ConfigOption = None) -> None:
        """Bind a group by its id: the bot manages it from now on, whatever it is renamed to."""
        _finish(_run(change(load(config), room_id, bound=True)))

    @group.command("unbind")
    def unbind_command(room_id: RoomIdArgument, config: ConfigOption = None) -> None:
        """Unbind a group: the bot stops managing it (a running bot within a second)."""
        _finish(_run(change(load(config), room_id, bound=False)))

    return group


def _run(work: Coroutine[Any, Any, T]) -> T:
    """A missing or unusable database is one line, never a traceback."""
    try:
        return asyncio.run(work)
    except NoDatabase as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except StoreError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(2) from None


def _finish(outcome: Outcome) -> None:
    typer.echo(outcome.message)
    raise typer.Exit(outcome.code)
