"""The console's 优惠券 section: each batch's stock and what became of its codes, and the till: redeem a code as
/核销 does (the same code, role, refusals and answers; audited as console.redeem)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.console import actions, auth, coupon_reads, views
from bot.console.actions import OUTCOME, checked_text, may
from bot.console.guard import console_of, guarded, guarded_as, json_body
from bot.console.openapi import READ, WRITE, answers, text
from bot.console.section import Section
from bot.playbook.library import load_folder

MAX_CODE = 40  # characters of a code as typed at the till (spaces and dashes are ignored)
MAX_AMOUNT = 20


@guarded("staff")
async def page(request: Request, session: auth.Session) -> Response:
    can = may(request, session.role, "核销")
    return views.render(request, "coupons.html", session=session, title="优惠券", can_redeem=can)


async def _declared(request: Request) -> dict[str, coupon_reads.Declared]:
    """The batches the playbooks declare (read from their folder off the event loop; none without a folder)."""
    console = console_of(request)
    if console.playbooks is None:
        return {}
    tags = console.config.all_room_tags or None
    loaded = await asyncio.to_thread(load_folder, console.playbooks, room_tags=tags)
    found = loaded.resources.get("coupons", {})
    return {batch_id: coupon_reads.Declared(batch.title, batch.stock) for batch_id, batch in found.items()}


@guarded("staff")
async def list_batches(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    declared = await _declared(request)
    now = console.clock.now()
    found = await console.reader.run(lambda conn: coupon_reads.batches(conn, declared, now))
    return JSONResponse({"batches": found, "can_redeem": may(request, session.role, "核销")})


@guarded_as("核销")
async def redeem(request: Request, session: auth.Session) -> Response:
    body = await json_body(request, 4096)
    code = checked_text(body.get("code"), "券码", max_length=MAX_CODE)
    amount = checked_text(body.get("amount"), "消费金额", max_length=MAX_AMOUNT, required=False).strip() or None
    args = f"{code} {amount or ''}".strip()
    return await actions.run(request, session, "核销", "redeem", args, code=code, amount=amount)


_COUNT = {"type": "integer", "minimum": 0}
# A code with a letter or digit in it: spaces and dashes are ignored, and /核销's usage refuses nothing else.
_CODE = "^[^\\u0000-\\u001f\\u007f]*[A-Za-z0-9][^\\u0000-\\u001f\\u007f]*$"
_BATCHES: dict[str, Any] = {
    "type": "object",
    "required": ["batches"],
    "properties": {
        "can_redeem": {"type": "boolean"},
        "batches": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "issued", "claimed", "redeemed", "expired"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "declared": {"type": "boolean"},
                    "stock": {"type": ["integer", "null"]},
                    "left": {"type": ["integer", "null"]},
                    "issued": _COUNT,
                    "claimed": _COUNT,
                    "redeemed": _COUNT,
                    "expired": _COUNT,
                },
            },
        },
    },
}
_REDEEM = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {**text(MAX_CODE, min_length=1), "pattern": _CODE},
        "amount": text(MAX_AMOUNT),
    },
}

PATHS = {
    "/api/coupons": {
        "get": {
            "summary": "Coupon batches: stock declared and left, codes issued, claimed in drops, redeemed, expired",
            "security": READ,
            "responses": answers("the batches", _BATCHES),
        }
    },
    "/api/coupons/redeem": {
        "post": {
            "summary": "Redeem a code at the till as /核销 does (its role and answers: 核销成功, already, expired, "
            "unknown; an amount is recorded as the customer's order); audited console.redeem",
            "security": WRITE,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _REDEEM}}},
            "responses": answers("what /核销 answers", OUTCOME, write=True),
        }
    },
}

SECTION = Section(
    "优惠券",
    "/coupons",
    "批次库存与核销",
    routes=[
        Route("/coupons", page),
        Route("/api/coupons", list_batches),
        Route("/api/coupons/redeem", redeem, methods=["POST"]),
    ],
    paths=PATHS,
)
