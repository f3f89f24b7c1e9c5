"""Which moderation playbooks a message starts (`has`, `words`, `flood`), found without looking at each playbook:
has-items by dict, every word list in one automaton pass (words.py), each distinct flood rule counted once.
bot/playbook/index.py keeps these playbooks out of the other playbooks' index and asks this one for them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from bot.events import MessageEvent
from bot.moderation.content import AllowList, present
from bot.moderation.flood import FloodCounter, FloodRule
from bot.moderation.words import WordIndex
from bot.playbook.model import Call, Playbook
from bot.textnorm import fold_words

Entry = tuple[Playbook, Call]


def flood_text(event: MessageEvent, folded: str) -> str:
    """What `same_text` compares: the folded text, or for a card, link or picture what it points to."""
    if folded or event.content == "text":
        return folded
    return f"{event.content}:{event.url or event.qr or event.title or ''}"


class ModerationIndex:
    def __init__(self, entries: list[Entry], wordlists: Mapping[str, tuple[str, ...]]) -> None:
        self.playbooks: list[Playbook] = list({pb.id: pb for pb, _ in entries}.values())
        self._has: dict[str, list[Entry]] = defaultdict(list)
        self._words: dict[str, list[Entry]] = defaultdict(list)
        self._floods: dict[FloodRule, list[Entry]] = defaultdict(list)
        for pb, trig in entries:
            p = trig.params
            if trig.name == "flood":
                self._floods[p.rule].append((pb, trig))
            elif p.words is not None:
                self._words[p.words].append((pb, trig))
            else:
                for item in p.has:
                    self._has[item].append((pb, trig))
        self._word_index = WordIndex({name: wordlists.get(name, ()) for name in self._words})

    def __bool__(self) -> bool:
        return bool(self.playbooks)

    def candidates(self, event: MessageEvent, allow: AllowList, counter: FloodCounter, now: datetime) -> list[Entry]:
        """The triggers this message fires (before `in:`); every flood rule counts the message on the way."""
        found: list[Entry] = []
        if self._has:
            for item in present(event, allow):
                found += self._has.get(item, ())
        folded = fold_words(event.text) if event.text else ""
        if self._words:
            for name in self._word_index.lists_in(folded):
                found += self._words[name]
        if self._floods and event.room is not None:
            text = flood_text(event, folded)
            for rule, entries in self._floods.items():
                if counter.hit(rule, event.room.id, event.member.id, text, now, event.id):
                    found += entries
        return found
