"""Birthdays as members write them (12-25, 12/25, 12月25日, 1225, 1990年12月25日) read to one form, MM-DD, and the
birthdays a local day celebrates (Feb 29 falls on Feb 28 in other years). No year is kept: a greeting needs none."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from bot.textnorm import fold

# An optional year, then month and day: 12-25, 12/25, 12.25, 12 25, 12月25日, 1990年12月25号, 1990-12-25.
_SPELLED = re.compile(r"^(?:\d{4}\s*[-/.年]\s*)?(\d{1,2})\s*(?:[-/.]|月|\s)\s*(\d{1,2})\s*[日号]?$")
_COMPACT = re.compile(r"^(?:\d{4})?(\d{2})(\d{2})$")  # 1225, 19901225
_TRAILING = "。.!！~～ "

HOW = "请按「月-日」写，例如 12-25"


@dataclass(frozen=True)
class BadValue:
    """What a member typed that a field refuses, and the answer that says why (Chinese, for the member)."""

    error: str


def parse_birthday(typed: str) -> str | BadValue:
    """'MM-DD', or why not. Only digits reach the answer: what a member typed is never echoed back."""
    text = fold(typed).rstrip(_TRAILING)
    match = _SPELLED.match(text) or _COMPACT.match(text)
    if match is None:
        return BadValue(f"看不懂这个日期，{HOW}")
    month, day = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:  # 2000: Feb 29 exists
        return BadValue(f"没有 {month}月{day}日 这一天，{HOW}")
    return f"{month:02d}-{day:02d}"


def spoken(month_day: str) -> str:
    """'12-25' as members read it: 12月25日."""
    month, day = month_day.split("-")
    return f"{int(month)}月{int(day)}日"


def birthdays_on(day: date) -> list[str]:
    """The stored birthdays a local day celebrates: its own, and Feb 29 on Feb 28 of a year without one."""
    days = [f"{day.month:02d}-{day.day:02d}"]
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        days.append("02-29")
    return days
