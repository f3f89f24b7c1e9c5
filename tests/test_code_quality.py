"""House rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.events import FriendRequest, MemberRef, Outgoing, RoomRef

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


MAX_LINES = 400
SIZED = ("bot", "handlers", "bench")


def test_no_module_is_over_400_lines() -> None:
    """A module over 400 lines does more than one job: split it by responsibility, with names a reader finds."""
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text("utf-8").splitlines())
        for folder in SIZED
        for path in sorted((ROOT / folder).rglob("*.py"))
    }
    offenders = [f"{name}: {lines} lines" for name, lines in sizes.items() if lines > MAX_LINES]
    assert offenders == [], f"modules over {MAX_LINES} lines in {', '.join(SIZED)}: " + "; ".join(offenders)


CALENDAR_READS = {"now", "utcnow", "today"}  # datetime.now(), datetime.utcnow(), datetime.today(), date.today()
LOOP_FACTORIES = {"get_running_loop", "get_event_loop"}  # the event loop's .time() is a monotonic clock


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_dotted(node.func)}()"
    return "?"


def clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for each read of the clock in a module's source, called or passed on, as the rule below
    defines a read."""
    tree = ast.parse(source)
    calendars: set[str] = set()  # local names of datetime.datetime and datetime.date
    modules: set[str] = set()  # local names of the datetime module
    times: set[str] = set()  # local names of the time module
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("time", "datetime"):
                    (times if alias.name == "time" else modules).add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found.append((node.lineno, f"from time import {', '.join(a.name for a in node.names)}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "datetime":
            calendars |= {a.asname or a.name for a in node.names if a.name in ("datetime", "date")}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = _dotted(node.value)
        calendar = owner in calendars or any(owner in (f"{m}.datetime", f"{m}.date") for m in modules)
        loop = owner.removesuffix("()").split(".")[-1] in LOOP_FACTORIES or "loop" in owner.split(".")[-1]
        if owner in times or (node.attr in CALENDAR_READS and calendar) or (node.attr == "time" and loop):
            found.append((node.lineno, _dotted(node)))
    return sorted(found)


def test_only_bot_clock_reads_the_wall_clock() -> None:
    """Only bot/clock.py reads the clock; everything else takes a Clock, so that tests, scenarios and the
    simulator's virtual time control every moment the bot sees and waits for.

    Reading the clock covers every clock the machine has: the calendar (datetime.now/utcnow/today,
    date.today, time.time), the monotonic and performance counters (time.monotonic, time.perf_counter,
    their _ns forms) and the event loop's clock (loop.time(), get_running_loop().time()). Nothing of the
    `time` module is used outside bot/clock.py: all it offers is such reads, and time.sleep, which
    blocks the event loop. A datetime's .time() (the time of day of a moment already known) is
    not a read. bench/ measures real elapsed time on purpose, and tests/ may wait for a real subprocess:
    neither is covered.
    """
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for folder in (ROOT / "bot", ROOT / "handlers")
        for path in sorted(folder.rglob("*.py"))
        if path != ROOT / "bot" / "clock.py"
        for line, what in clock_reads(path.read_text("utf-8"))
    ]
    assert offenders == [], "the clock read outside bot/clock.py (take a Clock): " + "; ".join(offenders)


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import UTC, datetime\nx = datetime.now(UTC)",
        "from datetime import datetime as dt\nx = dt.utcnow()",
        "from datetime import UTC, datetime\nstamp = partial(datetime.now, UTC)",
        "from datetime import date\nx = date.today()",
        "import datetime\nx = datetime.datetime.now()",
        "import time\nx = time.monotonic()",
        "import time as t\nstamp = t.time_ns",
        "from time import perf_counter",
        "import asyncio\nx = asyncio.get_running_loop().time()",
        "def f(loop):\n    return loop.time()",
        "def f(self):\n    return self._loop.time()",
    ],
)
def test_the_clock_rule_sees_every_way_of_reading_the_clock(source: str) -> None:
    assert clock_reads(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "def f(self):\n    return self.clock.now()",
        "def f(now):\n    return now.time().replace(tzinfo=None)",
        "from datetime import time\nx = time(0)",
        "from bot.clock import SystemClock\nx = SystemClock().now()",
    ],
)
def test_the_clock_rule_lets_a_clock_and_the_time_of_day_be(source: str) -> None:
    assert clock_reads(source) == []


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


# What each of the Connector protocol's calls to the platform takes, to call it in the rule's test below.
PLATFORM_CALLS = {
    "send": lambda: (Outgoing("你好", member=MemberRef("u1")),),
    "accept_friend": lambda: (FriendRequest("wx-f1", datetime(2026, 11, 23, tzinfo=UTC), MemberRef("u1")),),
    "is_friend": lambda: ("u1",),
    "remove": lambda: (RoomRef("r1"), MemberRef("u1")),
    "announce": lambda: (RoomRef("r1"), "群规"),
}


async def test_no_connector_call_while_a_unit_of_work_is_open() -> None:
    """The rule of issue 12: the engine never waits for the platform while it holds the database. The memory
    connector, which every TestBot and scenario runs on, fails each of the protocol's platform calls made inside
    a unit of work (and TestBot.close fails the test that made one), so the whole suite runs under the rule. A
    new platform call in the protocol must be listed here, and guarded there."""
    from bot.connectors.base import Connector
    from bot.connectors.memory import ConnectorCallInUnit, MemoryConnector
    from bot.store import Store

    protocol = {name for name in vars(Connector) if not name.startswith("_")} - {"start", "stop"}
    assert protocol == set(PLATFORM_CALLS)
    connector = MemoryConnector()
    store = await Store.open(":memory:")
    try:
        for name, args in PLATFORM_CALLS.items():
            async with store.unit():
                with pytest.raises(ConnectorCallInUnit):
                    await getattr(connector, name)(*args())
            await getattr(connector, name)(*args())  # outside a unit the same call is fine
    finally:
        await store.close()
    assert connector.calls_in_unit == list(PLATFORM_CALLS)
