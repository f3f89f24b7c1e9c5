"""The console's 沙盒 section: the simulator in the browser, on a throwaway copy of the database, with a clock of
its own, traces beside the chat (bot/console/sandbox.py). Staff may use it: nothing in a sandbox reaches the shop.
Making and closing a sandbox is audited; what is typed in one is not (it changes nothing real)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.console import auth, views
from bot.console.guard import BadInput, Handler, console_of, error, guarded, int_param, json_body
from bot.console.sandbox import IDLE, MAX_PER_MEMBER, MAX_SANDBOXES, Sandbox, Sandboxes, SandboxRefused
from bot.console.sandbox_openapi import (
    MAX_ADVANCE_DAYS,
    MAX_ID,
    MAX_NAME,
    MAX_TEXT,
    MOST,
    PATHS,
    TRACES_LIMIT,
    UNITS,
)
from bot.console.section import Section

MAX_BODY = 4096  # bytes of a sandbox request: a message is at most MAX_TEXT characters
UNIT_NAMES = {"minutes": "分钟", "hours": "小时", "days": "天"}


def sandboxes(request: Request) -> Sandboxes:
    """The console's sandboxes (made on first use, kept with the app)."""
    state = request.app.state
    found: Sandboxes | None = getattr(state, "sandboxes", None)
    if found is None:
        found = state.sandboxes = Sandboxes(console_of(request))
    return found


def _text(data: dict[str, Any], name: str, label: str, high: int, *, required: bool, lines: bool = False) -> str:
    """A string field of the body: present when required, at most `high` characters, no control characters
    (newlines only in a message), and an id has no spaces."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadInput(f"请填写{label}")
        return ""
    if not isinstance(value, str):
        raise BadInput(f"{label}应是文字")
    if len(value) > high:
        raise BadInput(f"{label}太长（最多 {high} 个字）")
    if any((ord(ch) < 32 and not (lines and ch == "\n")) or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise BadInput(f"{label}含有控制字符")
    if name in ("member", "room") and any(ch.isspace() for ch in value):
        raise BadInput(f"{label}不能有空格")
    if not value.strip():
        if required:
            raise BadInput(f"{label}不能是空白")
        return ""
    return value


def _who(data: dict[str, Any], *, room: bool) -> tuple[str, str, str]:
    return (
        _text(data, "member", "成员 ID", MAX_ID, required=True),
        _text(data, "name", "成员名字", MAX_NAME, required=False),
        _text(data, "room", "群 ID", MAX_ID, required=room),
    )


def _advance(data: dict[str, Any]) -> tuple[timedelta, str]:
    amount, unit = data.get("amount"), data.get("unit")
    if not isinstance(unit, str) or unit not in UNITS:
        raise BadInput("快进的单位应是 minutes、hours 或 days")
    if isinstance(amount, float) and amount.is_integer():
        amount = int(amount)  # JSON's 3.0 is the integer 3
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise BadInput("快进的数量应是正整数")
    if amount > MOST[unit]:
        most = f"{MAX_ADVANCE_DAYS} 天（{MOST[unit]} {UNIT_NAMES[unit]}）"
        raise BadInput(f"一次最多快进 {most}：期间到点的定时剧本要一个个执行，请分几次快进")
    return timedelta(seconds=amount * UNITS[unit]), f"{amount} {UNIT_NAMES[unit]}"


async def _mine(request: Request, session: auth.Session) -> Sandbox:
    return await sandboxes(request).get(request.path_params["sandbox_id"], session.member_id)


def refusing(handler: Handler) -> Handler:
    """SandboxRefused -> its status with its Chinese message."""

    async def route(request: Request, session: auth.Session) -> Response:
        try:
            response: Response = await handler(request, session)
            return response
        except SandboxRefused as exc:
            return error(str(exc), exc.status)

    return route


@guarded("staff")
async def page(request: Request, session: auth.Session) -> Response:
    return views.render(request, "sandbox.html", session=session, title="沙盒", max_text=MAX_TEXT)


@guarded("staff")
async def listing(request: Request, session: auth.Session) -> Response:
    found = sandboxes(request)
    await found.expire()
    return JSONResponse(
        {
            "sandboxes": [s.about() for s in found.of(session.member_id)],
            "limits": {
                "sandboxes": MAX_SANDBOXES,
                "per_member": MAX_PER_MEMBER,
                "idle_minutes": int(IDLE.total_seconds() // 60),
                "text": MAX_TEXT,
                "advance_days": MAX_ADVANCE_DAYS,
            },
        }
    )


async def _state(sandbox: Sandbox) -> dict[str, Any]:
    pickers = await sandbox.call(lambda bot: bot.pickers())
    lines = await sandbox.call(lambda bot: bot.transcript(0))
    return {**sandbox.about(), **pickers, "lines": lines}


@guarded("staff")
@refusing
async def create(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    sandbox = await sandboxes(request).create(session.member_id)
    async with console.store.unit() as conn:
        await auth.audit(conn, session, "console.sandbox.create", console.clock.now(), target_id=sandbox.id)
    return JSONResponse(await _state(sandbox))


@guarded("staff")
@refusing
async def show(request: Request, session: auth.Session) -> Response:
    return JSONResponse(await _state(await _mine(request, session)))


@guarded("staff")
@refusing
async def remove(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    sandbox_id = request.path_params["sandbox_id"]
    await sandboxes(request).delete(sandbox_id, session.member_id)
    async with console.store.unit() as conn:
        await auth.audit(conn, session, "console.sandbox.delete", console.clock.now(), target_id=sandbox_id)
    return JSONResponse({"ok": True})


@guarded("staff")
@refusing
async def say(request: Request, session: auth.Session) -> Response:
    data = await json_body(request, MAX_BODY)
    member, name, room = _who(data, room=False)
    text = _text(data, "text", "消息", MAX_TEXT, required=True, lines=True)
    sandbox = await _mine(request, session)
    return JSONResponse({"lines": await sandbox.call(lambda bot: bot.say(member, name, room or None, text))})


def membership(joins: bool) -> Handler:
    """The route of 加入群 (`joins`) or 退群."""

    async def route(request: Request, session: auth.Session) -> Response:
        member, name, room = _who(await json_body(request, MAX_BODY), room=True)
        sandbox = await _mine(request, session)
        return JSONResponse({"lines": await sandbox.call(lambda bot: bot.membership(member, name, room, joins=joins))})

    return route


@guarded("staff")
@refusing
async def advance(request: Request, session: auth.Session) -> Response:
    delta, told = _advance(await json_body(request, MAX_BODY))
    sandbox = await _mine(request, session)
    return JSONResponse({"lines": await sandbox.call(lambda bot: bot.advance(delta, told))})


@guarded("staff")
@refusing
async def transcript(request: Request, session: auth.Session) -> Response:
    after = int_param(request, "after", 0, low=0, high=1_000_000_000)
    sandbox = await _mine(request, session)
    return JSONResponse({"lines": await sandbox.call(lambda bot: bot.transcript(after))})


@guarded("staff")
@refusing
async def traces(request: Request, session: auth.Session) -> Response:
    after = int_param(request, "after", 0, low=0, high=1_000_000_000)
    limit = int_param(request, "limit", 50, low=1, high=TRACES_LIMIT)
    sandbox = await _mine(request, session)
    return JSONResponse({"traces": await sandbox.call(lambda bot: bot.traces(after, limit))})


BASE = "/api/sandbox/{sandbox_id}"
SECTION = Section(
    "沙盒",
    "/sandbox",
    "在浏览器里和机器人对话试玩法",
    routes=[
        Route("/sandbox", page),
        Route("/api/sandbox", listing, methods=["GET"]),
        Route("/api/sandbox", create, methods=["POST"]),
        Route(BASE, show, methods=["GET"]),
        Route(BASE, remove, methods=["DELETE"]),
        Route(BASE + "/say", say, methods=["POST"]),
        Route(BASE + "/join", guarded("staff")(refusing(membership(joins=True))), methods=["POST"]),
        Route(BASE + "/leave", guarded("staff")(refusing(membership(joins=False))), methods=["POST"]),
        Route(BASE + "/advance", advance, methods=["POST"]),
        Route(BASE + "/transcript", transcript, methods=["GET"]),
        Route(BASE + "/traces", traces, methods=["GET"]),
    ],
    paths=PATHS,
)
