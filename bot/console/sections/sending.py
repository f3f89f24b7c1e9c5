"""The console's 发送 section: 发送队列、限速与失败."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("发送", "/sending", "发送队列、限速与失败")
