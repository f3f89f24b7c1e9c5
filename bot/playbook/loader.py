"""YAML reading with line marks and strict scalars.

PyYAML speaks YAML 1.1, where `no`, `on`, `y` are booleans and `22:00` is the
integer 1320. Operators write quiz answers and times, so only `true`/`false`
are booleans here, times and dates stay strings, and every value keeps the
line and column it came from for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.playbook.errors import Location, Problems

Path = tuple[str | int, ...]

_STRICT_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars: no yes/no/on/off, no base-60, no dates."""


StrictLoader.yaml_implicit_resolvers = {}
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _STRICT_BOOL, list("tTfF"))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])


@dataclass
class Doc:
    """One YAML document as plain data, plus where each key and value stood."""

    path: str
    data: Any
    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)

    def at(self, path: Path) -> Location:
        """Location of the value at `path`, or of its nearest located parent."""
        for n in range(len(path), -1, -1):
            loc = self.values.get(path[:n])
            if loc is not None:
                return loc
        return Location(self.path, 1, 1)

    def key_at(self, path: Path) -> Location:
        """Location of the key naming `path` (falls back to the value)."""
        return self.keys.get(path) or self.at(path)


def _loc(path: str, mark: yaml.Mark) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, doc: Doc, loader: StrictLoader, problems: Problems) -> None:
        self.doc = doc
        self.loader = loader
        self.problems = problems

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.doc.values[path] = _loc(self.doc.path, node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.add(
                    _loc(self.doc.path, key_node.start_mark),
                    "merge keys '<<' are not supported; write the keys out",
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.add(_loc(self.doc.path, key_node.start_mark), "a key must be a plain word")
                continue
            key = self.loader.construct_object(key_node)
            if isinstance(key, (list, dict)) or key is None:
                self.problems.add(_loc(self.doc.path, key_node.start_mark), "empty key")
                continue
            if key in out:
                self.problems.add(_loc(self.doc.path, key_node.start_mark), f"duplicate key '{key}'")
                continue
            self.doc.keys[(*path, key)] = _loc(self.doc.path, key_node.start_mark)
            out[key] = self.build(value_node, (*path, key))
        return out


def parse_yaml(text: str, path: str, problems: Problems) -> Doc | None:
    """Parse one YAML document; syntax errors go to `problems` and give None."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _loc(path, mark) if mark else Location(path, 1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        problems.add(where, f"YAML syntax error: {what}")
        return None
    except yaml.YAMLError as exc:
        problems.add(Location(path, 1, 1), f"YAML error: {exc}")
        return None
    finally:
        loader.dispose()
    doc = Doc(path, None)
    if node is None:
        return doc
    before = len(problems)
    doc.data = _Builder(doc, loader, problems).build(node, ())
    return doc if len(problems) == before else None


def read_yaml(file: str, display: str, problems: Problems) -> Doc | None:
    """Read and parse a file; unreadable files are problems, not exceptions."""
    try:
        with open(file, encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        problems.add(Location(display, 1, 1), "file is not UTF-8 text")
        return None
    except OSError as exc:
        problems.add(Location(display, 1, 1), f"cannot read file: {exc.strerror}")
        return None
    return parse_yaml(text, display, problems)
