"""Problem texts in the operator's language: Chinese (`language: zh-CN`, the default) or English (`en`).

Loaders and validators, here and in every handler, write their problems in English, as before: logs stay
English, and the English text is what the catalog is keyed by. Only the edges translate, when they show a
problem to a person: the CLI (`check`, `test`, `reload`, `run`'s start-up, config errors) and /重载.

The Chinese catalog (bot/i18n/zh_cn/) maps English patterns to Chinese ones; `bot.i18n.patterns` reads a
finished message back into its parts (a hint, a value, a library's detail) and says it again. A message
the catalog cannot read is shown in English: never lost.

Adding a message: write it in English where it is produced, as before; add its pattern, e.g.
`"unknown step '{kind}'{hint:msg}": "未知的步骤 '{kind}'{hint}"`, to the area module of bot/i18n/zh_cn/
(placeholder kinds are in patterns.py). tests/test_i18n.py fails until then: it reads every literal message
the code writes with its values left open, and every message the error tests, the fuzzers and its own cases
produce, and wants a Chinese form with no English sentence left in it.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Literal

from bot.i18n.patterns import Pattern
from bot.i18n.zh_cn import CATALOG, TERMS
from bot.playbook.errors import Problem

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE: Language = "zh-CN"

# What shop owners write for a language, as one of LANGUAGES.
_SPOKEN = {
    **dict.fromkeys(("zh-cn", "zh_cn", "zh", "cn", "chinese", "中文", "简体中文", "汉语"), "zh-CN"),
    **dict.fromkeys(("en", "en-us", "en_us", "en-gb", "english", "英文", "英语"), "en"),
}


def spoken(value: object) -> object:
    """'中文', 'zh', 'English' as the language code config.yaml means; anything else as given (to be refused)."""
    return _SPOKEN.get(value.strip().lower(), value) if isinstance(value, str) else value


_LOCATED = re.compile(r"(?P<where>[^\n]*?:\d+:\d+): (?P<message>.*)", re.S)


class Catalog:
    """One language's patterns, tried most specific first (the most fixed text); whole messages directly."""

    def __init__(self, messages: dict[str, str], terms: dict[str, str]) -> None:
        patterns = [Pattern.parse(english, chinese) for english, chinese in messages.items()]
        self.words = {p.literals[0]: p.target.format() for p in patterns if not p.fields}
        self.patterns = sorted((p for p in patterns if p.fields), key=lambda p: -p.weight)
        self.terms = terms

    def translate(self, text: str) -> str | None:
        """The translation of a whole message, or None (also when reading it would take too long)."""
        try:
            return _Reading(self).message(text)
        except _GaveUp:
            return None

    def read(self, text: str, reading: _Reading) -> str | None:
        if text in self.words:
            return self.words[text]
        for pattern in self.patterns:
            reading.spend()
            said = pattern.render(text, reading)
            if said is not None:
                return said
        return None

    def term(self, text: str) -> str | None:
        return self.terms.get(text)


class _GaveUp(Exception):
    pass


class _Reading:
    """One message being read: the parts read so far, and a budget, so that a value full of the catalog's
    own separators (a key of 300 "' ") gives up and shows English instead of trying every split."""

    BUDGET = 50_000  # patterns tried; a real message needs a few thousand at most

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.read: dict[str, str | None] = {}
        self.left = self.BUDGET

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _GaveUp

    def message(self, text: str) -> str | None:
        if text not in self.read:
            self.read[text] = self.catalog.read(text, self)
        return self.read[text]

    def term(self, text: str) -> str | None:
        return self.catalog.term(text)


@cache
def _zh() -> Catalog:
    """Parsed on first use: most processes never show a problem."""
    return Catalog(CATALOG, TERMS)


@lru_cache(maxsize=4096)
def _chinese(text: str) -> str | None:
    return _zh().translate(text)


def chinese(message: str) -> str | None:
    """The Chinese form of an English message, or None when the catalog has none."""
    return _chinese(message)


def translate(message: str, language: str) -> str:
    """A message in `language`; English when that is asked for or no translation exists."""
    if language == "en":
        return message
    return _chinese(message) or message


def translate_line(line: str, language: str) -> str:
    """A `path:line:col: message` line (or a bare message) with its message translated, the place kept."""
    located = _LOCATED.fullmatch(line)
    if located is None:
        return translate(line, language)
    return f"{located['where']}: {translate(located['message'], language)}"


def problem_text(problem: Problem, language: str) -> str:
    """`path:line:col: message` (a warning says so) in `language`."""
    return f"{problem.location}: {translate(problem.text, language)}"
