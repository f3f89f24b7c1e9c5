"""How member text is folded before matching: what looks the same to a person matches."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Character classes, not str.translate tables: a regex passes over a Chinese line in a quarter of the time.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u180e]")
# One event's text is folded by several stages (optout, moderation, commands, triggers, `message.url`): the last
# texts folded are kept, so each is worked out once. A handful is enough; a flood of distinct texts only evicts.
# Only chat-sized texts are kept: a megabyte paste is folded again rather than held after its event.
_RECENT = 64
_KEPT_UP_TO = 4096  # characters


def fold(text: str) -> str:
    """Full-width to half-width (NFKC), invisible characters dropped, trimmed."""
    return _fold(text) if len(text) <= _KEPT_UP_TO else _fold.__wrapped__(text)


def normalize(text: str) -> str:
    """`fold`, then case-folded: the key exact texts, keywords and commands match on."""
    return _normalize(text) if len(text) <= _KEPT_UP_TO else _normalize.__wrapped__(text)


def fold_words(text: str) -> str:
    """`normalize`, a plus sign read as 加, and everything but letters and digits dropped: the form word lists and
    same-text floods match on, so that spaces, punctuation, symbols, emoji and invisible characters put between
    the characters (加 微-信, 加\u200b微信, ➕V) change nothing."""
    return _fold_words(text) if len(text) <= _KEPT_UP_TO else _fold_words.__wrapped__(text)


@lru_cache(maxsize=_RECENT)
def _fold(text: str) -> str:
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).strip()


@lru_cache(maxsize=_RECENT)
def _normalize(text: str) -> str:
    return fold(text).casefold()


# Plus signs read as 加 (➕V, +v: 加V); NFKC has made the full-width and small ones '+' already.
_PLUS = re.compile("[+\u2795\u271a\u2719\U0001f7a1]")
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


@lru_cache(maxsize=_RECENT)
def _fold_words(text: str) -> str:
    return _NOT_LETTER_OR_DIGIT.sub("", _PLUS.sub("加", normalize(text)))


def split_command(folded: str) -> tuple[str, list[str]] | None:
    """'/Redeem AbC9' -> ('redeem', ['AbC9']): the name matches in any case, arguments (codes) keep theirs.

    None when the text is not a slash command.
    """
    if not folded.startswith("/") or len(folded) < 2 or folded[1].isspace():
        return None
    name, *args = folded[1:].split()
    return name.casefold(), args


def printable(text: str) -> str:
    """Member data made safe for a terminal: control characters (escape sequences, newlines, bidi marks
    that could hide or forge a line) are shown escaped, like \\x1b or \\n, instead of acting."""
    if text.isprintable():  # nearly every line: nothing to escape, no walk character by character
        return text
    return "".join(
        ch if ch.isprintable() or unicodedata.category(ch) == "Zs" else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
