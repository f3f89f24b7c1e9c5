"""The console's 增长 section: what issue 14 added, as the abilities show it (their console reads): the points
catalogue with stock and exchanges, the 拼团 group buys, the RFM table and the member profile fields. The
catalogue and the fields are what the playbooks folder declares now (read off the event loop)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Config
from bot.console import auth
from bot.console.guard import Console, console_of, guarded, int_param
from bot.console.openapi import READ, answers
from bot.console.panels import PanelScope
from bot.console.section import Section
from bot.console.sections.reading import MAX_PAGE, PAGING, ROWS, page_route, panel
from bot.playbook.library import load_configured

PANELS = ("rewards", "group_buys", "rfm", "profile_fields")


def _declared(folder: Path | None, config: Config) -> dict[str, dict[str, Any]]:
    """The resources the playbooks declare (none without a folder); a broken file leaves only its own out."""
    return load_configured(folder, config).resources if folder is not None else {}


async def resources(console: Console) -> dict[str, dict[str, Any]]:
    return await asyncio.to_thread(_declared, console.playbooks, console.config)


@guarded("staff")
async def growth(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    limit = int_param(request, "limit", 50, low=1, high=MAX_PAGE)
    scope = PanelScope(console.config, console.clock.now(), await resources(console), limit=limit)
    found = {name: await panel(console, name, scope) for name in PANELS}
    return JSONResponse(
        {
            **found["rewards"],
            **found["group_buys"],
            "rfm": found["rfm"],
            **found["profile_fields"],
        }
    )


GROWTH = {
    "type": "object",
    "required": ["rewards", "exchanges", "group_buys", "rfm", "fields"],
    "properties": {
        "rewards": ROWS,
        "exchanges": ROWS,
        "group_buys": ROWS,
        "rfm": {
            "type": "object",
            "properties": {"classes": ROWS, "lines": {"type": "array", "items": {"type": "string"}}, "members": ROWS},
        },
        "fields": ROWS,
    },
}

SECTION = Section(
    "增长",
    "/growth",
    "积分兑换、拼团、RFM、会员资料",
    routes=[page_route("/growth", "growth", "增长"), Route("/api/growth", growth, methods=["GET"])],
    paths={
        "/api/growth": {
            "get": {
                "summary": "积分兑换目录（库存、兑换、核销）与最近兑换、拼团、RFM 分层、会员资料字段（定义与填写人数）",
                "security": READ,
                "parameters": [PAGING[0]],  # limit: how many exchanges, group buys and RFM members
                "responses": answers("增长数据", GROWTH),
            }
        }
    },
)
