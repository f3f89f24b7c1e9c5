"""A folder of playbooks, loaded and checked as one set the engine can swap in atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.playbook.builder import build_playbook
from bot.playbook.errors import Location, Problem, Problems, did_you_mean
from bot.playbook.index import TriggerIndex
from bot.playbook.lint import Groups, lint
from bot.playbook.loader import Doc, parse_yaml, read_yaml
from bot.playbook.model import Declared, Playbook, walk_steps
from bot.registry import Registry, load_abilities

if TYPE_CHECKING:
    from bot.config import Config

SCENARIO_DIR = "tests"


@dataclass
class PlaybookSet:
    playbooks: list[Playbook]
    problems: list[Problem] = field(default_factory=list)  # errors: each left a file out
    warnings: list[Problem] = field(default_factory=list)  # told, nothing left out (bot/playbook/lint.py)
    index: TriggerIndex = field(init=False)
    # block -> id -> validated entry: coupon batches and question banks are shared by every playbook
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = TriggerIndex(self.playbooks)

    def get(self, playbook_id: str) -> Playbook | None:
        return self.index.by_id.get(playbook_id)


def playbook_files(folder: Path) -> list[Path]:
    """Every *.yaml / *.yml below `folder`, except scenario tests under `tests/`."""
    files = [p for ext in ("*.yaml", "*.yml") for p in folder.rglob(ext)]
    return sorted(p for p in files if SCENARIO_DIR not in p.relative_to(folder).parts[:-1])


def display_path(path: Path) -> str:
    """Relative to the working directory when under it, as operators typed it; else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def known_groups(config: Config) -> Groups | None:
    """The groups config.yaml lists, by id and topic, with their tags; None when it lists none (all are managed)."""
    if not config.rooms:
        return None
    names: dict[str, int] = {}
    tags: dict[str, set[int]] = {}
    for number, entry in enumerate(config.rooms):
        names.update({name: number for name in (entry.id, entry.topic) if name})
        for tag in entry.tags:
            tags.setdefault(tag, set()).add(number)
    return Groups(names, {tag: frozenset(numbers) for tag, numbers in tags.items()})


def load_configured(folder: Path, config: Config) -> PlaybookSet:
    """The folder, checked against what config.yaml says about groups (their tags, and their names)."""
    return load_folder(folder, room_tags=config.all_room_tags or None, groups=known_groups(config))


def load_folder(
    folder: Path,
    *,
    registry: Registry | None = None,
    room_tags: set[str] | None = None,
    groups: Groups | None = None,
) -> PlaybookSet:
    """Load every playbook; a broken file is left out and its problems listed, others load."""
    problems = Problems()
    if not folder.is_dir():
        problems.add(Location(display_path(folder), 1, 1), "the playbooks folder does not exist (moved or deleted?)")
        return PlaybookSet([], problems.sorted())
    docs = [read_yaml(str(f), display_path(f), problems) for f in playbook_files(folder)]
    return _assemble(docs, problems, registry, room_tags, groups)


def load_texts(
    sources: dict[str, str],
    *,
    registry: Registry | None = None,
    room_tags: set[str] | None = None,
    groups: Groups | None = None,
) -> PlaybookSet:
    """Playbooks from strings (display name -> YAML): tests build bots without files."""
    problems = Problems()
    docs = [parse_yaml(text, name, problems) for name, text in sources.items()]
    return _assemble(docs, problems, registry, room_tags, groups)


def _assemble(
    docs: list[Doc | None],
    problems: Problems,
    registry: Registry | None,
    room_tags: set[str] | None,
    groups: Groups | None,
) -> PlaybookSet:
    registry = registry or load_abilities()
    playbooks: list[Playbook] = []
    first_seen: dict[str, Playbook] = {}
    declared: dict[tuple[str, str], Declared] = {}
    for doc in docs:
        if doc is None:
            continue
        pb = build_playbook(doc, registry, problems, room_tags=room_tags)
        if pb is None:
            continue
        if pb.id in first_seen:
            problems.add(pb.location, f"duplicate id '{pb.id}' (also in {first_seen[pb.id].location})")
            continue
        clashes = [d for d in pb.declared if (d.block, d.id) in declared]
        for d in clashes:
            noun = registry.resources[d.block].noun
            problems.add(d.location, f"duplicate {noun} '{d.id}' (also in {declared[(d.block, d.id)].location})")
        if clashes:
            continue
        first_seen[pb.id] = pb
        declared.update({(d.block, d.id): d for d in pb.declared})
        playbooks.append(pb)
    resources: dict[str, dict[str, Any]] = {block: {} for block in registry.resources}
    for (block, rid), d in declared.items():
        resources[block][rid] = d.value
    usable = [pb for pb in playbooks if _references_hold(pb, resources, registry, problems)]
    for order, pb in enumerate(usable):
        pb.order = order
    loaded = PlaybookSet(usable, problems.sorted(), resources=resources)
    loaded.warnings = lint(usable, loaded.index, groups)
    return loaded


def _references_hold(
    pb: Playbook, resources: dict[str, dict[str, Any]], registry: Registry, problems: Problems
) -> bool:
    """Every coupon batch / question bank a playbook names is declared in some playbook of the set."""
    ok = True
    for call in walk_steps(pb.steps):
        for option, block in call.spec.refs.items():
            name: Any = call.params
            for part in option.split("."):
                name = getattr(name, part, None)
            if name is None or name in resources.get(block, {}):
                continue
            spec = registry.resources[block]
            hint = did_you_mean(name, resources.get(block, {}))
            problems.add(
                call.location,
                f"{spec.noun} '{name}' is not declared{hint}; declare it under '{block}:' in any playbook",
            )
            ok = False
    return ok
