"""A console action that is a chat command's (加分, 扣分, 标签, 去标签, 核销): it runs the command's own core
(bot/staff_actions.py) in one unit with its audit row, so the page and the chat share every rule, refusal and
answer. The route's role comes from `guard.guarded_as(command)`, `commands:` overrides included."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.commands import AUDITED, Refused, UsageError
from bot.console import auth
from bot.console.guard import BadInput, command_role, console_of, error
from bot.registry import RANK
from bot.staff_actions import ACTIONS, Actor, Outcome, member_ref
from bot.store.savepoint import savepoint

log = logging.getLogger("qunguan.console")
MAX_ID = 200  # characters of a WeChat id in a path


def checked_text(value: Any, name: str, *, max_length: int, required: bool = True) -> str:
    """A text field of a JSON body: a string, within `max_length`, without control characters."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadInput(f"{name} 应是文字")
    if len(value) > max_length:
        raise BadInput(f"{name} 太长（最多 {max_length} 个字）")
    if any(ord(ch) < 32 or ch == "\x7f" or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise BadInput(f"{name} 含有控制字符")
    return value


def member_id_of(request: Request) -> str:
    return checked_text(request.path_params["member_id"], "成员 ID", max_length=MAX_ID)


def may(request: Request, role: str, command: str) -> bool:
    """Whether a session of `role` may do what chat command `command` does on this shop."""
    return RANK[role] >= RANK[command_role(console_of(request).config, command)]


async def run(
    request: Request,
    session: auth.Session,
    command: str,
    action: str,
    args: str,
    *,
    member_id: str | None = None,
    **options: Any,
) -> Response:
    """Run chat command `command`'s core (on `member_id` when it is about a member), audited as `console.<action>`
    with `args`. 200 {result, text} for what the command answers (ok, or its own outcome: insufficient, already
    ...), 422 {error} for input the command's usage refuses, 404 for an unknown member."""
    console = console_of(request)
    now = console.clock.now()
    actor = Actor(session.member_id, console.config, now)
    async with console.store.unit() as conn:
        if member_id is not None:
            member = await member_ref(conn, member_id)
            if member is None:
                return error("没有这个成员", 404)
            options["member"] = member
        try:
            async with savepoint(conn):
                done = await ACTIONS[command](conn, actor, **options)
        except UsageError as exc:
            done = Outcome("usage", str(exc), member_id)
        except Refused as exc:
            done = Outcome("refused", str(exc), member_id)
        except Exception:
            log.exception("console %s by %s failed", action, session.member_id)
            done = Outcome("error", f"{command}出错了，已记录，请稍后再试", member_id)
        await auth.audit(
            conn,
            session,
            f"console.{action}",
            now,
            args=args[:AUDITED],
            target_id=done.target_id,
            result=done.result,
            answer=done.text[:AUDITED],
        )
    if done.result == "usage":
        return error(done.text, 422)
    if done.result == "error":
        return error(done.text, 500)
    return JSONResponse({"result": done.result, "text": done.text})


OUTCOME = {
    "type": "object",
    "required": ["result", "text"],
    "properties": {"result": {"type": "string"}, "text": {"type": "string"}},
}
