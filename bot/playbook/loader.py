"""YAML reading with line marks and strict scalars.

PyYAML speaks YAML 1.1, where `no`, `on`, `y` are booleans and `22:00` is the
integer 1320. Operators write quiz answers and times, so only `true`/`false`
are booleans here, times and dates stay strings, and every value keeps the
line and column it came from for error messages.
"""

from __future__ import annotations

import os
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
_STR = "tag:yaml.org,2002:str"
MAX_DEPTH = 64  # nesting levels a playbook may use; deeper is a mistake (or an attack on the recursion)
MAX_VALUES = 100_000  # values one file may expand to; the biggest real playbook has a few hundred
MAX_FILE_BYTES = 1024 * 1024  # a question bank of thousands of questions fits; a pasted log or a dump does not
_MB = 1024 * 1024


class _TooBig(Exception):
    def __init__(self, where: Location) -> None:
        self.where = where


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars: no yes/no/on/off, no base-60, no dates."""


# libyaml's parser, when PyYAML has it, reads a clean file about ten times faster (a shop with a thousand
# playbooks checks in well under two seconds). A file it refuses is read again by the Python parser, whose
# error messages and marks are the ones operators see.
FastLoader: type[yaml.SafeLoader] = (
    type("FastLoader", (yaml.CSafeLoader,), {}) if getattr(yaml, "__with_libyaml__", False) else StrictLoader
)

for _loader in {StrictLoader, FastLoader}:
    _loader.yaml_implicit_resolvers = {}
    _loader.add_implicit_resolver("tag:yaml.org,2002:bool", _STRICT_BOOL, list("tTfF"))
    _loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    _loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    _loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
    # Recognised only so the builder can refuse `<<` with a clear message instead of "unknown key '<<'".
    _loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


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
    def __init__(self, doc: Doc, loader: yaml.SafeLoader, problems: Problems) -> None:
        self.doc = doc
        self.loader = loader
        self.problems = problems
        self.count = 0  # values built so far

    def build(self, node: yaml.Node, path: Path, inside: frozenset[int] = frozenset()) -> Any:
        where = _loc(self.doc.path, node.start_mark)
        self.doc.values[path] = where
        self.count += 1
        if self.count > MAX_VALUES:  # aliases of aliases ("billion laughs") would expand without end
            raise _TooBig(where)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in inside:  # `x: &x [*x]`: an alias to a list or mapping that holds it
            self.problems.add(where, "an alias ('*') here points back to a list or mapping that contains it")
            return None
        if len(path) >= MAX_DEPTH:
            self.problems.add(where, f"nested more than {MAX_DEPTH} levels deep; no playbook needs that")
            return None
        inside = inside | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), inside) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        if _is_unquoted_template(node):
            self.problems.add(_loc(self.doc.path, node.start_mark), _QUOTE_TEMPLATE)
            return {}
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
            key = self._scalar(key_node)
            if isinstance(key, (list, dict)) or key is None:
                self.problems.add(_loc(self.doc.path, key_node.start_mark), "empty key")
                continue
            if key in out:
                first = self.doc.keys[(*path, key)]
                self.problems.add(
                    _loc(self.doc.path, key_node.start_mark),
                    f"duplicate key '{key}' (already on line {first.line}); keep one",
                )
                continue
            self.doc.keys[(*path, key)] = _loc(self.doc.path, key_node.start_mark)
            out[key] = self.build(value_node, (*path, key), inside)
        return out

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        """A plain value; a tag YAML cannot turn into one (`!!binary` of non-base64, `!!python/...`) is a problem."""
        if node.tag == _STR:  # most values: the text as written (what the loader's own constructor returns)
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception:  # `!!int nope` raises ValueError, `!!bool nope` KeyError, `!!python/...` no constructor
            self.problems.add(
                _loc(self.doc.path, node.start_mark),
                f"cannot read this value ({node.tag}): remove the '!!' tag or fix the value",
            )
            return None


_QUOTE_TEMPLATE = "a text that starts with '{{' must be in quotes, like \"{{ member.name }} 你好\""


def _is_unquoted_template(node: yaml.MappingNode) -> bool:
    """`reply: {{ member.name }}` unquoted reads as a mapping whose key is a mapping: say so plainly."""
    if not node.flow_style or not node.value:
        return False
    key = node.value[0][0]
    return isinstance(key, yaml.MappingNode) and key.start_mark.index == node.start_mark.index + 1


def _position(text: str, index: int, path: str) -> Location:
    before = text[:index]
    return Location(path, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def _starts_unquoted_template(text: str, mark: yaml.Mark) -> int | None:
    """Column (0-based) of an unquoted '{{' value on the mark's line, if there is one."""
    lines = text.splitlines()
    if mark.line >= len(lines):
        return None
    match = re.search(r"(?:^|:\s|-\s)\s*(\{\{)", lines[mark.line][: mark.column])
    return match.start(1) if match else None


_FLOW = {"sequence": ("list", "[", "]"), "mapping": ("mapping", "{", "}")}


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, path: str) -> tuple[Location, str]:
    """PyYAML's parser vocabulary ('<block end>', 'simple key') in the words an operator uses."""
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    where = _loc(path, mark) if mark else Location(path, 1, 1)
    ctx_where = _loc(path, exc.context_mark) if exc.context_mark else where
    if "'\\t'" in problem:
        return where, "a tab character: indent with spaces only"
    found = re.match(r"found character '(.)' that cannot start any token", problem)
    if found:
        return where, f"a text that starts with '{found[1]}' must be in quotes"
    if "quoted scalar" in context and "end of stream" in problem:
        return ctx_where, "this quoted text is never closed: add the closing quote"
    escape = re.match(r"found unknown escape character '(.+)'", problem)
    if escape and mark:
        return Location(path, mark.line + 1, mark.column), (
            f"'\\{escape[1]}' is not an escape inside double quotes: "
            "use single quotes for texts with backslashes, like regex: '^\\d+$'"
        )
    if problem.startswith("expected <block end>"):
        column = _starts_unquoted_template(text, mark) if mark else None
        if mark and column is not None:
            return Location(path, mark.line + 1, column + 1), _QUOTE_TEMPLATE
        if "'<scalar>'" in problem:
            return where, "unexpected text after a quoted or bracketed value: put the whole text in quotes"
        return where, "wrong indentation: this line does not line up with the lines above it"
    if problem == "could not find expected ':'":
        return ctx_where, "this line needs a ':' after its key (like 'key: value'), or is indented wrongly"
    if problem == "mapping values are not allowed here":
        return where, "unexpected ': ' here: put a text containing ': ' in quotes, or fix the indentation"
    if "but found '<stream end>'" in problem:
        return where, "the file ends too early: a '[', '{' or quote is not closed"
    closer = re.match(r"expected ',' or '[\]}]', but got", problem)
    flow = re.search(r"flow (sequence|mapping)", context)
    if closer and flow and exc.context_mark:
        what, opener, close = _FLOW[flow[1]]
        return where, (
            f"the {what} '{opener}' on line {exc.context_mark.line + 1} is not closed with '{close}' "
            "(or a ',' is missing between its items)"
        )
    alias = re.match(r"found undefined alias '(.+)'", problem)
    if alias:
        return where, f"'*{alias[1]}' names no '&{alias[1]}' anchor; a text that starts with '*' must be in quotes"
    if problem == "but found another document":
        return where, "a second document starts here: one playbook per file"
    if context and exc.context_mark and exc.context_mark is not mark:
        return where, f"{problem} ({context} on line {exc.context_mark.line + 1})"
    return where, problem


def parse_yaml(text: str, path: str, problems: Problems) -> Doc | None:
    """Parse one YAML document; syntax errors go to `problems` and give None."""
    loader: yaml.SafeLoader | None = None
    try:
        try:
            loader = FastLoader(text)
            node = loader.get_single_node()
        except yaml.YAMLError:
            if loader is not None:
                loader.dispose()
            loader = StrictLoader(text)
            node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        where, what = _syntax_problem(exc, text, path)
        problems.add(where, what if what == _QUOTE_TEMPLATE else f"YAML syntax error: {what}")
        return None
    except yaml.reader.ReaderError as exc:
        problems.add(
            _position(text, exc.position, path),
            f"the file contains an invisible control character (U+{exc.character:04X}) that YAML does not allow; "
            "delete it",
        )
        return None
    except yaml.YAMLError as exc:
        problems.add(Location(path, 1, 1), f"YAML error: {exc}")
        return None
    except RecursionError:  # past libyaml's 1,000 levels the Python parser recurses too deep
        problems.add(Location(path, 1, 1), f"nested more than {MAX_DEPTH} levels deep; no playbook needs that")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    doc = Doc(path, None)
    if node is None:
        return doc
    before = len(problems)
    try:
        doc.data = _Builder(doc, loader, problems).build(node, ())
    except _TooBig as big:
        problems.add(big.where, f"the aliases ('*') here expand to more than {MAX_VALUES:,} values; write it out")
        return None
    return doc if len(problems) == before else None


def read_yaml(file: str, display: str, problems: Problems) -> Doc | None:
    """Read and parse a file; unreadable or oversized files are problems, not exceptions."""
    text = read_text(file, display, problems)
    return None if text is None else parse_yaml(text, display, problems)


def read_text(file: str, display: str, problems: Problems) -> str | None:
    """A file's text; unreadable, oversized or not UTF-8 is a problem and None.

    The size is checked before reading, and the read itself stops past the limit (a file that grows, or one
    like /dev/zero that has no size), so a huge file never reaches memory or the alias-bomb check."""
    where = Location(display, 1, 1)
    try:
        with open(file, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                problems.add(where, _too_large(f"the file is {size / _MB:.1f} MB"))
                return None
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            problems.add(where, _too_large(f"the file is larger than {MAX_FILE_BYTES // _MB} MB"))
            return None
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(where, "file is not UTF-8 text: save it with UTF-8 encoding")
        return None
    except OSError as exc:
        problems.add(where, f"cannot read file: {exc.strerror}")
        return None


def _too_large(size: str) -> str:
    return f"{size}; a playbook may be at most {MAX_FILE_BYTES // _MB} MB: split it into several files"
