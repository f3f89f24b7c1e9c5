"""What the 玩法 page reads besides the files: each playbook's runs from the traces (last run, runs and failures in
24 hours), a file's versions with the diff against the one before, and scenario runs on a scratch database."""

from __future__ import annotations

import asyncio
import difflib
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, case, func, select

from bot.console.tables import Trace
from bot.playbook.errors import Problems
from bot.playbook.library import SCENARIO_DIR
from bot.store import dialect
from bot.store.tables import PlaybookVersion

if TYPE_CHECKING:
    from bot.config import Config
    from bot.playbook.library import PlaybookSet
    from bot.scenario import Result

_traces = Trace.__table__
_versions = PlaybookVersion.__table__
SHOWN_VERSIONS = 50  # a file's newest versions the page lists
DIFF_LINES = 400  # lines of one diff: a bigger change is cut, and says so
SCRATCH = ":memory:"  # scenario runs never touch the shop's database
TYPED = "输入的场景"
RUN_STAGES = ("playbook", "window", "moderation")  # a playbook runs as these; a command's trace is named by the command


def run_counts(since: datetime) -> Any:
    """fn(conn) for the Reader: playbook id -> {last_run, runs, failures} from the traces."""

    def read(conn: Connection) -> dict[str, dict[str, Any]]:
        stage = _traces.c.stage.in_(RUN_STAGES)
        ran = _traces.c.outcome.in_(("ran", "failed"))
        last = select(_traces.c.name, func.max(_traces.c.at)).where(stage, ran).group_by(_traces.c.name)
        out: dict[str, dict[str, Any]] = {
            name: {"last_run": dialect.aware(at).isoformat(), "runs": 0, "failures": 0}
            for name, at in conn.execute(last)
        }
        recent = (
            select(
                _traces.c.name,
                func.sum(case((ran, 1), else_=0)),
                func.sum(case((_traces.c.outcome == "failed", 1), else_=0)),
            )
            .where(stage, _traces.c.at >= since)
            .group_by(_traces.c.name)
        )
        for name, runs, failures in conn.execute(recent):
            entry = out.setdefault(name, {"last_run": None, "runs": 0, "failures": 0})
            entry.update(runs=int(runs or 0), failures=int(failures or 0))
        return out

    return read


def day_before(now: datetime) -> datetime:
    return now - timedelta(hours=24)


def file_versions(key: str) -> Any:
    """fn(conn): the file's newest versions, newest first, each with its diff against the one before."""

    def read(conn: Connection) -> list[dict[str, Any]]:
        query = (
            select(_versions)
            .where(_versions.c.path == key)
            .order_by(_versions.c.at.desc(), _versions.c.id.desc())
            .limit(SHOWN_VERSIONS + 1)
        )
        rows = list(conn.execute(query))
        out = []
        for row, before in zip(rows, [*rows[1:], None], strict=True):
            if len(out) == SHOWN_VERSIONS:
                break
            out.append(
                {
                    "id": row.id,
                    "at": dialect.aware(row.at).isoformat(),
                    "by": row.loaded_by,
                    "hash": row.hash,
                    "diff": diff(before.text if before is not None else "", row.text),
                }
            )
        return out

    return read


def version_text(key: str, version: int) -> Any:
    def read(conn: Connection) -> str | None:
        query = select(_versions.c.text).where(_versions.c.path == key, _versions.c.id == version)
        return conn.execute(query).scalar()

    return read


def diff(old: str, new: str) -> list[dict[str, str]]:
    """Lines of a unified diff as {kind: '+', '-', ' ' or '@', text}: the page shows them as text."""
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "之前", "这一版", n=2, lineterm=""))[2:]
    out = [{"kind": line[:1] if line[:1] in "+-@" else " ", "text": line[1:]} for line in lines[:DIFF_LINES]]
    if len(lines) > DIFF_LINES:
        out.append({"kind": "@", "text": f"……还有 {len(lines) - DIFF_LINES} 行改动没有显示"})
    return out


def scenarios(folder: Path) -> list[str]:
    """The scenario files under the folder's tests/, by their path inside it."""
    from bot.scenario import scenario_files  # the scenario runner brings the bot's runtime: not for `qunguan check`

    home = folder / SCENARIO_DIR
    return [p.relative_to(folder).as_posix() for p in scenario_files([home])] if home.is_dir() else []


def related(scenario: str, key: str, ids: list[str]) -> bool:
    """A scenario is the playbook's when its name says so: it contains the playbook's id, or it starts with a word
    of the id or of the file's folders (tests/checkin.yaml is daily-checkin's, tests/moderation-*.yaml are
    moderation/*'s)."""
    stem = Path(scenario).stem
    words = {w for i in ids for w in i.split("-")} | set(Path(key).parent.parts) | {Path(key).stem}
    return any(i in stem for i in ids) or stem.split("-")[0] in words


def result_json(result: Result) -> dict[str, Any]:
    return {"name": result.name, "path": result.path, "passed": result.passed, "detail": result.detail}


def run_tests(folder: Path | None, names: list[str], typed: str | None, playbooks: PlaybookSet, config: Config) -> Any:
    """Blocking (call it in a thread): its own event loop, and a scratch in-memory database per scenario, as
    `qunguan test` does. Returns (results, problems of the scenario files)."""
    return asyncio.run(_run(folder, names, typed, playbooks, config))


async def _run(
    folder: Path | None, names: list[str], typed: str | None, playbooks: PlaybookSet, config: Config
) -> tuple[list[Result], list[Any]]:
    from bot.scenario import parse_scenario, run_files, run_scenario

    results: list[Result] = []
    files = [folder / name for name in names] if folder is not None else []
    _, _, problems = await run_files(files, playbooks, config, results.append, database=SCRATCH)
    if typed is not None:
        found = Problems()
        with tempfile.TemporaryDirectory() as home:
            path = Path(home) / "scenario.yaml"
            path.write_text(typed, encoding="utf-8")
            scenario = parse_scenario(path, TYPED, found)
        problems = [*problems, *found.sorted()]
        if scenario is not None:
            results.append(await run_scenario(scenario, playbooks, config, database=SCRATCH))
    return results, problems
