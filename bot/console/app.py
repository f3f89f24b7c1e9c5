"""The console's Starlette app: pages and the JSON API over the bot's store, config and Clock.

Every route states the least role it needs (`guarded`); the session comes from the server-side session table,
a write (POST/PUT/PATCH/DELETE) also needs the session's CSRF token, and every write is audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.console import api, auth, pages
from bot.registry import RANK

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Config
    from bot.store import Store

COOKIE = "qunguan_session"
READS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM = 4096  # bytes of a login or logout form
Handler = Callable[[Request, auth.Session], Awaitable[Response]]


@dataclass
class Console:
    """What the console works on: the running bot's (`qunguan run`) or its own (`qunguan console`)."""

    store: Store
    config: Config
    clock: Clock


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body())[:MAX_FORM].decode(errors="replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


def guarded(role: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """The route needs a session of at least `role`: none -> 401 (JSON under /api/, else the login hint page),
    too low -> 403; a write without the session's CSRF token (header X-CSRF-Token or form field csrf) -> 403."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            is_api = request.url.path.startswith("/api/")
            console = _console(request)
            async with console.store.unit() as conn:
                session = await auth.session_of(conn, console.config, request.cookies.get(COOKIE), console.clock.now())
            if session is None:
                return JSONResponse({"error": "未登录"}, 401) if is_api else pages.login_hint()
            if RANK[session.role] < RANK[role]:
                return JSONResponse({"error": "没有权限"}, 403) if is_api else pages.refused("你没有权限打开这一页。")
            if request.method not in READS:
                sent = request.headers.get("x-csrf-token") or (await _form(request)).get("csrf")
                if not auth.csrf_ok(session, sent):
                    return JSONResponse({"error": "CSRF 校验失败，请刷新页面后再试"}, 403)
            return await handler(request, session)

        return route

    return wrap


async def login_page(request: Request) -> Response:
    """GET of a link: the 登录 button only; the token is not even looked at (WeChat's preview fetches it)."""
    return pages.login_form()


async def login(request: Request) -> Response:
    console = _console(request)
    token = request.path_params["token"]
    try:
        async with console.store.unit() as conn:
            session_id, _ = await auth.redeem(conn, console.config, token, console.clock.now())
    except auth.LoginRefused as exc:
        return pages.refused(str(exc))
    response = RedirectResponse("../", 303)  # relative: right behind a proxy that serves the console under a path
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(auth.SESSION_VALID.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=console.config.web.public_url.startswith("https://"),
    )
    return response


@guarded("staff")
async def home(request: Request, session: auth.Session) -> Response:
    return pages.home(session.member_id, session.role, session.csrf)


@guarded("staff")
async def logout(request: Request, session: auth.Session) -> Response:
    console = _console(request)
    async with console.store.unit() as conn:
        await auth.end_session(conn, request.cookies.get(COOKIE, ""))
        await auth.audit(conn, session, "console.logout", console.clock.now())
    response: Response = (
        JSONResponse({"ok": True}) if request.url.path.startswith("/api/") else RedirectResponse("./", 303)
    )
    response.delete_cookie(COOKIE)
    return response


def create_app(console: Console) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", home),
            Route(auth.LOGIN_PATH + "{token}", login_page, methods=["GET"]),
            Route(auth.LOGIN_PATH + "{token}", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/api/logout", logout, methods=["POST"]),
            Route("/api/me", guarded("staff")(api.me)),
            Route("/api/openapi.json", api.openapi),
        ]
    )
    app.state.console = console
    return app
