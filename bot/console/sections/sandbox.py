"""The console's 沙盒 section: 在浏览器里和机器人对话试玩法."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("沙盒", "/sandbox", "在浏览器里和机器人对话试玩法")
