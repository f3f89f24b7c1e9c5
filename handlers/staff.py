"""Staff commands for running the groups from WeChat: help, points, tags and member profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from bot.commands import ROLE_NAMES, CommandContext, Failed, UsageError
from bot.events import Outgoing
from bot.optout import opted_out
from bot.playbook.errors import closest
from bot.registry import staff_command
from bot.store import dialect
from bot.store.tables import RoomMember
from handlers import playbook_status as status
from handlers.checkin import member_streak
from handlers.coupons import Coupon
from handlers.points import add_points, balance
from handlers.segments import CHINESE, member_lifecycle
from handlers.tags import MemberTag

if TYPE_CHECKING:
    from bot.admin import Admin
    from bot.events import MemberRef, MessageEvent
    from bot.reload import Reading

_tags = MemberTag.__table__
_coupons = Coupon.__table__
_room_members = RoomMember.__table__
STAGE_NAMES = {stage: name for name, stage in CHINESE.items()}
MAX_REASON = 50  # characters of a /加分 /扣分 reason: it goes into the ledger and the answer
MAX_TAG = 30  # characters of a tag name


@staff_command("帮助", aliases=("help",), role="member", usage="/帮助")
async def help_(ctx: CommandContext) -> str:
    """列出你能用的命令"""
    lines = [f"{c.usage} — {c.summary}" for c in ctx.visible_commands() if c.name != "帮助"]
    if not lines:
        return "这里没有你能用的管理命令～发送「签到」「/积分」试试吧"
    who = ROLE_NAMES.get(ctx.role, "成员")
    named = ctx.playbook_commands()
    extra = f"\n剧本里的命令：{' '.join(f'/{n}' for n in named)}" if named else ""
    return f"{who}可用的命令：\n" + "\n".join(lines) + extra


def _amount(ctx: CommandContext) -> int:
    """`isdecimal`, not `isdigit`: ፩ or ² are digits int() cannot read."""
    if not ctx.args or not ctx.args[0].lstrip("+").isdecimal():
        raise UsageError("请写出分数（正整数）")
    value = int(ctx.args.pop(0).lstrip("+"))
    if not 0 < value <= 100_000:
        raise UsageError("分数要在 1 到 100000 之间")
    return value


async def _adjust(ctx: CommandContext, sign: int) -> str:
    member = await ctx.target()
    amount = _amount(ctx)
    reason = " ".join(ctx.args) or ("店员加分" if sign > 0 else "店员扣分")
    if len(reason) > MAX_REASON:
        raise UsageError(f"原因最多 {MAX_REASON} 字（现在 {len(reason)} 字）")
    new = await add_points(
        ctx.conn, member.id, sign * amount, at=ctx.now(), reason=f"{reason}（{ctx.sender.id}）", playbook_id="staff"
    )
    if new is None:
        have = await balance(ctx.conn, member.id)
        ctx.result = "insufficient"
        return f"{member.name} 只有 {have} 分，不够扣 {amount} 分"
    verb = "加" if sign > 0 else "扣"
    return f"已给 {member.name} {verb} {amount} 分（{reason}），现在共 {new} 分"


@staff_command("加分", aliases=("addpoints",), role="staff", usage="/加分 @某人 分数 原因")
async def add(ctx: CommandContext) -> str:
    """给成员加积分（记入积分流水）"""
    return await _adjust(ctx, +1)


@staff_command("扣分", aliases=("subpoints",), role="staff", usage="/扣分 @某人 分数 原因")
async def subtract(ctx: CommandContext) -> str:
    """扣成员积分（不会扣成负数）"""
    return await _adjust(ctx, -1)


def _tag_name(ctx: CommandContext) -> str:
    if not ctx.args:
        raise UsageError("请写出标签名")
    name = " ".join(ctx.args)
    if len(name) > MAX_TAG:
        raise UsageError(f"标签名最多 {MAX_TAG} 字（现在 {len(name)} 字）")
    return name


@staff_command("标签", aliases=("tag",), role="staff", usage="/标签 @某人 标签名")
async def tag(ctx: CommandContext) -> str:
    """给成员打标签"""
    member = await ctx.target()
    name = _tag_name(ctx)
    row = {"member_id": member.id, "tag": name, "at": ctx.now()}
    await ctx.conn.execute(dialect.insert_ignore(ctx.conn, _tags), row)
    return f"已给 {member.name} 打上标签「{name}」"


@staff_command("去标签", aliases=("untag",), role="staff", usage="/去标签 @某人 标签名")
async def untag(ctx: CommandContext) -> str:
    """去掉成员的标签"""
    member = await ctx.target()
    name = _tag_name(ctx)
    gone = await ctx.conn.execute(delete(_tags).where(_tags.c.member_id == member.id, _tags.c.tag == name))
    if not gone.rowcount:
        ctx.result = "absent"
        return f"{member.name} 没有标签「{name}」"
    return f"已去掉 {member.name} 的标签「{name}」"


@staff_command("成员", aliases=("member",), role="staff", usage="/成员 @某人")
async def profile(ctx: CommandContext) -> str:
    """查看成员资料：积分、连续签到、标签、券、所在群（在群里问，完整资料私信给你）"""
    member = await ctx.target()
    points = await balance(ctx.conn, member.id)
    streak = await member_streak(ctx.fields(), member.id)
    stage = STAGE_NAMES.get(await member_lifecycle(ctx.fields(), member.id), "")
    summary = f"积分 {points}｜连续签到 {streak} 天｜{stage}"
    if ctx.event.room is None:
        return await _full_profile(ctx, member, summary)
    if not await ctx.is_friend(ctx.sender.id):  # everyone in the group reads the answer: no ids, tags, ...
        return f"{member.name}：{summary}（加我为好友后私聊我发送 /成员 微信ID，可看完整资料）"
    full = await _full_profile(ctx, member, summary)
    ctx.send("profile", [Outgoing(full, member=ctx.sender)])
    return f"{member.name}：{summary}（完整资料已私信给你）"


async def _full_profile(ctx: CommandContext, member: MemberRef, summary: str) -> str:
    tags = [r.tag for r in await ctx.conn.execute(select(_tags.c.tag).where(_tags.c.member_id == member.id))]
    coupons = (
        await ctx.conn.execute(
            select(func.count()).where(_coupons.c.member_id == member.id, _coupons.c.redeemed_at.is_(None))
        )
    ).scalar_one()
    rooms = (
        await ctx.conn.execute(
            select(func.count()).where(_room_members.c.member_id == member.id, _room_members.c.active.is_(True))
        )
    ).scalar_one()
    inviter = (
        await ctx.conn.execute(
            select(_room_members.c.inviter_id)
            .where(_room_members.c.member_id == member.id, _room_members.c.inviter_id.is_not(None))
            .limit(1)
        )
    ).scalar()
    quiet = "｜已退订" if await opted_out(ctx.conn, member.id) else ""
    return (
        f"{member.name}（{member.id}）\n{summary}{quiet}\n未用的券 {coupons} 张｜在 {rooms} 个群｜"
        f"邀请人 {inviter or '无'}\n标签：{'、'.join(tags) or '无'}"
    )


@staff_command("剧本", aliases=("playbooks",), role="staff", usage="/剧本")
async def playbooks(ctx: CommandContext) -> str:
    """列出剧本和开关状态"""
    running, tz = ctx.admin.running, ctx.config.tz
    lines = []
    for pb in running.playbooks:
        on = ctx.admin.is_on(pb)
        lines.append(f"{'✅' if on else '⛔'} {pb.id}  {pb.title}")
        if pb.path in running.fallbacks:
            lines.append(status.since(running.fallbacks[pb.path], tz, ctx.now()))
    told = status.left_out(running, tz, ctx.config.language)
    return "\n".join(["剧本（✅ 开 / ⛔ 关）：" if lines else "还没有剧本", *lines, *told])


async def _switch(ctx: CommandContext, enabled: bool) -> str:
    if len(ctx.args) != 1:
        raise UsageError("请写出一个剧本 ID（发送 /剧本 查看）")
    playbook_id = ctx.args[0]
    playbook = ctx.admin.running.get(playbook_id)
    if playbook is None:
        near = closest(playbook_id, [pb.id for pb in ctx.admin.running.playbooks])
        raise UsageError(f"没有剧本「{playbook_id}」" + (f"，是不是 {near}？" if near else ""))
    await ctx.admin.switch(playbook_id, enabled, by=ctx.sender.id)
    return f"已{'启用' if enabled else '停用'}剧本「{playbook.title}」（{playbook_id}），重启后也保持"


@staff_command("启用", aliases=("enable",), role="admin", usage="/启用 剧本ID")
async def enable(ctx: CommandContext) -> str:
    """打开一个剧本（不用改文件，重启后保持）"""
    return await _switch(ctx, True)


@staff_command("停用", aliases=("disable",), role="admin", usage="/停用 剧本ID")
async def disable(ctx: CommandContext) -> str:
    """关掉一个剧本（不用改文件，重启后保持）"""
    return await _switch(ctx, False)


async def _read_first(admin: Admin, event: MessageEvent) -> Reading | None:
    """Before the transaction: reading a big folder must not hold the database (other bots share it). Only read:
    the message may be a redelivery; the new set goes in once the event's transaction commits."""
    return await admin.read_playbooks(by=event.sender.id)


@staff_command("重载", aliases=("reload",), role="admin", usage="/重载", prepare=_read_first)
async def reload_(ctx: CommandContext) -> str:
    """重新读取剧本文件（有错误的文件用上次的好版本，没有就不运行）"""
    if ctx.prepared is None:
        raise Failed("这个机器人的剧本不是从文件夹读的，没法重载")
    before = {pb.id for pb in ctx.admin.running.playbooks}
    outcome = await ctx.admin.reload(ctx.prepared, f"/重载 by {ctx.sender.id}")
    language = ctx.config.language
    if not outcome.swapped:
        raise Failed(
            f"剧本有 {len(outcome.problems)} 处错误，没有重载，原来的剧本照常运行：\n"
            f"{status.listed(outcome.problems, language)}"
        )
    after = {pb.id for pb in outcome.playbooks.playbooks}
    added, removed = sorted(after - before), sorted(before - after)
    lines = [
        f"已重载：{outcome.count} 个剧本在运行",
        *([f"新增：{'、'.join(added)}"] if added else []),
        *([f"去掉：{'、'.join(removed)}"] if removed else []),
        *status.files(list(outcome.playbooks.fallbacks.values()), ctx.config.tz, language),
    ]
    if outcome.problems:
        lines += [f"{len(outcome.problems)} 处错误（改好后再发送 /重载）：", status.listed(outcome.problems, language)]
    if outcome.warnings:
        lines += [f"{len(outcome.warnings)} 条警告（剧本照常运行）：", status.listed(outcome.warnings, language)]
    if not outcome.clean:
        ctx.result = "partial"
    return "\n".join(lines)
