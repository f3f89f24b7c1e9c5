"""The console's 会员 section: find a member by name or WeChat id and read their whole card; give or take points
and tags as /加分 /扣分 /标签 /去标签 do (the same code and role, audited as console.<action>); and, for admins,
erase a member as `qunguan forget` does, after typing their id to confirm."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.console import actions, auth, member_reads, views
from bot.console.actions import OUTCOME, checked_text, may, member_id_of
from bot.console.guard import BadInput, console_of, error, guarded, guarded_as, json_body, text_param
from bot.console.openapi import READ, WRITE, answers, text
from bot.console.section import Section
from bot.forget import Who, forget, summary
from bot.registry import RANK

MAX_QUERY = 50  # characters of a search
MAX_REASON = 50  # as /加分's reason (handlers/points.py checks it again, with its own words)
MAX_TAG = 30  # as /标签's tag name (handlers/tags.py checks it again)
ACTIONS = {"add_points": "加分", "subtract_points": "扣分", "tag": "标签", "untag": "去标签"}


@guarded("staff")
async def page(request: Request, session: auth.Session) -> Response:
    return views.render(request, "members.html", session=session, title="会员")


@guarded("staff")
async def find(request: Request, session: auth.Session) -> Response:
    q = text_param(request, "q", max_length=MAX_QUERY)
    q = q.strip() if q else None
    found = await console_of(request).reader.run(lambda conn: member_reads.search(conn, q))
    return JSONResponse({"members": found})


@guarded("staff")
async def card(request: Request, session: auth.Session) -> Response:
    member_id = member_id_of(request)
    console = console_of(request)
    now = console.clock.now()
    found = await console.reader.run(lambda conn: member_reads.member(conn, member_id, console.config, now))
    if found is None:
        return error("没有这个成员", 404)
    can = {action: may(request, session.role, command) for action, command in ACTIONS.items()}
    return JSONResponse({**found, "can": {**can, "forget": RANK[session.role] >= RANK["admin"]}})


def _amount(body: dict[str, Any]) -> int:
    amount = body.get("amount")
    if isinstance(amount, float) and amount.is_integer():  # 10.0 is JSON's integer 10
        amount = int(amount)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise BadInput("分数应是整数")
    return amount


async def _points(request: Request, session: auth.Session, action: str, sign: str) -> Response:
    body = await json_body(request, 4096)
    amount = _amount(body)
    reason = checked_text(body.get("reason"), "原因", max_length=MAX_REASON, required=False).strip()
    member_id = member_id_of(request)
    args = f"{member_id} {sign}{amount} {reason}".strip()
    return await actions.run(
        request, session, ACTIONS[action], action, args, member_id=member_id, amount=amount, reason=reason
    )


@guarded_as("加分")
async def add_points(request: Request, session: auth.Session) -> Response:
    return await _points(request, session, "add_points", "+")


@guarded_as("扣分")
async def subtract_points(request: Request, session: auth.Session) -> Response:
    return await _points(request, session, "subtract_points", "-")


async def _tag(request: Request, session: auth.Session, action: str) -> Response:
    body = await json_body(request, 4096)
    name = checked_text(body.get("name"), "标签名", max_length=MAX_TAG)
    member_id = member_id_of(request)
    return await actions.run(
        request, session, ACTIONS[action], action, f"{member_id} {name}", member_id=member_id, name=name
    )


@guarded_as("标签")
async def tag(request: Request, session: auth.Session) -> Response:
    return await _tag(request, session, "tag")


@guarded_as("去标签")
async def untag(request: Request, session: auth.Session) -> Response:
    return await _tag(request, session, "untag")


@guarded("admin")
async def erase(request: Request, session: auth.Session) -> Response:
    """`qunguan forget`'s erasure, once the member's WeChat id is typed again (a slip of the finger erases no one)."""
    member_id = member_id_of(request)
    body = await json_body(request, 4096)
    if checked_text(body.get("confirm"), "确认", max_length=actions.MAX_ID, required=False) != member_id:
        return error("请输入这位成员的微信 ID 确认遗忘", 409)
    console = console_of(request)
    now = console.clock.now()
    async with console.store.unit() as conn:
        done = await forget(conn, member_id, at=now, by=Who(session.member_id, session.role, command="console.forget"))
    if not done.found:
        return error("没有这个成员的资料可遗忘" + ("（已经遗忘过）" if done.already else ""), 404)
    return JSONResponse({"result": "ok", "text": summary(done), "pseudonym": done.pseudonym})


_ID = {"name": "member_id", "in": "path", "required": True, "schema": text(actions.MAX_ID, min_length=1)}
# A tag name with something besides spaces in it (/标签's usage refuses a blank one).
_NAME = "^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$"
_DT = {"type": ["string", "null"]}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_POINTS = _body(
    {
        "amount": {"type": "integer", "minimum": 1, "maximum": 100000},
        "reason": text(MAX_REASON),
    },
    ["amount"],
)
_TAG = _body({"name": {"type": "string", "minLength": 1, "maxLength": MAX_TAG, "pattern": _NAME}}, ["name"])
_FOUND = {
    "type": "object",
    "required": ["members"],
    "properties": {
        "members": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "points", "groups"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "points": {"type": "integer"},
                    "groups": {"type": "integer"},
                    "last_active": _DT,
                },
            },
        }
    },
}
_CARD = {
    "type": "object",
    "required": ["id", "name", "points", "stage", "groups", "tags", "ledger", "coupons", "traces", "can"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "points": {"type": "integer"},
        "stage": {"type": "string"},
        "opted_out": _DT,
        "groups": {"type": "array"},
        "invitees": {"type": "array"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "ledger": {"type": "array"},
        "checkins": {"type": "array"},
        "coupons": {"type": "array"},
        "moderation": {"type": "object"},
        "traces": {"type": "array"},
        "can": {"type": "object"},
    },
}


def _write(summary_text: str, body: dict[str, Any], more: dict[str, str] | None = None) -> dict[str, Any]:
    refusals = {"404": "没有这个成员", **(more or {})}
    return {
        "post": {
            "summary": summary_text,
            "security": WRITE,
            "parameters": [_ID],
            "requestBody": body,
            "responses": answers("what the chat command answers", OUTCOME, write=True, more=refusals),
        }
    }


PATHS = {
    "/api/members": {
        "get": {
            "summary": "Members whose name or WeChat id contains q (none: the latest active), at most 50",
            "security": READ,
            "parameters": [{"name": "q", "in": "query", "required": False, "schema": text(MAX_QUERY)}],
            "responses": answers("the members found", _FOUND),
        }
    },
    "/api/members/{member_id}": {
        "get": {
            "summary": "A member's card: groups, stage, tags, points ledger, check-ins, coupons, warnings, opt-out, "
            "inviter and invitees, recent traces; `can`: what this session may do to them",
            "security": READ,
            "parameters": [_ID],
            "responses": answers("the member", _CARD, more={"404": "没有这个成员"}),
        }
    },
    "/api/members/{member_id}/add-points": _write("/加分 (its role and code; audited console.add_points)", _POINTS),
    "/api/members/{member_id}/subtract-points": _write(
        "/扣分 (its role and code; never below zero; audited console.subtract_points)", _POINTS
    ),
    "/api/members/{member_id}/tag": _write("/标签 (its role and code; audited console.tag)", _TAG),
    "/api/members/{member_id}/untag": _write("/去标签 (its role and code; audited console.untag)", _TAG),
    "/api/members/{member_id}/forget": _write(
        "Erase the member as `qunguan forget` does (admin; `confirm` must repeat the id; audited console.forget)",
        _body({"confirm": text(actions.MAX_ID)}, ["confirm"]),
        {"409": "确认的微信 ID 不是这位成员的"},
    ),
}

SECTION = Section(
    "会员",
    "/members",
    "查找会员：积分、券、标签、邀请",
    routes=[
        Route("/members", page),
        Route("/api/members", find),
        Route("/api/members/{member_id}", card),
        Route("/api/members/{member_id}/add-points", add_points, methods=["POST"]),
        Route("/api/members/{member_id}/subtract-points", subtract_points, methods=["POST"]),
        Route("/api/members/{member_id}/tag", tag, methods=["POST"]),
        Route("/api/members/{member_id}/untag", untag, methods=["POST"]),
        Route("/api/members/{member_id}/forget", erase, methods=["POST"]),
    ],
    paths=PATHS,
)
