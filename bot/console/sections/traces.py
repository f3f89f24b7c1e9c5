"""The console's 运行记录 section (issue 15, Pages point 3): what each event did at the stages it reached and why a
playbook did not run, searchable by member, group, playbook and time; a trace's page lists its steps in order.
Staff may read it. The reads run off the event loop (`console.reader.run`, bot/traces/query.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.console import views
from bot.console.auth import Session
from bot.console.guard import BadInput, console_of, guarded, int_param, text_param
from bot.console.openapi import READ, answers, text
from bot.console.section import Section
from bot.traces import query
from bot.traces.query import OUTCOMES, STAGES, Filters

MAX_LIMIT = 500
MAX_ID = 2**62
# since/until, in the shop's time: a day, or a day and a minute (what the page's date-time field sends)
_DAY = r"(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
MOMENT = re.compile(_DAY + r"(T([01]\d|2[0-3]):[0-5]\d)?")
MOMENT_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date"},
        # days 01-28 only: what it documents is then always a real minute (the API takes every real one)
        {"type": "string", "pattern": r"^(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d$"},
        {"type": "string", "maxLength": 0},  # empty, as a cleared field sends it: no limit
    ]
}


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = text_param(request, name, max_length=20)
    if value is not None and value not in allowed:
        raise BadInput(f"参数 {name} 应是 {'、'.join(allowed)} 之一")
    return value


def _moment(request: Request, name: str, *, end: bool = False) -> datetime | None:
    """`2026-12-01` or `2026-12-01T09:30` (the shop's time zone unless it says another); a date as `until` means
    up to the end of that day."""
    raw = text_param(request, name, max_length=40)
    if raw is None:
        return None
    if not MOMENT.fullmatch(raw):
        raise BadInput(f"参数 {name} 应是日期（2026-12-01）或时间（2026-12-01T09:30）")
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time())
        else:
            moment = datetime.fromisoformat(raw)
        return moment.replace(tzinfo=console_of(request).config.tz).astimezone(UTC)  # as the traces keep it
    except ValueError:
        raise BadInput(f"参数 {name} 应是日期（2026-12-01）或时间（2026-12-01T09:30）") from None
    except OverflowError:
        return None  # the first or the last day there is: no bound on that side


def filters(request: Request) -> Filters:
    since, until = _moment(request, "since"), _moment(request, "until", end=True)
    before = int_param(request, "before", 0, low=1, high=MAX_ID)
    return Filters(
        member=text_param(request, "member", max_length=100),
        room=text_param(request, "room", max_length=100),
        playbook=text_param(request, "playbook", max_length=100),
        stage=_choice(request, "stage", STAGES),
        outcome=_choice(request, "outcome", OUTCOMES),
        since=since,
        until=until,
        before=before or None,
        limit=int_param(request, "limit", 100, low=1, high=MAX_LIMIT),
    )


@guarded("staff")
async def page(request: Request, session: Session) -> Response:
    return views.render(request, "traces.html", session=session, title="运行记录")


@guarded("staff")
async def trace_page(request: Request, session: Session) -> Response:
    return views.render(request, "trace.html", session=session, title="运行记录详情", trace_id=_trace_id(request))


@guarded("staff")
async def list_api(request: Request, session: Session) -> Response:
    wanted = filters(request)
    found = await console_of(request).reader.run(lambda conn: query.search(conn, wanted))
    return JSONResponse(found)


@guarded("staff")
async def one_api(request: Request, session: Session) -> Response:
    trace_id = _trace_id(request)
    found = await console_of(request).reader.run(lambda conn: query.one(conn, trace_id))
    if found is None:
        return JSONResponse({"error": "没有这条运行记录（可能已被清理）"}, 404)
    return JSONResponse(found)


def _trace_id(request: Request) -> int:
    trace_id: int = request.path_params["trace_id"]
    if not 1 <= trace_id <= MAX_ID:
        raise BadInput("运行记录编号不对")
    return trace_id


def _text(description: str, max_length: int = 100) -> dict[str, Any]:
    return text(max_length, description)


TRACE = {
    "type": "object",
    "required": ["id", "at", "kind", "stage", "name", "outcome", "summary", "text"],
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "kind": {"type": "string"},
        "room_id": {"type": ["string", "null"]},
        "room": {"type": "string"},
        "member_id": {"type": ["string", "null"]},
        "member": {"type": "string"},
        "stage": {"type": "string", "enum": list(STAGES)},
        "name": {"type": "string"},
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "summary": {"type": "string"},
        "text": {"type": "string"},
    },
}
STEP = {
    "type": "object",
    "required": ["kind", "what"],
    "properties": {
        "kind": {"type": "string", "description": "condition, action, error, command, window, resume, omitted"},
        "what": {"type": "string"},
        "value": {"description": "its options, and what it saw (`seen`)"},
        "result": {"description": "a condition: true/false; an action: what it did, set and queued"},
        "at": {"type": "string", "description": "file:line:column in the playbook"},
    },
}
ONE = {
    **TRACE,
    "required": [*TRACE["required"], "event", "steps"],
    "properties": {**TRACE["properties"], "event": {"type": "string"}, "steps": {"type": "array", "items": STEP}},
}
LIST_PARAMETERS = [
    {"name": "member", "in": "query", "schema": _text("member id or name")},
    {"name": "room", "in": "query", "schema": _text("group id or topic")},
    {"name": "playbook", "in": "query", "schema": _text("playbook id, command name or rule")},
    {"name": "stage", "in": "query", "schema": {"type": "string", "enum": ["", *STAGES], "description": "empty: any"}},
    {
        "name": "outcome",
        "in": "query",
        "schema": {"type": "string", "enum": ["", *OUTCOMES], "description": "empty: any"},
    },
    {"name": "since", "in": "query", "schema": {**MOMENT_SCHEMA, "description": "2026-12-01 or 2026-12-01T09:30"}},
    {"name": "until", "in": "query", "schema": {**MOMENT_SCHEMA, "description": "exclusive; a date: to its end"}},
    {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}},
]
PATHS = {
    "/api/traces": {
        "get": {
            "summary": "Traces, newest first: what events did at the stages they reached, and why not",
            "security": READ,
            "parameters": LIST_PARAMETERS,
            "responses": answers(
                "traces",
                {
                    "type": "object",
                    "required": ["traces", "more"],
                    "properties": {"traces": {"type": "array", "items": TRACE}, "more": {"type": "boolean"}},
                },
            ),
        }
    },
    "/api/traces/{trace_id}": {
        "get": {
            "summary": "One trace with its steps in order",
            "security": READ,
            "parameters": [
                {
                    "name": "trace_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                }
            ],
            "responses": answers("the trace", ONE, more={"404": "没有这条运行记录"}),
        }
    },
}

SECTION = Section(
    "运行记录",
    "/traces",
    "每个事件触发了什么、为什么没触发",
    routes=[
        Route("/traces", page),
        Route("/traces/{trace_id:int}", trace_page),
        Route("/api/traces", list_api),
        Route("/api/traces/{trace_id:int}", one_api),
    ],
    paths=PATHS,
)
