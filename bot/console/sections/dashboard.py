"""The console's 仪表盘 section: joins, activity, check-ins, quizzes, coupons and messages per day, the funnel,
cohort retention, and whether nudges worked against their holdout. Each figure is a bot/analytics function run
off the event loop (`console.reader.run`); each API answers JSON, or CSV with `format=csv` (the chart's
download)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.analytics.cohorts import cohorts
from bot.analytics.daily import daily
from bot.analytics.funnel import funnel
from bot.analytics.nudges import effects
from bot.console import views
from bot.console.auth import Session
from bot.console.guard import BadInput, Handler, console_of, error, guarded, int_param, text_param
from bot.console.openapi import READ, answers
from bot.console.section import Section
from bot.store.tables import Room

DAYS = (7, 30, 90)
WEEKS = 12  # message_days keeps 90 days: retention reaches back about twelve weeks
_rooms = Room.__table__


def _days(request: Request) -> int:
    days = int_param(request, "days", 30, low=1, high=90)
    if days not in DAYS:
        raise BadInput("参数 days 只能是 7、30 或 90")
    return days


def _csv(request: Request) -> bool:
    fmt = text_param(request, "format", "json", max_length=8)
    if fmt not in ("json", "csv"):
        raise BadInput("参数 format 只能是 json 或 csv")
    return fmt == "csv"


class UnknownRoom(Exception):
    """A `room` no group has: 404."""


async def _room(request: Request) -> list[str] | None:
    """The group asked about (its id), or None for all; an unknown group is not found (404)."""
    room_id = text_param(request, "room", max_length=200)
    if room_id is None:
        return None

    def known(conn: Connection) -> bool:
        return conn.execute(select(_rooms.c.id).where(_rooms.c.id == room_id)).first() is not None

    if not await console_of(request).reader.run(known):
        raise UnknownRoom
    return [room_id]


def room_found(handler: Handler) -> Handler:
    """An unknown `room` answers 404 (the group is not there), not 422: any id is well-formed input."""

    async def route(request: Request, session: Session) -> Response:
        try:
            return await handler(request, session)
        except UnknownRoom:
            return error("没有这个群", 404)

    return route


def _cell(value: Any) -> Any:
    """A spreadsheet must not run a cell as a formula: text starting with = + - @ gets a leading quote."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def csv_response(name: str, header: list[str], rows: list[list[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"}
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


CHARTS = [
    {"id": "people", "title": "入群、退群与活跃", "about": "每天入群、退群的人次，和在群里说过话的人数"},
    {"id": "activity", "title": "签到与问答", "about": "每天签到次数、问答作答人次与答对人数"},
    {"id": "coupons", "title": "优惠券", "about": "每天发出、抢到、核销的券"},
    {"id": "messages", "title": "消息", "about": "每天发出的消息，和被发送限速压住一分钟以上（或没发出）的消息"},
    {"id": "funnel", "title": "漏斗", "about": "这段时间入群的人：之后签到、领到券、核销的人数，和带来新人的人数"},
    {"id": "cohorts", "title": "留存", "about": "按入群周分组：之后每周仍在群里说话的比例"},
    {"id": "nudges", "title": "召回效果", "about": "for_each 剧本：提醒组与对照组之后回来的比例，差值与 95% 置信区间"},
]


@guarded("staff")
async def page(request: Request, session: Session) -> Response:
    return views.render(request, "dashboard.html", session=session, title="仪表盘", charts=CHARTS)


@guarded("staff")
@room_found
async def stats(request: Request, session: Session) -> Response:
    days, as_csv, room_ids = _days(request), _csv(request), await _room(request)
    console = console_of(request)
    now, tz = console.clock.now(), console.config.tz

    def read(conn: Connection) -> tuple[dict[str, Any], list[dict[str, str]]]:
        rooms = [{"id": r.id, "topic": r.topic} for r in conn.execute(select(_rooms.c.id, _rooms.c.topic))]
        return daily(conn, now, tz, days, room_ids).json(), rooms

    figures, rooms = await console.reader.run(read)
    if as_csv:
        header = ["日期", *[f["label"] for f in figures["figures"]]]
        values = [f["values"] for f in figures["figures"]]
        rows = [[day, *[v[k] for v in values]] for k, day in enumerate(figures["days"])]
        return csv_response(f"stats-{days}d", header, rows)
    return JSONResponse({**figures, "room": room_ids[0] if room_ids else None, "rooms": rooms})


@guarded("staff")
@room_found
async def funnel_api(request: Request, session: Session) -> Response:
    days, as_csv, room_ids = _days(request), _csv(request), await _room(request)
    console = console_of(request)
    now = console.clock.now()
    found = (await console.reader.run(lambda conn: funnel(conn, now - timedelta(days=days), now, room_ids))).json()
    if as_csv:
        return csv_response(f"funnel-{days}d", ["步骤", "人数"], [[s["label"], s["members"]] for s in found["steps"]])
    return JSONResponse({**found, "days": days})


@guarded("staff")
@room_found
async def cohorts_api(request: Request, session: Session) -> Response:
    weeks = int_param(request, "weeks", 8, low=1, high=WEEKS)
    as_csv, room_ids = _csv(request), await _room(request)
    console = console_of(request)
    now, tz = console.clock.now(), console.config.tz
    found = await console.reader.run(lambda conn: cohorts(conn, now, tz, weeks, room_ids))
    if as_csv:
        header = ["入群周", "人数", *[f"第{k}周" for k in range(weeks)]]
        return csv_response(f"cohorts-{weeks}w", header, [[c.week.isoformat(), c.members, *c.active] for c in found])
    return JSONResponse({"weeks": weeks, "cohorts": [c.json() for c in found]})


@guarded("staff")
@room_found
async def nudges_api(request: Request, session: Session) -> Response:
    days, as_csv, room_ids = _days(request), _csv(request), await _room(request)
    console = console_of(request)
    since = console.clock.now() - timedelta(days=days)
    found = await console.reader.run(lambda conn: effects(conn, since, room_ids))
    if as_csv:
        header = ["剧本", "提醒人数", "提醒后回来", "对照组人数", "对照组回来", "差值", "95%区间下限", "95%区间上限"]
        rows = []
        for e in found:
            j = e.json()
            rows.append(
                [e.playbook_id, e.nudged, e.nudged_back, e.held, e.held_back, j["difference"], j["low"], j["high"]]
            )
        return csv_response(f"nudges-{days}d", header, rows)
    return JSONResponse({"days": days, "playbooks": [e.json() for e in found]})


def _param(name: str, schema: dict[str, Any], about: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": about}


DAYS_PARAM = _param("days", {"type": "integer", "enum": list(DAYS), "default": 30}, "统计最近几天：7、30 或 90")
ROOM = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\x00-\\x1f\\x7f]*$"}  # no control chars
ROOM_PARAM = _param("room", ROOM, "群 ID；不写则为全部群")
FORMAT_PARAM = _param("format", {"type": "string", "enum": ["json", "csv"], "default": "json"}, "csv：下载表格")
MAYBE = {"type": ["number", "null"]}


def _operation(summary: str, params: list[dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]:
    responses = answers(summary, schema, more={"404": "没有这个群"})
    responses["200"]["content"]["text/csv"] = {"schema": {"type": "string"}}
    return {"get": {"summary": summary, "security": READ, "parameters": params, "responses": responses}}


def _object(required: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": required}


PATHS = {
    "/api/stats": _operation(
        "每天的入群、退群、活跃、签到、问答、券与消息",
        [DAYS_PARAM, ROOM_PARAM, FORMAT_PARAM],
        _object(
            {
                "days": {"type": "array", "items": {"type": "string", "format": "date"}},
                "figures": {"type": "array", "items": _object({"key": {"type": "string"}, "label": {"type": "string"},
                    "values": {"type": "array", "items": {"type": "integer"}}, "total": {"type": "integer"}})},
                "room": {"type": ["string", "null"]},
                "rooms": {"type": "array", "items": _object({"id": {"type": "string"}, "topic": {"type": "string"}})},
            }
        ),
    ),
    "/api/funnel": _operation(
        "漏斗：入群 → 首次签到 → 领到券 → 核销（及带来新人）",
        [DAYS_PARAM, ROOM_PARAM, FORMAT_PARAM],
        _object({"days": {"type": "integer"}, "steps": {"type": "array", "items": _object(
            {"key": {"type": "string"}, "label": {"type": "string"}, "members": {"type": "integer"}})}}),
    ),
    "/api/cohorts": _operation(
        "留存：按入群周分组，之后每周仍活跃的人数",
        [_param("weeks", {"type": "integer", "minimum": 1, "maximum": WEEKS, "default": 8}, "最近几周"), ROOM_PARAM,
         FORMAT_PARAM],
        _object({"weeks": {"type": "integer"}, "cohorts": {"type": "array", "items": _object(
            {"week": {"type": "string", "format": "date"}, "members": {"type": "integer"},
             "active": {"type": "array", "items": {"type": "integer"}}})}}),
    ),
    "/api/nudges": _operation(
        "召回效果：每个 for_each 剧本提醒组与对照组回来的比例、差值与 95% 置信区间",
        [DAYS_PARAM, ROOM_PARAM, FORMAT_PARAM],
        _object({"days": {"type": "integer"}, "playbooks": {"type": "array", "items": _object(
            {"playbook_id": {"type": "string"}, "nudged": {"type": "integer"}, "nudged_back": {"type": "integer"},
             "held": {"type": "integer"}, "held_back": {"type": "integer"}, "nudged_rate": MAYBE, "held_rate": MAYBE,
             "difference": MAYBE, "low": MAYBE, "high": MAYBE})}}),
    ),
}  # fmt: skip

SECTION = Section(
    "仪表盘",
    "/dashboard",
    "加入、活跃、签到、券与召回的效果",
    routes=[
        Route("/dashboard", page),
        Route("/api/stats", stats),
        Route("/api/funnel", funnel_api),
        Route("/api/cohorts", cohorts_api),
        Route("/api/nudges", nudges_api),
    ],
    paths=PATHS,
)
