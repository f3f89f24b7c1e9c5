"""Speaking: `reply`, `say` (to a room) and `dm` (private, friends only); a coupon code is never posted in a group."""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import StrictBool

from bot.context import MEMBER_VARS, RunContext, RunError, SkipSend
from bot.events import MemberRef, RoomRef
from bot.optout import opted_out
from bot.playbook.templates import Text
from bot.playbook.types import Duration, Params, TextField
from bot.registry import action

log = logging.getLogger("qunguan.messaging")

# What the group hears instead of a text it must not read (the @-mention names the member).
CODE_HINT = "有一张券要私信发给你：请先加我为好友，再私聊我发送「我的券」查看券码～"
PRIVATE_HINT = "有一条消息要私信发给你，请先加我为好友～"


async def deliver_privately(
    ctx: RunContext, target: MemberRef, text: str, *, hint: str | None, expires: timedelta | None
) -> None:
    """To a friend privately. Otherwise, per `dm_fallback`, an @-mention in the current group with the text,
    or with `hint` when the text is not for the group's eyes; or nothing (logged)."""
    if await ctx.is_friend(target.id):
        ctx.send(text, member=target, expires=expires)
    elif ctx.config.dm_fallback == "mention" and ctx.room is not None:
        ctx.send(hint or text, room=ctx.room, mentions=(target,), expires=expires)
    else:
        log.info("dm to %s skipped: not the bot's friend (playbook %s)", target.id, ctx.playbook.id)


def carries_code(ctx: RunContext, source: Text, text: str) -> bool:
    """A text that shows a code (`{{ coupon.code }}`, `{{ c.code }}` of a wallet), or any code the run holds."""
    if any(name.endswith(".code") for name in source.filled):
        return True
    held: list[str] = []
    coupon = ctx.vars.get("coupon")
    if isinstance(coupon, dict) and coupon.get("code"):
        held.append(coupon["code"])
    for name in MEMBER_VARS:
        view = ctx.vars.get(name)
        if isinstance(view, dict):
            held += [c["code"] for c in view.get("wallet", ())]
    return any(code in text for code in held)


class ReplyParams(Params):
    text: TextField
    expires: Duration | None = None  # not sent at all if it cannot leave within this (quiet hours, a pause)
    mention: StrictBool = False


@action("reply", schema=ReplyParams, primary="text")
async def reply(ctx: RunContext, p: ReplyParams) -> None:
    """Answer where the event happened; `mention: true` @-mentions the sender in a group.
    A text carrying a coupon code goes to the sender privately instead: a group is no place for codes."""
    text = await ctx.render(p.text)
    member = ctx.member
    if ctx.room is not None and member is not None and carries_code(ctx, p.text, text):
        await deliver_privately(ctx, member, text, hint=CODE_HINT, expires=p.expires)
    elif ctx.room is not None:
        ctx.send(text, room=ctx.room, mentions=(member,) if p.mention and member else (), expires=p.expires)
    elif member is not None:
        ctx.send(text, member=member, expires=p.expires)
    else:
        raise RunError("nowhere to reply: this event has no conversation")


class SayParams(Params):
    text: TextField
    expires: Duration | None = None
    room: str | None = None


async def find_room(ctx: RunContext, name: str) -> RoomRef | None:
    """A managed (bound) group by its id, topic or config.yaml name: a look-alike with that topic is never it."""
    rooms = await ctx.rooms_named(name)
    return rooms[0] if rooms else None


@action("say", schema=SayParams, primary="text")
async def say(ctx: RunContext, p: SayParams) -> None:
    """Post to a room by topic or id (default: the current one)."""
    room = ctx.room if p.room is None else await find_room(ctx, p.room)
    if room is None:
        raise RunError(f"no bound group '{p.room}' is known to the bot" if p.room else "this event has no room")
    text = await ctx.render(p.text)
    if carries_code(ctx, p.text, text):
        raise SkipSend("the text carries a coupon code, and a group is no place for one: use 'dm'")
    ctx.send(text, room=room, expires=p.expires)


class DmParams(Params):
    text: TextField
    expires: Duration | None = None
    to: str = "member"
    private: StrictBool = False  # never posted in a group, not even as the dm_fallback @-mention


@action("dm", schema=DmParams, primary="text", member_directed=True)
async def dm(ctx: RunContext, p: DmParams) -> None:
    """Private message. WeChat only delivers to friends: otherwise @-mention in the room or skip; a text with a
    coupon code, or marked `private: true`, never goes to the room: the @-mention asks to add the bot instead.
    A member who opted out (退订) gets none."""
    target = ctx.target(p.to)
    if await opted_out(ctx.conn, target.id):
        log.info("dm to %s skipped: opted out (playbook %s)", target.id, ctx.playbook.id)
        return
    text = await ctx.render(p.text)
    hint = CODE_HINT if carries_code(ctx, p.text, text) else PRIVATE_HINT if p.private else None
    await deliver_privately(ctx, target, text, hint=hint, expires=p.expires)
