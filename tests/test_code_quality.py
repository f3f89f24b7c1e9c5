"""House rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "bot", ROOT / "handlers", ROOT / "tests"]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed: install the test extra (pip install -e '.[test]')")
    return subprocess.run([ruff, *args, *map(str, SOURCES)], capture_output=True, text=True, cwd=ROOT, check=False)


def test_ruff_check_is_clean() -> None:
    done = _ruff("check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean() -> None:
    done = _ruff("format", "--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_bot_clock_reads_the_wall_clock() -> None:
    pattern = re.compile(r"datetime\.(now|utcnow|today)\(|time\.time\(\)|date\.today\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in (ROOT / "bot", ROOT / "handlers")
        for path in folder.rglob("*.py")
        if path.name != "clock.py"
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_bot_never_imports_a_handler_by_name() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if re.search(r"^\s*(from|import) handlers\b", path.read_text("utf-8"), re.M)
    ]
    assert offenders == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the modules of bot/ and handlers/ it imports, wherever the import is written: at the top, inside
    a function, or under `if TYPE_CHECKING:` (a type-only import still ties the two modules together)."""
    files = {_module_name(p): p for folder in ("bot", "handlers") for p in (ROOT / folder).rglob("*.py")}

    def ours(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        imported: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(ours(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package
                    package = module.split(".")[: None if path.name == "__init__.py" else -1]
                    base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
                imported.update(ours(f"{base}.{alias.name}") for alias in node.names)
        graph[module] = {name for name in imported if name is not None and name != module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (the modules in order, the first again at the end), or [] when there is none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        path.append(module)
        for imported in sorted(graph[module]):
            if found := visit(imported):
                return found
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        if found := visit(module):
            return found
    return []


def test_no_import_cycle_in_bot_and_handlers() -> None:
    """Layers import downwards only: a cycle, even one of type-only imports, means two modules cannot be read or
    changed apart (issue 12)."""
    assert " -> ".join(_cycle(_import_graph())) == ""


def test_the_import_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


RUNTIME = ("bot.engine", "bot.app", "bot.outbox", "bot.intake", "bot.scheduler", "bot.commands", "bot.context")


def test_the_playbook_language_reaches_no_runtime_module() -> None:
    """`qunguan check` and the schema need the language and the registry, not the engine: bot/playbook gets what
    it needs (the reserved command names among it) from the registry passed in."""
    graph = _import_graph()
    reached: set[str] = set()
    todo = [m for m in graph if m.startswith("bot.playbook")]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    assert sorted(reached & {*RUNTIME, *(m for m in graph if m.startswith(("bot.connectors", "bot.stages")))}) == []


def test_handlers_never_reach_into_the_engine() -> None:
    """Abilities see a narrow context (ctx.resource, ctx.is_friend, ctx.admin, ...), never the engine behind it."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "handlers").rglob("*.py")
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if re.search(r"\.engine\b", line)
    ]
    assert offenders == []
