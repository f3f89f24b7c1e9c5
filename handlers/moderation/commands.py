"""Staff's moderation commands: /警告 /移出 /拉黑 /解封 /黑名单 /违规 /撤销 (MODERATION.md). Role-checked and audited
like every staff command (bot/commands.py); staff and the bot are never their target; all go in the moderation
log, so /违规, `qunguan audit` and /统计 show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.commands import ROLE_NAMES, CommandContext, Refused, UsageError, one_line
from bot.console.panels import console_action
from bot.events import MemberRef, Outgoing, RoomRef
from bot.registry import staff_command
from bot.store import dialect
from bot.store.tables import Member, RoomMember
from handlers.moderation.actions import WARNING_LIFE, removal
from handlers.moderation.blacklist import Blacklisted, is_blacklisted, lift, put_on
from handlers.moderation.log import ModerationEntry, clear_warnings, live_warnings, record

SHOWN = 10  # moderation log lines /违规 shows
LISTED = 50  # blacklist entries /黑名单 shows
ACTIONS = {
    "warn": "警告",
    "remove": "移出",
    "blacklist": "拉黑",
    "rejoin": "黑名单拦截",
    "unblacklist": "解封",
    "undo": "撤销",
}
_log = ModerationEntry.__table__
_blacklist = Blacklisted.__table__
_members = Member.__table__
_room_members = RoomMember.__table__


def _who(name: str, member_id: str) -> str:
    return f"{one_line(name)}（{member_id}）" if name and name != member_id else member_id


async def _moderated(ctx: CommandContext, verb: str) -> MemberRef:
    """The member a command acts on: never staff (refused, audited), never the bot (ctx.target)."""
    member = await ctx.target()
    role = ctx.config.role_of(member.id)
    if role is not None:
        raise Refused(f"{member.name} 是{ROLE_NAMES[role]}，不能被{verb}")
    return member


async def _anyone(ctx: CommandContext, verb: str) -> MemberRef:
    """As `_moderated`, but in a private chat also a WeChat id the bot never saw (a scammer another shop knows)."""
    if not ctx.mentioned and ctx.args and ctx.event.room is None and ctx.args[0] != ctx.bot_id:
        known = (await ctx.conn.execute(select(_members.c.id).where(_members.c.id == ctx.args[0]))).first()
        if known is None:
            member_id = ctx.args.pop(0)
            ctx.target_id = member_id
            return MemberRef(member_id, member_id)
    return await _moderated(ctx, verb)


@staff_command("警告", aliases=("warn",), role="staff", usage="/警告 @某人 原因")
async def warn_command(ctx: CommandContext) -> str:
    """警告一位成员（30 天内有效，跨群累计）"""
    member = await _moderated(ctx, "警告")
    reason = " ".join(ctx.args) or "店员警告"
    now = ctx.now()
    room = ctx.event.room
    await record(
        ctx.conn,
        "warn",
        member,
        at=now,
        room=room,
        reason=reason,
        staff_id=ctx.sender.id,
        expires_at=now + WARNING_LIFE,
    )
    count = await live_warnings(ctx.conn, member.id, now)
    return f"已警告 {member.name}（{reason}），{WARNING_LIFE.days} 天内第 {count} 次"


@staff_command("移出", aliases=("kick",), role="admin", usage="/移出 @某人 原因")
async def remove_command(ctx: CommandContext) -> str:
    """把成员移出本群（私聊时在最后写群名）"""
    member = await _moderated(ctx, "移出")
    room = await ctx.room()
    reason = " ".join(ctx.args) or "管理员移出"
    out = await removal(ctx, member, room, reason, staff_id=ctx.sender.id)
    if out is None:
        ctx.result = "absent"
        return f"{member.name} 已经不在「{room.topic}」里了（或正在被移出）"
    ctx.send("moderation", [out])
    return f"正在把 {member.name} 移出「{room.topic}」（{reason}）"


@staff_command("拉黑", aliases=("ban",), role="admin", usage="/拉黑 @某人 原因")
async def blacklist_command(ctx: CommandContext) -> str:
    """拉黑：移出所有群，以后进群也会被移出（私聊时写微信 ID）"""
    member = await _anyone(ctx, "拉黑")
    reason = " ".join(ctx.args) or "管理员拉黑"
    here = ctx.event.room.id if ctx.event.room else ctx.sender.id
    sent = await put_on(ctx, member, reason, staff_id=ctx.sender.id)
    ctx.send("moderation", [m for m in sent if m.remove or m.target_id != here])  # the answer tells them here
    return f"已拉黑 {member.name}（{reason}），正在移出 {sum(m.remove for m in sent)} 个群"


@staff_command("解封", aliases=("unban",), role="admin", usage="/解封 微信ID")
async def unblacklist_command(ctx: CommandContext) -> str:
    """把成员移出黑名单"""
    if ctx.mentioned:
        member = ctx.mentioned[0]
    elif ctx.args:
        member_id = ctx.args.pop(0)
        listed = await is_blacklisted(ctx.conn, member_id)
        member = MemberRef(member_id, listed.member_name if listed else member_id)
    else:
        raise UsageError("请写出要解封的微信 ID（/黑名单 里有）")
    ctx.target_id = member.id
    ctx.result, answer = await unblacklist(ctx.conn, ctx.sender, member, ctx.now(), room=ctx.event.room)
    return answer


@console_action("unblacklist", command="解封")
async def unblacklist_in_console(
    conn: AsyncConnection, staff: MemberRef, member_id: str, now: datetime
) -> tuple[str, str]:
    """/解封 from the console's 群管理 page."""
    listed = await is_blacklisted(conn, member_id)
    return await unblacklist(conn, staff, MemberRef(member_id, listed.member_name if listed else member_id), now)


async def unblacklist(
    conn: AsyncConnection, staff: MemberRef, member: MemberRef, now: datetime, *, room: RoomRef | None = None
) -> tuple[str, str]:
    """Off the blacklist, logged: the result for the audit log ("ok", or "absent": was not on it) and the answer."""
    if not await lift(conn, member.id):
        return "absent", f"{member.id} 不在黑名单上"
    await record(conn, "unblacklist", member, at=now, room=room, staff_id=staff.id)
    return "ok", f"已解封 {one_line(member.name or member.id)}"


@staff_command("黑名单", aliases=("banlist",), role="staff", usage="/黑名单")
async def blacklist_list(ctx: CommandContext) -> str:
    """看黑名单"""
    rows = (await ctx.conn.execute(select(_blacklist).order_by(_blacklist.c.at.desc()))).all()
    if not rows:
        return "黑名单是空的"
    tz = ctx.config.tz
    lines = [
        f"{_who(r.member_name, r.member_id)}：{one_line(r.reason) or '—'}（{dialect.aware(r.at).astimezone(tz):%m-%d}）"
        for r in rows[:LISTED]
    ]
    more = f"\n……还有 {len(rows) - LISTED} 人" if len(rows) > LISTED else ""
    return f"黑名单（{len(rows)} 人）：\n" + "\n".join(lines) + more


def entry_line(ctx: CommandContext, r: Any) -> str:
    """One moderation log row for staff: when, what, whom, where, why, by which playbook or staff member."""
    at = dialect.aware(r.at).astimezone(ctx.config.tz)
    where = f"「{one_line(r.room_topic or r.room_id)}」" if r.room_id else ""
    by = f"店员 {r.staff_id}" if r.staff_id else f"剧本 {r.playbook_id}" if r.playbook_id else "自动"
    what = ACTIONS.get(r.action, r.action)
    return f"{at:%m-%d %H:%M} {what} {_who(r.member_name, r.member_id)}{where}：{one_line(r.reason) or '—'} — {by}"


@staff_command("违规", aliases=("modlog",), role="staff", usage="/违规 [@某人]")
async def moderation_log(ctx: CommandContext) -> str:
    """最近的违规记录（或某位成员的）"""
    query = select(_log).order_by(_log.c.at.desc(), _log.c.id.desc()).limit(SHOWN)
    member = await ctx.target() if ctx.mentioned or ctx.args else None
    if member is not None:
        query = query.where(_log.c.member_id == member.id)
    rows = (await ctx.conn.execute(query)).all()
    lines = "\n".join(entry_line(ctx, r) for r in rows)
    if member is None:
        return f"最近的违规记录（{len(rows)} 条）：\n{lines}" if rows else "还没有违规记录"
    warnings = await live_warnings(ctx.conn, member.id, ctx.now())
    listed = "已拉黑" if await is_blacklisted(ctx.conn, member.id) else "未拉黑"
    head = f"{_who(member.name, member.id)}：有效警告 {warnings} 次，{listed}；最近记录 {len(rows)} 条"
    return f"{head}：\n{lines}" if rows else head


@staff_command("撤销", aliases=("pardon",), role="admin", usage="/撤销 @某人")
async def undo_command(ctx: CommandContext) -> str:
    """撤销处罚：清除警告、解除拉黑、邀请回被移出的群（需是机器人好友）"""
    member = await _anyone(ctx, "撤销")
    now = ctx.now()
    cleared = await clear_warnings(ctx.conn, member.id, now)
    lifted = await lift(ctx.conn, member.id)
    rooms = await _removed_from(ctx, member.id)
    parts = [f"清除警告 {cleared} 次"] if cleared else []
    parts += ["解除拉黑"] if lifted else []
    stranded = ""
    if rooms and await ctx.is_friend(member.id):
        ctx.send("moderation", [Outgoing("", room=room, member=member, invite=True) for room in rooms])
        parts.append(f"邀请回 {len(rooms)} 个群")
    elif rooms:
        topics = "」「".join(one_line(r.topic) for r in rooms)
        stranded = f"（他不是机器人的好友，没法邀请回群，请手动拉回「{topics}」）"
    if not (parts or stranded):
        ctx.result = "absent"
        return f"{member.name} 没有警告、拉黑或被移出的记录，不用撤销"
    await record(ctx.conn, "undo", member, at=now, room=ctx.event.room, reason="；".join(parts), staff_id=ctx.sender.id)
    return f"已撤销 {member.name} 的处罚" + (f"：{'，'.join(parts)}" if parts else "") + stranded


async def _removed_from(ctx: CommandContext, member_id: str) -> list[RoomRef]:
    """The managed groups moderation took the member out of, that they are not back in."""
    removed = select(_log.c.room_id).where(_log.c.member_id == member_id, _log.c.action.in_(("remove", "rejoin")))
    back = select(_room_members.c.room_id).where(_room_members.c.member_id == member_id, _room_members.c.active)
    ids = {r.room_id for r in await ctx.conn.execute(removed)} - {r.room_id for r in await ctx.conn.execute(back)}
    return [room for room in await ctx.managed_rooms() if room.id in ids]
