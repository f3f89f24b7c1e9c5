"""Playbook admin for staff: /剧本 lists the playbooks and their switches, /启用 and /停用 switch one (kept across
restarts), /重载 re-reads the folder. The answers say which files run a last good version or none of theirs, and
the problems to fix, in the configured language (bot/i18n)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from bot.commands import CommandContext, Failed, UsageError
from bot.i18n import problem_text, translate
from bot.playbook.errors import Problem, closest
from bot.playbook.fallback import Fallback
from bot.playbook.library import PlaybookSet
from bot.registry import staff_command
from bot.reload import fallback_lines
from bot.store.dialect import aware

if TYPE_CHECKING:
    from bot.admin import Admin
    from bot.events import MessageEvent
    from bot.reload import Reading

SHOWN = 5  # problems in one answer: a phone screen; `qunguan check` lists them all


def listed(problems: list[Problem], language: str) -> str:
    shown = [problem_text(p, language) for p in problems[:SHOWN]]
    more = len(problems) - len(shown)
    return "\n".join([*shown, *([f"……还有 {more} 处，运行 qunguan check 查看全部"] if more > 0 else [])])


def files(fallbacks: list[Fallback], tz: tzinfo, language: str) -> list[str]:
    """One line for each file that does not run as written (❌: nothing of it runs), one for what another file
    overrides in the version that runs."""
    out = []
    for fallback in fallbacks:
        head, *notes = fallback_lines(fallback, tz)
        out.append(f"{'⚠️' if fallback.running else '❌'} {translate(head, language)}")
        out += [f"⚠️ {translate(note, language)}" for note in notes]
    return out


def since(fallback: Fallback, tz: tzinfo, now: datetime) -> str:
    """Under a playbook in /剧本: it runs from a last good version, of when."""
    assert fallback.version is not None
    at = aware(fallback.version.at).astimezone(tz)
    when = f"{at:%m-%d %H:%M}" if at.year == now.astimezone(tz).year else f"{at:%Y-%m-%d %H:%M}"
    return f"  ⚠️ 用的是 {when} 的旧版本：文件有错误"


def left_out(playbooks: PlaybookSet, tz: tzinfo, language: str) -> list[str]:
    """The files of which nothing runs, and the problems (for /剧本)."""
    out = files([f for f in playbooks.fallbacks.values() if not f.running], tz, language)
    if playbooks.problems:
        out += [f"{len(playbooks.problems)} 处错误（改好后发送 /重载）：", listed(playbooks.problems, language)]
    return out


@staff_command("剧本", aliases=("playbooks",), role="staff", usage="/剧本")
async def playbooks(ctx: CommandContext) -> str:
    """列出剧本和开关状态"""
    running, tz = ctx.admin.running, ctx.config.tz
    lines = []
    for pb in running.playbooks:
        on = ctx.admin.is_on(pb)
        lines.append(f"{'✅' if on else '⛔'} {pb.id}  {pb.title}")
        if pb.path in running.fallbacks:
            lines.append(since(running.fallbacks[pb.path], tz, ctx.now()))
    told = left_out(running, tz, ctx.config.language)
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
            f"{listed(outcome.problems, language)}"
        )
    after = {pb.id for pb in outcome.playbooks.playbooks}
    added, removed = sorted(after - before), sorted(before - after)
    lines = [
        f"已重载：{outcome.count} 个剧本在运行",
        *([f"新增：{'、'.join(added)}"] if added else []),
        *([f"去掉：{'、'.join(removed)}"] if removed else []),
        *files(list(outcome.playbooks.fallbacks.values()), ctx.config.tz, language),
    ]
    if outcome.problems:
        lines += [f"{len(outcome.problems)} 处错误（改好后再发送 /重载）：", listed(outcome.problems, language)]
    if outcome.warnings:
        lines += [f"{len(outcome.warnings)} 条警告（剧本照常运行）：", listed(outcome.warnings, language)]
    if not outcome.clean:
        ctx.result = "partial"
    return "\n".join(lines)
