"""What the abilities show in the console's pages, registered by the abilities themselves (bot/ never imports
handlers/): a read `fn(conn, scope)` on a sync connection (the console runs it off the event loop), or an action
`fn(conn, staff, member_id, now) -> (result, answer)` that does what a chat command does, by its code.

    @console_read("rewards")          # handlers/rewards.py: the catalogue with stock and exchanges
    def rewards_panel(conn: Connection, scope: PanelScope) -> list[dict]: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection

    from bot.config import Config
    from bot.events import MemberRef

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class PanelScope:
    """What a read sees besides the database: the shop's config, the time, the resources the playbooks declare
    (rewards, coupons, fields: empty when the console has no playbooks folder) and the page's filters."""

    config: Config
    now: datetime
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    limit: int = 50
    offset: int = 0
    filters: dict[str, str] = field(default_factory=dict)


Read = Callable[["Connection", PanelScope], Any]
Action = Callable[["AsyncConnection", "MemberRef", str, datetime], Awaitable[tuple[str, str]]]
READS: dict[str, Read] = {}
ACTIONS: dict[str, tuple[str, Action]] = {}  # name -> (the chat command it is, its code)


def console_read(name: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        READS[name] = fn
        return fn

    return register


def console_action(name: str, *, command: str) -> Callable[[F], F]:
    """An action the console offers that is the chat command `command` (same role, same code)."""

    def register(fn: F) -> F:
        ACTIONS[name] = (command, fn)
        return fn

    return register
