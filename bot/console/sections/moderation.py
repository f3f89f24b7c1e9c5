"""The console's 群管理 section: the moderation log and the blacklist, as the moderation abilities show them
(their console reads), and 解封 from the list: the /解封 command's own code, with its role (`commands:`
overrides included), audited as `console.unblacklist`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Config
from bot.console import auth
from bot.console.guard import command_role, console_of, guarded, text_param
from bot.console.openapi import READ, WRITE, answers
from bot.console.panels import ACTIONS, PanelScope
from bot.console.section import Section
from bot.console.sections.reading import MAX_ID, PAGE, PAGING, ROWS, page_route, paging, panel, path_id, query
from bot.events import MemberRef
from bot.registry import RANK, load_abilities

LIFT = "unblacklist"  # the moderation abilities' console action: /解封


def _lift_command() -> str:
    load_abilities()
    return ACTIONS[LIFT][0]


def _lift_role(config: Config) -> str:
    return command_role(config, _lift_command())


@guarded("staff")
async def moderation_log(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    filters = {k: v for k in ("member", "action") if (v := text_param(request, k, max_length=MAX_ID))}
    limit, offset = paging(request)
    scope = PanelScope(console.config, console.clock.now(), limit=limit, offset=offset, filters=filters)
    return JSONResponse(await panel(console, "moderation_log", scope))


@guarded("staff")
async def blacklist(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    limit, offset = paging(request)
    scope = PanelScope(console.config, console.clock.now(), limit=limit, offset=offset)
    found = await panel(console, "blacklist", scope)
    may = RANK[session.role] >= RANK[_lift_role(console.config)]
    return JSONResponse({**found, "can_lift": may, "command": _lift_command()})


@guarded(_lift_role)
async def lift(request: Request, session: auth.Session) -> Response:
    """/解封 WXID, done by the command's code, audited as a console action (and in the moderation log)."""
    console = console_of(request)
    member_id = path_id(request, "member_id")
    _command, act = ACTIONS[LIFT]
    now = console.clock.now()
    async with console.store.unit() as conn:
        result, answer = await act(conn, MemberRef(session.member_id, session.member_id), member_id, now)
        await auth.audit(conn, session, "console." + LIFT, now, result=result, target_id=member_id, answer=answer)
    return JSONResponse({"result": result, "answer": answer})  # result "absent": was not on the list (audited too)


BLACKLIST = {
    "type": "object",
    "required": ["total", "rows", "can_lift"],
    "properties": {"total": {"type": "integer"}, "rows": ROWS, "can_lift": {"type": "boolean"}},
}
LIFTED = {"type": "object", "properties": {"result": {"type": "string"}, "answer": {"type": "string"}}}

SECTION = Section(
    "群管理",
    "/moderation",
    "违规记录与黑名单",
    routes=[
        page_route("/moderation", "moderation", "群管理"),
        Route("/api/moderation", moderation_log, methods=["GET"]),
        Route("/api/blacklist", blacklist, methods=["GET"]),
        Route("/api/blacklist/{member_id}/lift", lift, methods=["POST"]),
    ],
    paths={
        "/api/moderation": {
            "get": {
                "summary": "违规记录（警告、移出、拉黑、解封、撤销），最新的在前，可按成员和动作筛选",
                "security": READ,
                "parameters": [
                    query("member", "成员（微信 ID，或名字的一部分）"),
                    query("action", "动作：warn、remove、blacklist、rejoin、unblacklist、undo"),
                    *PAGING,
                ],
                "responses": answers("违规记录", PAGE),
            }
        },
        "/api/blacklist": {
            "get": {
                "summary": "黑名单（最新的在前）；can_lift：当前身份能否解封（与 /解封 同样的身份要求）",
                "security": READ,
                "parameters": PAGING,
                "responses": answers("黑名单", BLACKLIST),
            }
        },
        "/api/blacklist/{member_id}/lift": {
            "post": {
                "summary": "解封：与聊天指令 /解封 同样的代码和身份要求，记入审计（console.unblacklist）",
                "security": WRITE,
                "parameters": [
                    {
                        "name": "member_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
                    }
                ],
                "responses": answers("已解封（result ok），或本来不在黑名单上（result absent）", LIFTED, write=True),
            }
        },
    },
)
