"""The console's 会员 section: 查找会员：积分、券、标签、邀请."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("会员", "/members", "查找会员：积分、券、标签、邀请")
