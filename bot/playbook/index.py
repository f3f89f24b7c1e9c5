"""Which playbooks an event starts, without looking at every playbook.

Exact texts and commands are dict lookups, keywords one Aho-Corasick pass over
the message; only regex triggers are tried one by one. Moderation playbooks
(`has`, `words`, `flood`) are kept apart, in `moderation` (bot/moderation/index.py:
every word list in one pass too), and only the moderation stage asks for them (`screen`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.events import Event, MessageEvent
from bot.moderation.content import AllowList, first_url
from bot.moderation.flood import FloodCounter
from bot.moderation.index import ModerationIndex
from bot.moderation.words import automaton_of
from bot.playbook.model import Call, Playbook
from bot.textnorm import fold, normalize, split_command


@dataclass(frozen=True, slots=True)
class Match:
    playbook: Playbook
    trigger: Call
    message: dict[str, Any] | None = None


def _where_ok(where: str, event: MessageEvent) -> bool:
    return where == "any" or (where == "private") == event.private


def message_vars(event: MessageEvent) -> dict[str, Any]:
    """The `message` variable of a run, before a trigger adds its args or groups."""
    return {
        "text": event.text,
        "args": [],
        "groups": {},
        "command": "",
        "kind": event.content,
        "url": event.url or (first_url(event.text) if event.text else None),  # a link card's, or the text's first
        "title": event.title,
        "qr": event.qr,
    }


def _unique(found: list[Match]) -> list[Match]:
    """Each playbook once, in playbook order."""
    if len(found) < 2:  # the commonest: one playbook (a check-in) or none
        return found
    seen: set[str] = set()
    unique = []
    for m in sorted(found, key=lambda m: m.playbook.order):
        if m.playbook.id not in seen:
            seen.add(m.playbook.id)
            unique.append(m)
    return unique


class TriggerIndex:
    def __init__(self, playbooks: list[Playbook], wordlists: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.exact: dict[str, list[tuple[Playbook, Call]]] = defaultdict(list)
        self.commands: dict[str, list[tuple[Playbook, Call]]] = defaultdict(list)
        self.keyword_hits: dict[str, list[tuple[Playbook, Call]]] = defaultdict(list)
        self.regexes: list[tuple[Playbook, Call]] = []
        self.by_event: dict[str, list[tuple[Playbook, Call]]] = defaultdict(list)
        self.by_id: dict[str, Playbook] = {}
        screened: list[tuple[Playbook, Call]] = []
        for pb in playbooks:
            self.by_id[pb.id] = pb
            if not pb.enabled:
                continue
            for trig in pb.triggers:
                if pb.moderation:
                    screened.append((pb, trig))
                else:
                    self._add(pb, trig)
        self.moderation = ModerationIndex(screened, wordlists or {})
        self._automaton = automaton_of(self.keyword_hits)

    def _add(self, pb: Playbook, trig: Call) -> None:
        p = trig.params
        if trig.name == "message":
            if p.text is not None:
                for text in p.text:
                    self.exact[normalize(str(text))].append((pb, trig))
            elif p.keywords is not None:
                for word in p.keywords:
                    if normalize(str(word)):
                        self.keyword_hits[normalize(str(word))].append((pb, trig))
            else:
                self.regexes.append((pb, trig))
        elif trig.name == "command":
            self.commands[normalize(p.name)].append((pb, trig))
        else:
            for kind in trig.spec.events:
                self.by_event[kind].append((pb, trig))

    def match(self, event: Event) -> list[Match]:
        """Playbooks this event starts, each once, in playbook order."""
        kind = event.kind
        if kind == "message":
            found = self._match_message(event)  # type: ignore[arg-type]
        elif kind == "schedule":
            pb = self.by_id.get(event.playbook_id)  # type: ignore[union-attr]
            found = [] if pb is None or not pb.enabled else [Match(pb, pb.triggers[0])]
        else:  # a trigger listens to event kinds by name (`events=` in bot/triggers.py)
            found = [Match(pb, trig) for pb, trig in self.by_event.get(kind, ())]
        return _unique(found)

    def screen(self, event: MessageEvent, allow: AllowList, counter: FloodCounter, now: datetime) -> list[Match]:
        """The moderation playbooks a message starts, each once, in playbook order (flood rules count it)."""
        found = [
            (pb, trig)
            for pb, trig in self.moderation.candidates(event, allow, counter, now)
            if trig.name == "flood" or _where_ok(trig.params.where, event)
        ]
        if not found:
            return []
        base = message_vars(event)
        return _unique([Match(pb, trig, base) for pb, trig in found])

    def _match_message(self, event: MessageEvent) -> list[Match]:
        folded = fold(event.text)
        text = folded.casefold()
        found: list[tuple[Playbook, Call, dict[str, Any]]] = []  # with what its trigger adds to `message`
        for pb, trig in self.exact.get(text, ()):
            if _where_ok(trig.params.where, event):
                found.append((pb, trig, {}))
        command = split_command(folded)
        if command is not None:
            name, args = command
            for pb, trig in self.commands.get(name, ()):
                if _where_ok(trig.params.where, event):
                    found.append((pb, trig, {"args": args, "command": name}))
        if self._automaton is not None and text:
            for word in self.keywords_in(text):
                for pb, trig in self.keyword_hits[word]:
                    if _where_ok(trig.params.where, event):
                        found.append((pb, trig, {}))
        for pb, trig in self.regexes:
            if not _where_ok(trig.params.where, event):
                continue
            hit = trig.params.regex.search(folded)
            if hit:
                found.append((pb, trig, {"groups": hit.groupdict()}))
        if not found:
            return []  # most chat starts nothing: its `message` variable is never built
        base = message_vars(event)
        return [Match(pb, trig, {**base, **extra} if extra else base) for pb, trig, extra in found]

    def keywords_in(self, text: str) -> set[str]:
        """The indexed keywords a normalised text contains."""
        if self._automaton is None or not text:
            return set()
        return {word for _end, word in self._automaton.iter(text)}

    def schedules(self) -> list[tuple[Playbook, Call]]:
        return list(self.by_event.get("schedule", ()))
