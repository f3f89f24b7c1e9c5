"""The console's HTML: Jinja2 templates (bot/console/templates/) with autoescape on, so every member name and
message text renders as text. Pages are plain, Chinese and phone-sized; their data comes from the JSON API by
console.js, which writes values with textContent only.

Front-end libraries are vendored under static/vendor/ (VENDORED.md has versions and licences): shops in
China cannot rely on foreign CDNs, and nothing needs a Node build step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.console.section import menu

if TYPE_CHECKING:
    from bot.console.auth import Session

ENV = Environment(loader=PackageLoader("bot.console", "templates"), autoescape=select_autoescape(default=True))
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# No inline script anywhere: a script in a member's name could not run even if escaping failed somewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'"
)


def root(request: Request) -> str:
    """The path the console is published under (public_url's, e.g. /console behind a proxy; usually empty):
    every link and script address starts with it."""
    return urlsplit(request.app.state.console.config.web.public_url).path.rstrip("/")


def render(
    request: Request, template: str, *, session: Session | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page: `template` extends base.html, which draws the menu for the session's role."""
    here = request.url.path.removeprefix(request.scope.get("root_path", ""))
    html = ENV.get_template(template).render(
        session=session,
        menu=menu(request.app.state.sections, session),
        root=root(request),
        here=here,
        tz=str(request.app.state.console.config.tz),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={**NO_STORE, "Content-Security-Policy": CSP})


def message(request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
    return render(request, "message.html", status=status, title=title, text=text)


def login_form(request: Request) -> HTMLResponse:
    """What opening a link shows: only pressing 登录 (a POST) uses the link, not WeChat's preview fetch."""
    return render(request, "login.html", title="登录群管后台")


def login_hint(request: Request) -> HTMLResponse:
    return message(request, "请先登录", "请在微信里私聊机器人发送 /后台，打开它回复的链接登录。", 401)


def refused(request: Request, text: str, status: int = 403, title: str = "无法打开") -> HTMLResponse:
    return message(request, title, text, status)
