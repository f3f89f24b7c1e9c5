"""What every console route shares: the Console it works on, the session check (`guarded`), parameter checks
that answer 422 in Chinese (a write's audit row: `auth.audit`).

A route states the least role it needs. A console action that is also a chat command (核销, 加分, 标签, 启用,
重载, 群发 ...) asks for the command's role instead (`guarded_as`), `commands:` overrides included, so the
console never lets anyone do what the chat would refuse them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.console import auth, views
from bot.console.reads import Reader
from bot.registry import RANK, REGISTRY

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Config
    from bot.store import Store

COOKIE = "qunguan_session"
READS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM = 4096  # bytes of a login or logout form
MAX_JSON = 6 * 1024 * 1024  # bytes of a JSON body (a playbook being edited is refused above 5 MB by its route)
Handler = Callable[[Request, auth.Session], Awaitable[Response]]


@dataclass
class Console:
    """What the console works on: the running bot's (`qunguan run`) or its own (`qunguan console`).
    `playbooks` is the folder the bot loads (None: the console cannot edit playbooks)."""

    store: Store
    config: Config
    clock: Clock
    playbooks: Path | None = None
    reader: Reader = field(init=False)

    def __post_init__(self) -> None:
        self.reader = Reader(self.store)


class BadInput(Exception):
    """A query parameter or body the API refuses: 422 with this Chinese message."""


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None when it is over `limit` bytes: a Content-Length over it is refused unread, a
    streamed body is read no further than the limit (a 10 MB post never sits in memory whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            return None
    request._body = bytes(raw)  # as Starlette's request.body() keeps it: later reads (request.form()) still work
    return request._body


async def form(request: Request, limit: int = MAX_FORM) -> dict[str, str]:
    """A small form's fields (a login or logout form); a bigger one has none."""
    raw = await body(request, limit)
    return {k: v[0] for k, v in parse_qs((raw or b"").decode(errors="replace")).items()}


async def json_body(request: Request, limit: int = MAX_JSON) -> dict[str, Any]:
    """The request's JSON object; BadInput for anything else (too big, not JSON, not an object)."""
    raw = await body(request, limit)
    if raw is None:
        raise BadInput(f"请求太大，最多 {limit // 1024} KB")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadInput("请求不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise BadInput("请求应是一个 JSON 对象")
    return data


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; BadInput otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"参数 {name} 应是整数") from None
    if not low <= value <= high:
        raise BadInput(f"参数 {name} 应在 {low} 到 {high} 之间")
    return value


def text_param(request: Request, name: str, default: str | None = None, *, max_length: int = 200) -> str | None:
    """A text query parameter, at most `max_length` characters and free of control characters."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if len(raw) > max_length:
        raise BadInput(f"参数 {name} 太长（最多 {max_length} 个字）")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in raw):
        raise BadInput(f"参数 {name} 含有控制字符")
    return raw


def command_role(config: Config, command: str) -> str:
    """The role the chat command `command` needs on this shop (config.yaml's `commands:` may raise or lower it)."""
    return config.commands.get(command, REGISTRY.commands[command].role)


def guarded(role: str | Callable[[Config], str]) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """The route needs a session of at least `role` (or of the role a function of the config gives): none ->
    401 (JSON under /api/, else the login hint page), too low -> 403; a write without the session's CSRF token
    (header X-CSRF-Token or form field csrf) -> 403. BadInput raised by the handler -> 422."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            api = is_api(request)
            console = console_of(request)
            async with console.store.unit() as conn:
                session = await auth.session_of(conn, console.config, request.cookies.get(COOKIE), console.clock.now())
            if session is None:
                return error("未登录", 401) if api else views.login_hint(request)
            needed = role(console.config) if callable(role) else role
            if RANK[session.role] < RANK[needed]:
                return error("没有权限", 403) if api else views.refused(request, "你没有权限打开这一页。")
            if request.method not in READS:
                sent = request.headers.get("x-csrf-token")
                if sent is None and request.headers.get("content-type", "").startswith("application/x-www-form"):
                    sent = (await form(request)).get("csrf")
                if not auth.csrf_ok(session, sent):
                    return error("CSRF 校验失败，请刷新页面后再试", 403)
            try:
                return await handler(request, session)
            except BadInput as exc:
                return error(str(exc), 422) if api else views.refused(request, str(exc), 422)

        return route

    return wrap


def guarded_as(command: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """The route does what the chat command `command` does: it needs that command's role on this shop."""
    return guarded(lambda config: command_role(config, command))
