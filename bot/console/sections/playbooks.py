"""The console's 玩法 section: 开关、编辑、测试、版本与回滚."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("玩法", "/playbooks", "开关、编辑、测试、版本与回滚")
