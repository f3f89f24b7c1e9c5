"""The console's 审计 section: 聊天指令与后台操作记录."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("审计", "/audit", "聊天指令与后台操作记录")
