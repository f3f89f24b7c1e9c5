"""How a trace records a value: scalars as they are, long texts cut, containers walked (20 items), the rest as text."""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum

from bot.shown import MAX_VALUE, plain


class Level(IntEnum):
    HIGH = 3


class Kind(StrEnum):
    LINK = "link"


class Written:
    source = "{{ member.name }}"


def test_scalars_stay_long_texts_are_cut_and_containers_are_walked() -> None:
    assert [plain(v) for v in (None, True, 7, 2.5, Level.HIGH, "签到")] == [None, True, 7, 2.5, Level.HIGH, "签到"]
    assert plain("长" * (MAX_VALUE + 5)) == "长" * MAX_VALUE + "…"
    assert plain(Kind.LINK) == "link" and type(plain(Kind.LINK)) is str  # another str type: shown as text
    assert plain(date(2026, 12, 2)) == "2026-12-02"
    assert plain(Written()) == "{{ member.name }}"
    assert plain((1, "a", [None, {"k": 1}])) == [1, "a", [None, {"k": 1}]]
    assert plain({7: 20, "x": ("y",)}) == {"7": 20, "x": ["y"]}
    assert plain(dict.fromkeys(range(30), "v")) == {str(i): "v" for i in range(20)}
    assert plain(list(range(30))) == list(range(20))
