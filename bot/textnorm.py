"""How member text is folded before matching: what looks the same to a person matches."""

from __future__ import annotations

import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u180e"), None)


def fold(text: str) -> str:
    """Full-width to half-width (NFKC), invisible characters dropped, trimmed."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).strip()


def normalize(text: str) -> str:
    """`fold`, then case-folded: the key exact texts, keywords and commands match on."""
    return fold(text).casefold()


def split_command(normalized: str) -> tuple[str, list[str]] | None:
    """'/积分 a b' -> ('积分', ['a', 'b']); None when the text is not a slash command."""
    if not normalized.startswith("/") or len(normalized) < 2 or normalized[1].isspace():
        return None
    name, *args = normalized[1:].split()
    return name, args
