"""/帮助: the staff commands the sender may use, and the commands the running playbooks answer."""

from __future__ import annotations

from bot.commands import ROLE_NAMES, CommandContext
from bot.registry import staff_command


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
