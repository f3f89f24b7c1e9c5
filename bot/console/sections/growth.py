"""The console's 增长 section: 积分兑换、拼团、RFM."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("增长", "/growth", "积分兑换、拼团、RFM")
