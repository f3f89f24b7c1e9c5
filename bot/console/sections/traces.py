"""The console's 运行记录 section: 每个事件触发了什么、为什么没触发."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("运行记录", "/traces", "每个事件触发了什么、为什么没触发")
