"""What staff read about the running playbooks (/剧本, /重载): which files run a last good version or none of
theirs, and the problems to fix, in the configured language (bot/i18n)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.i18n import problem_text, translate
from bot.playbook.errors import Problem
from bot.playbook.fallback import Fallback
from bot.playbook.library import PlaybookSet
from bot.reload import fallback_lines
from bot.store.dialect import aware

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
