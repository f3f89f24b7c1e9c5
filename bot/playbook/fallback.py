"""One rule for every load of a playbooks folder, per file: a file with errors runs its last good version if it
has one, else it is left out; the good files load as written.

Files meet in rules that span the set: a playbook id, a coupon batch or a question bank is declared once, and a
playbook may use a batch or bank another file declares. The files as written claim first (in file order),
then the last good versions, so the folder as it is now always wins:

- a last good version that declares a batch or bank a file as written declares too runs, and uses that file's
  declaration (its own is set aside and told); one whose playbook id a file as written now has is left out;
- a file as written that clashes with an earlier one (a duplicate id, batch or bank), or that uses a batch or
  bank no running file declares (say, one declared only in a file with errors), has an error: it runs its own
  last good version instead, like a file with a typo. So a typo in one file never stops another file's running
  coupon drop: the other file keeps its last good version, which used what was running.

Each step only moves a file from "as written" to "last good version" to "left out", so the rounds end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.playbook.builder import build_playbook
from bot.playbook.errors import Problem, Problems, did_you_mean
from bot.playbook.loader import parse_yaml
from bot.playbook.model import Declared, Playbook, walk_steps
from bot.playbook.resources import declared_member_fields
from bot.playbook.templates import Text
from bot.registry import Registry

Resources = dict[str, dict[str, Any]]  # block -> id -> validated entry


def digest(text: str) -> str:
    """What tells two versions of a file apart: SHA-256 of the text as UTF-8, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Version:
    """A file's text as it last loaded without errors (bot/store/versions.py keeps them)."""

    text: str
    hash: str
    at: datetime


@dataclass(frozen=True)
class Source:
    """One file of the folder: its text now (None: it could not be read, `problems` say why), its last good
    version if it has one."""

    key: str  # inside the folder, with '/': what the versions are kept by
    path: str  # as problems show it
    text: str | None
    problems: tuple[Problem, ...] = ()
    last_good: Version | None = None


@dataclass(frozen=True)
class Fallback:
    """A file that does not run as written: its last good version runs instead, or nothing of it does."""

    path: str
    version: Version | None  # its last good version, if it has one
    running: bool  # that version runs
    why: str = ""  # why the last good version cannot run either (a problem's message)
    notes: tuple[str, ...] = ()  # what another file overrides in the version that runs


@dataclass
class Resolved:
    playbooks: list[Playbook]  # in file order
    problems: list[Problem]
    resources: Resources
    fallbacks: dict[str, Fallback] = field(default_factory=dict)  # by path


@dataclass
class _Pick:
    """The version of a file in the running set: as written (`version` None) or its last good version."""

    source: Source
    playbook: Playbook
    version: Version | None
    order: int


def resolve(sources: list[Source], registry: Registry, *, room_tags: set[str] | None = None) -> Resolved:
    problems = Problems()
    picks: dict[str, _Pick] = {}
    fallbacks: dict[str, Fallback] = {}
    broken: dict[tuple[str, str], str] = {}  # (block, id) -> a file with errors whose text declares it

    def fall_back(source: Source, order: int) -> None:
        version = source.last_good
        if version is None:
            fallbacks[source.path] = Fallback(source.path, None, running=False)
            return
        scratch = Problems()
        _data, playbook = _build(version.text, source.path, registry, scratch, room_tags)
        if playbook is None:
            why = scratch.sorted()[0].message if scratch else ""
            fallbacks[source.path] = Fallback(source.path, version, running=False, why=why)
            return
        picks[source.path] = _Pick(source, playbook, version, order)
        fallbacks[source.path] = Fallback(source.path, version, running=True)

    for order, source in enumerate(sources):
        own = Problems()
        own.extend(source.problems)
        data, playbook = (None, None)
        if source.text is not None:
            data, playbook = _build(source.text, source.path, registry, own, room_tags)
        if playbook is not None:
            picks[source.path] = _Pick(source, playbook, None, order)
            continue
        problems.extend(own.sorted())
        broken.update(dict.fromkeys(_written_ids(data, registry), source.path))
        fall_back(source, order)

    while True:
        demoted, resources, notes = _round(picks, registry, broken)
        if not demoted:
            break
        for path, found in demoted.items():
            pick = picks.pop(path)
            if pick.version is None:  # a file as written: its problems are listed, and it falls back
                problems.extend(found)
                broken.update({(d.block, d.id): path for d in pick.playbook.declared})
                fall_back(pick.source, pick.order)
            else:
                fallbacks[path] = Fallback(path, pick.version, running=False, why=found[0].message)

    playbooks = []
    for pick in sorted(picks.values(), key=lambda p: p.order):
        playbook = pick.playbook
        kept = notes.get(pick.source.path)
        if kept is not None:  # a last good version whose declarations a file as written overrides
            playbook = replace(playbook, declared=kept[0])
            fallbacks[pick.source.path] = replace(fallbacks[pick.source.path], notes=kept[1])
        playbooks.append(playbook)
    in_file_order = {s.path: fallbacks[s.path] for s in sources if s.path in fallbacks}
    return Resolved(playbooks, problems.sorted(), resources, in_file_order)


def _build(
    text: str, path: str, registry: Registry, problems: Problems, room_tags: set[str] | None
) -> tuple[Any, Playbook | None]:
    """The text's data as parsed (None: not YAML) and its playbook (None: it has errors, now in `problems`)."""
    before = len(problems)
    doc = parse_yaml(text, path, problems)
    if doc is None:
        return None, None
    playbook = build_playbook(doc, registry, problems, room_tags=room_tags)
    return doc.data, playbook if len(problems) == before else None


Notes = dict[str, tuple[tuple[Declared, ...], tuple[str, ...]]]  # path -> (declarations kept, what was set aside)


def _round(
    picks: dict[str, _Pick], registry: Registry, broken: dict[tuple[str, str], str]
) -> tuple[dict[str, list[Problem]], Resources, Notes]:
    """One pass over the set's rules: the files to move down a step (with the problems that move them), the
    batches and banks that run, and the declarations of last good versions set aside."""
    demoted: dict[str, list[Problem]] = {}
    owners: dict[str, Playbook] = {}
    declared: dict[tuple[str, str], Declared] = {}
    notes: Notes = {}
    for pick in sorted(picks.values(), key=lambda p: (p.version is not None, p.order)):
        pb, path = pick.playbook, pick.source.path
        found = Problems()
        if pb.id in owners:
            found.add(pb.location, f"duplicate id '{pb.id}' (also in {owners[pb.id].location})")
            demoted[path] = found.sorted()
            continue
        clashes = [d for d in pb.declared if (d.block, d.id) in declared]
        if clashes and pick.version is None:  # two files as written: the later one has the error
            for d in clashes:
                noun = registry.resources[d.block].noun
                found.add(d.location, f"duplicate {noun} '{d.id}' (also in {declared[(d.block, d.id)].location})")
            demoted[path] = found.sorted()
            continue
        owners[pb.id] = pb
        if clashes:
            set_aside = tuple(
                f"its last good version declares {registry.resources[d.block].noun} '{d.id}' too; the one in "
                f"{declared[(d.block, d.id)].location.path} is used"
                for d in clashes
            )
            notes[path] = (tuple(d for d in pb.declared if (d.block, d.id) not in declared), set_aside)
        declared.update({(d.block, d.id): d for d in pb.declared if (d.block, d.id) not in declared})
    resources: Resources = {block: {} for block in registry.resources}
    for (block, rid), d in declared.items():
        resources[block][rid] = d.value
    for pick in picks.values():
        path = pick.source.path
        if path not in demoted:
            missing = _missing(pick.playbook, resources, registry, broken)
            if missing:
                demoted[path] = missing
    return demoted, resources, notes


def _missing(
    pb: Playbook, resources: Resources, registry: Registry, broken: dict[tuple[str, str], str]
) -> list[Problem]:
    """Every coupon batch / question bank / word list the playbook names that no running file declares (a text
    option names one when it is plain text; a template picks one at run time)."""
    found = Problems()
    calls = [(call.location, call.params, call.spec.refs) for call in (*pb.triggers, *walk_steps(pb.steps))]
    entries = [(d.location, d.value, registry.resources[d.block].refs) for d in pb.declared]
    for location, params, refs in (*calls, *entries):
        for option, block in refs.items():
            name: Any = params
            for part in option.split("."):
                name = getattr(name, part, None)
            if isinstance(name, Text):
                name = None if name.templated else name.source.strip()
            if name is None or name in resources.get(block, {}):
                continue
            noun = registry.resources[block].noun
            elsewhere = broken.get((block, name))
            if elsewhere is not None:
                found.add(location, f"{noun} '{name}' is declared only in {elsewhere}, which has errors; fix it first")
                continue
            hint = did_you_mean(name, resources.get(block, {}))
            found.add(location, f"{noun} '{name}' is not declared{hint}; declare it under '{block}:' in any playbook")
    _undeclared_fields(pb, resources, registry, broken, found)
    return found.sorted()


def _undeclared_fields(
    pb: Playbook, resources: Resources, registry: Registry, broken: dict[tuple[str, str], str], found: Problems
) -> None:
    """Each `member.X` the playbook reads that neither an ability provides nor a running file declares."""
    declared = declared_member_fields(registry, resources)
    blocks = [block for block, spec in registry.resources.items() if spec.member_field is not None]
    for name, attr, where in pb.field_refs:
        if attr in declared:
            continue
        hit = next(((block, broken[(block, attr)]) for block in blocks if (block, attr) in broken), None)
        if hit is not None:
            noun = registry.resources[hit[0]].noun
            found.add(where, f"{noun} '{attr}' is declared only in {hit[1]}, which has errors; fix it first")
            continue
        hint = did_you_mean(attr, registry.member_scope() | declared, prefix=f"{name}.")
        found.add(where, f"unknown template variable '{name}.{attr}'{hint}")


def _written_ids(data: Any, registry: Registry) -> Iterator[tuple[str, str]]:
    """The batches and banks a file declares, read from its data as written (it may not build)."""
    if not isinstance(data, dict):
        return
    for block, spec in registry.resources.items():
        raw = data.get(block)
        if spec.form == "list":
            items = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
            yield from ((block, i["id"]) for i in items if isinstance(i, dict) and isinstance(i.get("id"), str))
        elif isinstance(raw, dict):
            yield from ((block, key) for key in raw if isinstance(key, str))
