"""What the 发送, 审计, 群管理 and 增长 sections share: their page routes, paging and filter parameters (checked,
422 in Chinese, and declared the same way in the OpenAPI document), and the abilities' console reads
(bot/console/panels.py) run off the event loop."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console import auth, views
from bot.console.guard import BadInput, Console, guarded, int_param, text_param
from bot.console.panels import READS, PanelScope
from bot.registry import load_abilities

MAX_PAGE = 200  # rows one request may ask for
MAX_ID = 100  # characters of a WeChat id or a filter


def page_route(path: str, script: str, title: str) -> Route:
    """The section's HTML page: ops.html with static/<script>.js, which draws it from the API."""

    @guarded("staff")
    async def page(request: Request, session: auth.Session) -> Response:
        return views.render(request, "ops.html", session=session, title=title, script=script)

    return Route(path, page, methods=["GET"])


def paging(request: Request, default: int = 50) -> tuple[int, int]:
    limit = int_param(request, "limit", default, low=1, high=MAX_PAGE)
    offset = int_param(request, "offset", 0, low=0, high=1_000_000)
    return limit, offset


def choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = text_param(request, name, max_length=MAX_ID)
    if value is not None and value not in allowed:
        raise BadInput(f"参数 {name} 应是 {'、'.join(allowed)} 之一")
    return value


def path_id(request: Request, name: str) -> str:
    """A WeChat id in the path: not empty, not too long, no control characters."""
    value = str(request.path_params[name])
    if not value or len(value) > MAX_ID or any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise BadInput(f"{name} 不是有效的微信 ID")
    return value


async def panel(console: Console, name: str, scope: PanelScope) -> Any:
    """An ability's console read, on the reader (off the event loop)."""
    load_abilities()  # the abilities register their reads when imported
    read = READS[name]
    return await console.reader.run(lambda conn: read(conn, scope))


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """An optional query parameter of the OpenAPI document (text up to MAX_ID characters unless `schema`)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string", "maxLength": MAX_ID},
    }


PAGING = [
    query("limit", "每页条数", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}),
    query("offset", "跳过条数", {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0}),
]
ROWS = {"type": "array", "items": {"type": "object"}}
PAGE = {"type": "object", "required": ["total", "rows"], "properties": {"total": {"type": "integer"}, "rows": ROWS}}
