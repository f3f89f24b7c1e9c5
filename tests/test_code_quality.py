"""House rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

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
