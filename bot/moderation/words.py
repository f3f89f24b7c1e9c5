"""Every word of every word list in use, in one Aho-Corasick automaton over the folded text (bot/textnorm.py:
`fold_words`): a message is read once, however many lists and words there are, and an entry is a literal
whatever it looks like (`加.*微信` is the letters 加微信, never a pattern)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ahocorasick

from bot.textnorm import fold_words


def automaton_of(words: Iterable[str]) -> Any:
    """One Aho-Corasick automaton whose value for each word is the word itself; None for no words."""
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word)
    if not len(automaton):
        return None
    automaton.make_automaton()
    return automaton


class WordIndex:
    def __init__(self, lists: Mapping[str, Iterable[str]]) -> None:
        self._lists: dict[str, set[str]] = {}  # folded word -> the lists that have it
        for list_id, words in lists.items():
            for word in words:
                folded = fold_words(word)
                if folded:
                    self._lists.setdefault(folded, set()).add(list_id)
        self._automaton = automaton_of(self._lists)
        self._count = len({list_id for ids in self._lists.values() for list_id in ids})

    def lists_in(self, folded: str) -> set[str]:
        """The lists that have a word in a text already folded with `fold_words`."""
        found: set[str] = set()
        if self._automaton is None or not folded:
            return found
        for _end, word in self._automaton.iter(folded):
            found |= self._lists[word]
            if len(found) == self._count:
                break
        return found
