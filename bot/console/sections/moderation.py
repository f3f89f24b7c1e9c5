"""The console's 群管理 section: 违规记录与黑名单."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("群管理", "/moderation", "违规记录与黑名单")
