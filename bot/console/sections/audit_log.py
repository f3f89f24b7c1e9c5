"""The console's 审计 section: chat commands and console actions together (one `audit` table; console actions
are `console.<action>`), filtered by who, command, result, group and day, newest first, a page at a time, in
the words of `qunguan audit` (bot/audit_cli.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.audit_cli import CONSOLE_ACTION, audit_line, audit_query, command_shown, where_shown
from bot.config import Config
from bot.console import auth
from bot.console.guard import BadInput, console_of, guarded, text_param
from bot.console.openapi import READ, answers
from bot.console.section import Section
from bot.console.sections.reading import MAX_ID, PAGING, ROWS, choice, page_route, paging, query
from bot.store import dialect
from bot.store.tables import AuditEntry

_audit = AuditEntry.__table__
SOURCES = ("chat", "console")


def _day(request: Request, name: str, config: Config) -> datetime | None:
    """A local day (YYYY-MM-DD) as the UTC moment it starts."""
    raw = text_param(request, name, max_length=10)
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"参数 {name} 应是日期，如 2026-11-30") from None
    return datetime.combine(day, time(0), tzinfo=config.tz).astimezone(UTC)


@guarded("staff")
async def audit(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    config = console.config
    member = text_param(request, "member", max_length=MAX_ID)
    command = text_param(request, "command", max_length=MAX_ID)
    result = text_param(request, "result", max_length=MAX_ID)
    room = text_param(request, "room", max_length=MAX_ID)
    source = choice(request, "source", SOURCES)
    since, until = _day(request, "since", config), _day(request, "until", config)
    limit, offset = paging(request)
    c = _audit.c
    where: list[Any] = []
    if member:
        where.append(or_(c.member_id == member, c.member_name.contains(member, autoescape=True)))
    if command:
        where.append(c.command == command.removeprefix("/"))
    if result:
        where.append(c.result == result)
    if room:
        where.append(c.room_id == room)
    if source:
        console_action = c.command.startswith(CONSOLE_ACTION, autoescape=True)
        where.append(console_action if source == "console" else ~console_action)
    if since is not None:
        where.append(c.at >= since)
    if until is not None:
        where.append(c.at < until + timedelta(days=1))

    def read(conn: Connection) -> dict[str, Any]:
        total = conn.scalar(select(func.count()).select_from(_audit).where(*where)) or 0
        rows = conn.execute(
            audit_query().where(*where).order_by(None).order_by(c.at.desc(), c.id.desc()).limit(limit).offset(offset)
        ).all()
        commands = sorted(conn.scalars(select(c.command).distinct()).all())
        results = sorted(conn.scalars(select(c.result).distinct()).all())
        return {"total": total, "rows": [_row(r, config) for r in rows], "commands": commands, "results": results}

    return JSONResponse(await console.reader.run(read))


def _row(r: Any, config: Config) -> dict[str, Any]:
    return {
        "id": r.id,
        "at": dialect.aware(r.at).isoformat(),
        "member_id": r.member_id,
        "member": r.member_name or r.member_id,
        "role": r.role,
        "command": command_shown(r),
        "args": r.args,
        "target_id": r.target_id,
        "target": (r.target_name or r.target_id) if r.target_id else None,
        "where": where_shown(r),
        "result": r.result,
        "answer": r.answer,
        "line": audit_line(r, config),
    }


AUDIT = {
    "type": "object",
    "required": ["total", "rows"],
    "properties": {
        "total": {"type": "integer"},
        "rows": ROWS,
        "commands": {"type": "array", "items": {"type": "string"}},
        "results": {"type": "array", "items": {"type": "string"}},
    },
}
# A day, or empty (what the page's date field sends when it is cleared: no limit).
DAY = {"anyOf": [{"type": "string", "format": "date", "maxLength": 10}, {"type": "string", "maxLength": 0}]}

SECTION = Section(
    "审计",
    "/audit",
    "聊天指令与后台操作记录",
    routes=[page_route("/audit", "audit_log", "审计"), Route("/api/audit", audit, methods=["GET"])],
    paths={
        "/api/audit": {
            "get": {
                "summary": "聊天指令与后台操作（console.*）的记录，最新的在前，可按人、指令、结果、群、日期筛选",
                "security": READ,
                "parameters": [
                    query("member", "谁（微信 ID，或名字的一部分）"),
                    query("command", "指令名（如 加分、console.login）"),
                    query("result", "结果（ok、refused、usage ...）"),
                    query("room", "群 ID"),
                    query("source", "chat 聊天指令，console 后台操作", {"type": "string", "enum": list(SOURCES)}),
                    query("since", "从这天起（本地日期）", DAY),
                    query("until", "到这天止（含）", DAY),
                    *PAGING,
                ],
                "responses": answers("审计记录", AUDIT),
            }
        }
    },
)
