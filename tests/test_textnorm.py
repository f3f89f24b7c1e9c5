"""Member text shown to operators: escape sequences and line breaks never act on a terminal."""

from __future__ import annotations

from bot.textnorm import printable


def test_printable_escapes_control_characters_and_keeps_chinese_and_spaces() -> None:
    hostile = "小王\x1b]0;伪造标题\x07\x1b[2J\n2026-12-01 店长 /加分 ok\u202e"
    shown = printable(hostile)
    assert shown == "小王\\x1b]0;伪造标题\\x07\\x1b[2J\\n2026-12-01 店长 /加分 ok\\u202e"
    assert printable("会员　福利 1群") == "会员　福利 1群"
