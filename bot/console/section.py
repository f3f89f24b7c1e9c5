"""A console section (a page in the menu, its routes and its part of the OpenAPI document), and the menu a
session sees. Sections are listed in bot/console/sections/; the app keeps them in `app.state.sections`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from bot.registry import RANK

if TYPE_CHECKING:
    from bot.console.auth import Session


@dataclass(frozen=True)
class Section:
    """`path` is the section's page (the menu links to it); `role` the least role that sees it in the menu (each
    route checks its own role anyway); `paths` its part of the OpenAPI document."""

    title: str
    path: str
    about: str
    routes: list[BaseRoute] = field(default_factory=list)
    paths: dict[str, Any] = field(default_factory=dict)
    role: str = "staff"


def menu(sections: Iterable[Section], session: Session | None) -> list[Section]:
    """The sections a session may open (only those with pages yet)."""
    if session is None:
        return []
    return [s for s in sections if s.routes and RANK[session.role] >= RANK[s.role]]
