"""The console's 账号 section: the fleet's accounts as `qunguan fleet` shows them (bot/fleet/board.py), refreshed
every few seconds by the page. Staff read it (they answer customers when an account is down); where each process
runs (host, pid) is for admins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.console import auth, views
from bot.console.guard import console_of, guarded
from bot.console.openapi import READ, answers
from bot.console.section import Section
from bot.registry import RANK

REFRESH = 5  # seconds between the page's reads


@guarded("staff")
async def page(request: Request, session: auth.Session) -> Response:
    return views.render(request, "fleet.html", session=session, title="账号", refresh=REFRESH)


@guarded("staff")
async def accounts(request: Request, session: auth.Session) -> Response:
    from bot.fleet.board import board  # not at import: `qunguan check` loads the sections, never the runtime

    console = console_of(request)
    now = console.clock.now()
    rows = await console.reader.run(lambda conn: board(conn, console.config, now))
    if RANK[session.role] < RANK["admin"]:
        for row in rows:
            row["host"], row["pid"] = "", None
    return JSONResponse({"at": now.isoformat(), "refresh": REFRESH, "accounts": rows})


ROOM = {"type": "object", "properties": {"room_id": {"type": "string"}, "topic": {"type": "string"}}}
ACCOUNT = {
    "type": "object",
    "required": ["account", "online", "status", "heartbeat_at", "groups", "queue", "sent_today", "daily_limit"],
    "properties": {
        "account": {"type": "string"},
        "online": {"type": "boolean"},
        "status": {"type": "string", "enum": ["online", "silent", "offline", "logged_out", "refused", "never"]},
        "status_text": {"type": "string"},
        "reason": {"type": "string"},
        "host": {"type": "string"},
        "pid": {"type": ["integer", "null"]},
        "heartbeat_at": {"type": ["string", "null"], "format": "date-time"},
        "heartbeat_ago": {"type": ["integer", "null"]},
        "groups": {"type": "integer"},
        "rooms": {"type": "array", "items": ROOM},
        "queue": {"type": "integer"},
        "sent_today": {"type": "integer"},
        "daily_limit": {"type": "integer"},
        "governor": {"type": "object"},
    },
}
BOARD = {
    "type": "object",
    "required": ["at", "accounts"],
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "refresh": {"type": "integer"},
        "accounts": {"type": "array", "items": ACCOUNT},
    },
}

SECTION = Section(
    "账号",
    "/fleet",
    "各微信号是否在线、最后心跳、负责的群、待发与今日已发、是否暂停",
    routes=[Route("/fleet", page, methods=["GET"]), Route("/api/fleet", accounts, methods=["GET"])],
    paths={
        "/api/fleet": {
            "get": {
                "summary": "各微信号：是否在线（心跳在租约内）、最后心跳、负责的群、待发数量、今日已发与上限、是否暂停",
                "security": READ,
                "responses": answers("微信号列表", BOARD),
            }
        }
    },
)
