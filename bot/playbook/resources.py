"""A playbook's resource blocks (`coupons:`, `questions:`, `wordlists:`): named things every playbook may use,
each entry checked by the schema its handler registered (a ResourceSpec in bot/registry.py), or, for word lists,
as words: text with at least one letter or digit (what is matched, bot/textnorm.py: `fold_words`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.playbook.errors import Problems
from bot.playbook.loader import Doc, Path
from bot.playbook.model import _ID, Declared
from bot.playbook.validate import describe, validate_model
from bot.registry import Registry, ResourceSpec
from bot.textnorm import fold_words


def declared_member_fields(registry: Registry, resources: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The `member.*` names playbooks declare (`fields:`), beside the abilities' own."""
    blocks = (block for block, spec in registry.resources.items() if spec.member_field is not None)
    return frozenset(name for block in blocks for name in resources.get(block, {}))


def read_block(doc: Doc, spec: ResourceSpec, raw: Any, problems: Problems) -> list[Declared]:
    """The block's entries; each one that is wrong adds a problem instead."""

    def error(path: Path, message: str, *, key: bool = False) -> None:
        problems.add(doc.key_at(path) if key else doc.at(path), message)

    path: Path = (spec.block,)
    out: list[Declared] = []
    if spec.form == "list":
        items = [raw] if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            error(path, f"'{spec.block}' must be a list of {spec.noun}s like '- {{id: ..., ...}}'")
            return out
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                error((*path, i), f"each {spec.noun} is a mapping of options; got {describe(item)}")
                continue
            entry = validate_model(doc, spec.schema, item, problems, base=(*path, i), label=spec.noun)
            if entry is not None:
                out.append(Declared(spec.block, entry.id, entry, doc.at((*path, i))))  # type: ignore[attr-defined]
        return out
    if not isinstance(raw, dict):
        error(path, f"'{spec.block}' must be a mapping of {spec.noun} ids to lists; got {describe(raw)}")
        return out
    for key, items in raw.items():
        where = (*path, key)
        if not isinstance(key, str) or not _ID.match(key):
            message = f"a {spec.noun} id is lower-case letters, digits and '-'; got {describe(key)}"
            error(where, message, key=True)
            continue
        items = [items] if isinstance(items, dict) or (spec.form == "words" and _scalar(items)) else items
        if not isinstance(items, list) or not items:
            error(where, f"{spec.noun} '{key}' needs a list of at least one entry")
            continue
        if spec.form == "words":
            words = _words(doc, spec, key, items, problems)
            if words is not None:
                out.append(Declared(spec.block, key, words, doc.key_at(where)))
            continue
        entries = []
        for j, item in enumerate(items):
            if not isinstance(item, dict):
                error((*where, j), f"each entry of {spec.noun} '{key}' is a mapping; got {describe(item)}")
                continue
            entries.append(validate_model(doc, spec.schema, item, problems, base=(*where, j), label=spec.noun))
        if len(entries) == len(items) and all(e is not None for e in entries):
            out.append(Declared(spec.block, key, tuple(entries), doc.key_at(where)))
    return out


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _words(doc: Doc, spec: ResourceSpec, key: str, items: list[Any], problems: Problems) -> tuple[str, ...] | None:
    """A word list's words as written (stripped); None when one of them is wrong (each adds a problem)."""
    words: list[str] = []
    for j, item in enumerate(items):
        where = doc.at((spec.block, key, j))
        if not _scalar(item):
            problems.add(where, f"each word of {spec.noun} '{key}' is text; got {describe(item)}")
        elif not fold_words(str(item)):
            problems.add(where, f"word '{item}' of {spec.noun} '{key}' has no letter or digit to match")
        else:
            words.append(str(item).strip())
    return tuple(dict.fromkeys(words)) if len(words) == len(items) else None
