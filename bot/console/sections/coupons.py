"""The console's 优惠券 section: 批次库存与核销."""

from __future__ import annotations

from bot.console.section import Section

SECTION = Section("优惠券", "/coupons", "批次库存与核销")
