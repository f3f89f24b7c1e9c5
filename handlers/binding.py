"""/绑定 and /解绑: an owner or admin binds the group they are in, so the bot manages it by its id, whatever
it is called later (bot/rooms.py). /绑定 is the one staff command heard in a group nobody bound."""

from __future__ import annotations

from bot.commands import CommandContext, Failed, UsageError
from bot.events import RoomRef
from bot.registry import staff_command


def _here(ctx: CommandContext, verb: str) -> RoomRef:
    if ctx.event.room is None:
        raise UsageError(f"请在要{verb}的群里发送 /{verb}")
    return ctx.event.room


@staff_command("绑定", aliases=("bind",), role="admin", usage="/绑定（在要管理的群里发）", unbound=True)
async def bind_here(ctx: CommandContext) -> str:
    """让机器人管理这个群（按群 ID 认群，改群名也不影响）"""
    room = _here(ctx, "绑定")
    if ctx.config.room_by_id(room.id) is not None:
        return "本群已在 config.yaml 里按群 ID 绑定，不用再绑"
    twins = [r for r in await ctx.rooms_named(room.topic) if r.id != room.id] if room.topic else []
    binding = await ctx.admin.bind(room, by=ctx.sender.id)
    if binding is None:
        return "本群已经绑定过了，机器人正在管理这里"
    entry = ctx.config.candidate(binding.entry_topic)
    tags = f"，群标签：{'、'.join(entry.tags)}" if entry is not None and entry.tags else ""
    warning = (
        f"\n注意：已经有别的群叫「{room.topic}」并由机器人管理，请确认这里不是仿冒群（不是就发送 /解绑）"
        if twins
        else ""
    )
    return f"已绑定本群「{room.topic}」：机器人从现在起管理这个群，改群名也不影响{tags}{warning}"


@staff_command("解绑", aliases=("unbind",), role="admin", usage="/解绑（在群里发）")
async def unbind_here(ctx: CommandContext) -> str:
    """不再管理这个群（之后发 /绑定 可恢复）"""
    room = _here(ctx, "解绑")
    if ctx.config.room_by_id(room.id) is not None:
        raise Failed("本群是在 config.yaml 里按群 ID 绑定的，要解绑请把它从 config.yaml 的 rooms: 里删掉")
    if not await ctx.admin.unbind(room.id):
        raise Failed("本群没有用 /绑定 绑定过，不用解绑")
    return f"已解绑本群「{room.topic}」：机器人不再管理这里。要恢复，请店主或管理员在群里发送 /绑定"
