"""Reading a finished English message back into its parts, so it can be said again in another language.

A catalog entry is an English pattern in `str.format` syntax (`{{` and `}}` are literal braces) and its
translation. A placeholder's spec says what its value is:

- `{name}`       a value kept as it is (a key, a file name, what the operator wrote);
- `{name:msg}`   a message of its own (a hint, a library's detail), translated too; may be empty;
- `{name:term}`  a word of ours ("coupon batch", "action"), translated;
- `{name:word}`  a label that is a word of ours ("config") or a YAML key ('join'): translated if it is a word;
- `{name:list}`  "a, b or c", re-joined with Chinese separators;
- `{name:got}`   what the operator wrote, as `validate.describe` says it: 'a quoted value', or a word
                 ("a list", "nothing") the catalog translates;
- `{name:choices}` quoted options: "'day', 'week' or 'ever'".
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Protocol

KINDS = ("", "msg", "term", "word", "list", "got", "choices")
_CHOICES = re.compile(r"'[^']*'(?:(?:, | or )'[^']*')*")
_LIST_WORDS = ((", ", "、"), (" or ", " 或 "), (" and ", " 和 "))


class Lookup(Protocol):
    def message(self, text: str) -> str | None:
        """The translation of a whole message, or None when the catalog cannot read it."""

    def term(self, text: str) -> str | None:
        """The translation of one of the catalog's words (its TERMS), or None."""


def _localize_list(value: str) -> str:
    for english, chinese in _LIST_WORDS:
        value = value.replace(english, chinese)
    return value


@dataclass(frozen=True)
class Pattern:
    """One catalog entry: literals[0] {fields[0]} literals[1] {fields[1]} ... literals[-1]."""

    source: str
    literals: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]  # (name, kind)
    target: str

    @classmethod
    def parse(cls, source: str, target: str) -> Pattern:
        literals: list[str] = [""]
        fields: list[tuple[str, str]] = []
        for literal, name, spec, conversion in string.Formatter().parse(source):
            literals[-1] += literal
            if name is None:
                continue
            if not name or conversion or spec not in KINDS:
                raise ValueError(f"catalog pattern {source!r}: bad placeholder {{{name}:{spec}}}")
            if fields and not literals[-1]:
                raise ValueError(f"catalog pattern {source!r}: two placeholders need text between them")
            fields.append((name, spec))
            literals.append("")
        if not "".join(literals).strip():
            raise ValueError(f"catalog pattern {source!r} has no words of its own")
        wanted = {name for name, _spec in fields}
        used = {name for _lit, name, _spec, _conv in string.Formatter().parse(target) if name is not None}
        if used - wanted:
            raise ValueError(f"catalog translation of {source!r} uses {sorted(used - wanted)}, which it does not have")
        return cls(source, tuple(literals), tuple(fields), target)

    @property
    def weight(self) -> int:
        """More fixed text, more specific: tried first."""
        return sum(len(literal) for literal in self.literals)

    def render(self, text: str, lookup: Lookup) -> str | None:
        """The translation of `text` if this pattern reads it, else None."""
        head, tail = self.literals[0], self.literals[-1]
        if not self.fields:
            return self.target.format() if text == head else None
        if len(text) < len(head) + len(tail) or not text.startswith(head) or not text.endswith(tail):
            return None
        values = self._read(text, 0, len(head), {}, lookup)
        return None if values is None else self.target.format(**values)

    def _read(self, text: str, i: int, pos: int, values: dict[str, str], lookup: Lookup) -> dict[str, str] | None:
        """Values for fields[i:], reading from `pos`; tries the shortest value first, then longer ones."""
        if i == len(self.fields):
            return values if pos == len(text) else None
        name, kind = self.fields[i]
        after = self.literals[i + 1]
        if i == len(self.fields) - 1:
            ends = [len(text) - len(after)] if len(text) - len(after) >= pos else []
        else:
            ends = []
            at = text.find(after, pos)
            while at != -1:
                ends.append(at)
                at = text.find(after, at + 1)
        for end in ends:
            value = _convert(kind, text[pos:end], lookup)
            if value is None:
                continue
            found = self._read(text, i + 1, end + len(after), {**values, name: value}, lookup)
            if found is not None:
                return found
        return None


def _convert(kind: str, raw: str, lookup: Lookup) -> str | None:
    if kind == "msg":
        return "" if raw == "" else lookup.message(raw)
    if kind == "term":
        return lookup.term(raw)
    if kind == "word":
        return lookup.term(raw) or raw
    if kind == "list":
        return _localize_list(raw)
    if kind == "got":
        quoted = len(raw) >= 2 and raw[0] == raw[-1] == "'"
        return raw if quoted else lookup.term(raw)
    if kind == "choices":
        return _localize_list(raw) if _CHOICES.fullmatch(raw) else None
    return raw
