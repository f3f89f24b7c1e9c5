"""A folder of playbooks, loaded and checked as one set the engine can swap in atomically.

Every load goes through one rule (bot/playbook/fallback.py): `qunguan check` and tests load the files alone;
a running bot gives each file its last good version too (bot/reload.py), at start-up as at every reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.playbook.errors import Location, Problem, Problems
from bot.playbook.fallback import Fallback, Source, resolve
from bot.playbook.index import TriggerIndex
from bot.playbook.lint import Groups, lint
from bot.playbook.loader import read_text
from bot.playbook.model import Playbook
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
    # block -> id -> validated entry: coupon batches, question banks and word lists are shared by every playbook
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # by path: the files that do not run as written (their last good version runs, or nothing of them)
    fallbacks: dict[str, Fallback] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = TriggerIndex(self.playbooks, self.resources.get("wordlists"))

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


def read_folder(folder: Path) -> list[Source] | None:
    """Every playbook file of the folder with its text, in file order; None when the folder is not there."""
    if not folder.is_dir():
        return None
    sources = []
    for file in playbook_files(folder):
        problems = Problems()
        shown = display_path(file)
        text = read_text(str(file), shown, problems)
        sources.append(Source(file.relative_to(folder).as_posix(), shown, text, tuple(problems.sorted())))
    return sources


def missing_folder(folder: Path) -> PlaybookSet:
    problems = Problems()
    problems.add(Location(display_path(folder), 1, 1), "the playbooks folder does not exist (moved or deleted?)")
    return PlaybookSet([], problems.sorted())


def load_configured(folder: Path, config: Config) -> PlaybookSet:
    """The folder, checked against what config.yaml says about groups (their tags, and their names)."""
    sources = read_folder(folder)
    return missing_folder(folder) if sources is None else load_sources(sources, config)


def load_sources(sources: list[Source], config: Config) -> PlaybookSet:
    """Files (with their last good versions, when a running bot has them), checked against config.yaml."""
    return _assemble(sources, None, config.all_room_tags or None, known_groups(config))


def load_folder(
    folder: Path,
    *,
    registry: Registry | None = None,
    room_tags: set[str] | None = None,
    groups: Groups | None = None,
) -> PlaybookSet:
    """Load every playbook; a broken file is left out and its problems listed, others load."""
    sources = read_folder(folder)
    return missing_folder(folder) if sources is None else _assemble(sources, registry, room_tags, groups)


def load_texts(
    sources: dict[str, str],
    *,
    registry: Registry | None = None,
    room_tags: set[str] | None = None,
    groups: Groups | None = None,
) -> PlaybookSet:
    """Playbooks from strings (display name -> YAML): tests build bots without files."""
    files = [Source(name, name, text) for name, text in sources.items()]
    return _assemble(files, registry, room_tags, groups)


def _assemble(
    sources: list[Source], registry: Registry | None, room_tags: set[str] | None, groups: Groups | None
) -> PlaybookSet:
    resolved = resolve(sources, registry or load_abilities(), room_tags=room_tags)
    for order, pb in enumerate(resolved.playbooks):
        pb.order = order
    loaded = PlaybookSet(
        resolved.playbooks, resolved.problems, resources=resolved.resources, fallbacks=resolved.fallbacks
    )
    old = {path for path, fallback in resolved.fallbacks.items() if fallback.running}
    # A last good version's warnings point at lines the file no longer has: its errors are what to fix now.
    loaded.warnings = [w for w in lint(resolved.playbooks, loaded.index, groups) if w.location.path not in old]
    return loaded
