"""The console's Starlette app: login, the home page, the static files, and every section's pages and API
(bot/console/sections/). Sessions, roles and CSRF are checked by `guard.guarded` on each route."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import api, auth, sections, views
from bot.console.guard import COOKIE, Console, console_of, error, guarded, is_api


async def login_page(request: Request) -> Response:
    """GET of a link: the 登录 button only; the token is not even looked at (WeChat's preview fetches it)."""
    return views.login_form(request)


async def login(request: Request) -> Response:
    console = console_of(request)
    token = request.path_params["token"]
    try:
        async with console.store.unit() as conn:
            session_id, _ = await auth.redeem(conn, console.config, token, console.clock.now())
    except auth.LoginRefused as exc:
        return views.refused(request, str(exc), title="无法登录")
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
    return views.render(request, "home.html", session=session, title="群管后台")


@guarded("staff")
async def logout(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    async with console.store.unit() as conn:
        await auth.end_session(conn, request.cookies.get(COOKIE, ""))
        await auth.audit(conn, session, "console.logout", console.clock.now())
    response: Response = JSONResponse({"ok": True}) if is_api(request) else RedirectResponse("./", 303)
    response.delete_cookie(COOKIE)
    return response


MISSES = {404: ("找不到", "没有这个页面或接口"), 405: ("不支持", "不支持这种请求方法")}


async def missed(request: Request, exc: Exception) -> Response:
    """An address no route serves (or a method it does not take): JSON in Chinese under /api/, a page elsewhere."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    title, text = MISSES.get(status, ("请求有误", "请求有误"))
    return error(text, status) if is_api(request) else views.message(request, title, text, status)


def create_app(console: Console) -> Starlette:
    app = Starlette(
        exception_handlers={404: missed, 405: missed},
        routes=[
            Route("/", home),
            Route(auth.LOGIN_PATH + "{token}", login_page, methods=["GET"]),
            Route(auth.LOGIN_PATH + "{token}", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/api/logout", logout, methods=["POST"]),
            Route("/api/me", guarded("staff")(api.me)),
            Route("/api/openapi.json", api.openapi),
            Mount("/static", StaticFiles(packages=[("bot.console", "static")]), name="static"),
            *sections.routes(),
        ],
    )
    app.state.console = console
    app.state.sections = sections.SECTIONS
    app.state.openapi_paths = sections.openapi_paths()
    return app
