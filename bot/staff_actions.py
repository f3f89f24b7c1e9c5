"""Staff actions the console does as the chat commands do them (加分, 扣分, 标签, 去标签, 核销): one core each,
declared beside its command in handlers/ and called by both, so the web page and the chat can never disagree on
a rule, a refusal or a text. Also the SQL columns of member facts the console's member page reads (lifecycle
stage), declared by the abilities that define them.

bot/ never imports handlers/ by name: the console finds a command's core here by the command's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.commands import CommandContext, one_line
from bot.events import MemberRef
from bot.registry import RegistrationError
from bot.store.tables import Member

if TYPE_CHECKING:
    from bot.config import Config

F = TypeVar("F", bound=Callable[..., Any])
_members = Member.__table__


@dataclass(frozen=True)
class Actor:
    """Who does an action, where from: a staff member's WeChat id on this shop's config, at a time."""

    member_id: str
    config: Config
    now: datetime

    @classmethod
    def of(cls, ctx: CommandContext) -> Actor:
        """The staff member who sent a chat command."""
        return cls(ctx.sender.id, ctx.config, ctx.now())


@dataclass(frozen=True)
class Outcome:
    """What an action did: `result` is what the audit log records (ok, or the action's own outcome: insufficient,
    already, expired, unknown ...), `text` the Chinese answer, `target_id` the member it was about."""

    result: str
    text: str
    target_id: str | None = None


ACTIONS: dict[str, Callable[..., Awaitable[Outcome]]] = {}  # chat command name -> its core
MEMBER_COLUMNS: dict[str, Callable[[datetime, Any], ColumnElement[Any]]] = {}  # fact -> (now, config) -> SQL


def staff_action(command: str) -> Callable[[F], F]:
    """Declare the core of chat command `command`: `async def fn(conn, actor, ...) -> Outcome`; it raises
    bot.commands.UsageError for input that does not fit, with the same Chinese text in both places."""

    def register(fn: F) -> F:
        if command in ACTIONS:
            raise RegistrationError(f"staff action '{command}' is registered twice")
        ACTIONS[command] = fn
        return fn

    return register


def member_column(name: str) -> Callable[[F], F]:
    """Declare a member fact as SQL over `members` (`fn(now, config) -> column`), for reads off the event loop."""

    def register(fn: F) -> F:
        MEMBER_COLUMNS[name] = fn
        return fn

    return register


async def member_ref(conn: AsyncConnection, member_id: str) -> MemberRef | None:
    """A known member by WeChat id, with the name staff answers show (on one line); None for an unknown id."""
    row = (await conn.execute(select(_members.c.name).where(_members.c.id == member_id))).first()
    return None if row is None else MemberRef(member_id, one_line(row.name or member_id))
