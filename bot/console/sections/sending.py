"""The console's 发送 section: the outbox queue per group, the send governor (paused? why? until when?), today's
sends against the daily limit, and the messages that failed with the reason (bot/outbox/views.py). Staff read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.console import auth
from bot.console.guard import console_of, guarded, text_param
from bot.console.openapi import READ, answers
from bot.console.section import Section
from bot.console.sections.reading import MAX_ID, PAGE, PAGING, ROWS, choice, page_route, paging, query


@guarded("staff")
async def summary(request: Request, session: auth.Session) -> Response:
    from bot.outbox import views as outbox  # not at import: `qunguan check` loads the sections, never the runtime

    console = console_of(request)
    now = console.clock.now()
    return JSONResponse(await console.reader.run(lambda conn: outbox.summary(conn, console.config, now)))


@guarded("staff")
async def messages(request: Request, session: auth.Session) -> Response:
    from bot.outbox import views as outbox

    console = console_of(request)
    trouble = choice(request, "state", ("pending", "failed")) == "failed"
    room = text_param(request, "room", max_length=MAX_ID)
    limit, offset = paging(request)
    total, rows = await console.reader.run(
        lambda conn: outbox.messages(conn, trouble=trouble, room=room, limit=limit, offset=offset)
    )
    return JSONResponse({"total": total, "rows": rows})


GOVERNOR = {
    "type": "object",
    "properties": {
        "paused": {"type": "boolean"},
        "until": {"type": ["string", "null"], "format": "date-time"},
        "why": {"type": ["string", "null"]},
        "slow": {"type": "boolean"},
        "trips": {"type": "integer"},
    },
}
SUMMARY = {
    "type": "object",
    "required": ["governor", "today", "rooms"],
    "properties": {
        "governor": GOVERNOR,
        "today": {
            "type": "object",
            "properties": {k: {"type": "integer"} for k in ("sent", "limit", "left", "failed")},
        },
        "rooms": ROWS,
    },
}

SECTION = Section(
    "发送",
    "/sending",
    "发送队列、限速与失败",
    routes=[
        page_route("/sending", "sending", "发送"),
        Route("/api/outbox", summary, methods=["GET"]),
        Route("/api/outbox/messages", messages, methods=["GET"]),
    ],
    paths={
        "/api/outbox": {
            "get": {
                "summary": "发送概况：限速器状态（是否暂停、原因、到何时）、今日已发与每日上限、各群待发数量",
                "security": READ,
                "responses": answers("发送概况", SUMMARY),
            }
        },
        "/api/outbox/messages": {
            "get": {
                "summary": "待发送的消息（最早的在前），或失败、过期、不确定是否发出的消息及原因（最新的在前）",
                "security": READ,
                "parameters": [
                    query("state", "pending 待发送，failed 失败", {"type": "string", "enum": ["pending", "failed"]}),
                    query("room", "群 ID（私聊写“私聊”）"),
                    *PAGING,
                ],
                "responses": answers("消息列表", PAGE),
            }
        },
    },
)
