"""A folder of playbooks, loaded and checked as one set the engine can swap in atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.playbook.errors import Location, Problem, Problems
from bot.playbook.index import TriggerIndex
from bot.playbook.loader import Doc, parse_yaml, read_yaml
from bot.playbook.model import Playbook, build_playbook
from bot.registry import Registry, load_abilities

SCENARIO_DIR = "tests"


@dataclass
class PlaybookSet:
    playbooks: list[Playbook]
    problems: list[Problem] = field(default_factory=list)
    index: TriggerIndex = field(init=False)

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


def load_folder(folder: Path, *, registry: Registry | None = None, room_tags: set[str] | None = None) -> PlaybookSet:
    """Load every playbook; a broken file is left out and its problems listed, others load."""
    problems = Problems()
    if not folder.is_dir():
        problems.add(Location(display_path(folder), 1, 1), "playbooks folder not found")
        return PlaybookSet([], problems.sorted())
    docs = [read_yaml(str(f), display_path(f), problems) for f in playbook_files(folder)]
    return _assemble(docs, problems, registry, room_tags)


def load_texts(
    sources: dict[str, str], *, registry: Registry | None = None, room_tags: set[str] | None = None
) -> PlaybookSet:
    """Playbooks from strings (display name -> YAML): tests build bots without files."""
    problems = Problems()
    docs = [parse_yaml(text, name, problems) for name, text in sources.items()]
    return _assemble(docs, problems, registry, room_tags)


def _assemble(
    docs: list[Doc | None], problems: Problems, registry: Registry | None, room_tags: set[str] | None
) -> PlaybookSet:
    registry = registry or load_abilities()
    playbooks: list[Playbook] = []
    first_seen: dict[str, Playbook] = {}
    for doc in docs:
        if doc is None:
            continue
        pb = build_playbook(doc, registry, problems, room_tags=room_tags)
        if pb is None:
            continue
        if pb.id in first_seen:
            problems.add(pb.location, f"duplicate id '{pb.id}' (also in {first_seen[pb.id].location})")
            continue
        first_seen[pb.id] = pb
        pb.order = len(playbooks)
        playbooks.append(pb)
    return PlaybookSet(playbooks, problems.sorted())
