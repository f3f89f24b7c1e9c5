"""/后台 (/console): a one-time link to the web console (bot/console/), only in a private chat."""

from __future__ import annotations

from bot.commands import CommandContext
from bot.console.auth import issue_link
from bot.registry import staff_command


@staff_command("后台", aliases=("console",), role="staff", usage="/后台")
async def console_link(ctx: CommandContext) -> str:
    """私聊获取后台的一次性登录链接"""
    if ctx.event.room is not None:  # a link posted in a group is anybody's
        ctx.result = "refused"
        return "请私聊我发送 /后台"
    link = await issue_link(ctx.conn, ctx.config, ctx.sender.id, ctx.now())
    if link is None:  # the role check let a staff member in: only a config change in between can get here
        ctx.result = "refused"
        return "你不在工作人员名单里，不能登录后台"
    return f"后台登录链接（10 分钟内有效，只能用一次，请勿转发）：\n{link}"
