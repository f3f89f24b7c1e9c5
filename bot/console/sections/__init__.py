"""The console's sections, one module each (its pages, its API routes and their OpenAPI paths): the menu, the
routes and the OpenAPI document are collected from here, so a section is added in one place."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from bot.console.section import Section
from bot.console.sections import (
    audit_log,
    coupons,
    dashboard,
    fleet,
    growth,
    members,
    moderation,
    playbooks,
    sandbox,
    sending,
    traces,
)

SECTIONS: list[Section] = [
    m.SECTION
    for m in (dashboard, playbooks, traces, sandbox, members, coupons, sending, fleet, audit_log, moderation, growth)
]


def routes() -> list[BaseRoute]:
    return [route for section in SECTIONS for route in section.routes]


def openapi_paths() -> dict[str, Any]:
    return {path: spec for section in SECTIONS for path, spec in section.paths.items()}
