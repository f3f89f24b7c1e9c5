"""The console's 仪表盘 section: 加入、活跃、签到、券与召回的效果."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("仪表盘", "/dashboard", "加入、活跃、签到、券与召回的效果")
