"""Child processes of the bench: a fresh interpreter per measurement that must not share the bench's memory,
imports or globals. A child prints one JSON line; a child that fails becomes an error, never a crash."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def env() -> dict[str, str]:
    """The repository first on the path, so `bench` imports from any working directory."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _tail(text: str) -> str:
    return (text.strip().splitlines() or ["no output"])[-1]


def run_json(args: list[str], *, timeout: float, cwd: Path | None = None) -> dict[str, Any]:
    """Run `python ARGS...` and return its last output line as JSON, or {"error": why}."""
    try:
        done = subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=cwd or ROOT,
            env=env(),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {_tail(done.stderr or done.stdout)}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"unexpected output: {lines[-1][:200]}"}


def timed(args: list[str], *, timeout: float, cwd: Path) -> dict[str, Any]:
    """Wall time of `python ARGS...` from spawn to exit, as an operator waits for a command."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env()
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {_tail(done.stderr or done.stdout)}"}
    return {"seconds": elapsed, "output": done.stdout.strip()}


def until_line(args: list[str], *, timeout: float) -> dict[str, Any]:
    """Wall time from spawn to the child's first output line (its JSON), then let it finish."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env()
    )
    try:
        assert child.stdout is not None
        ready, _w, _x = select.select([child.stdout], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired(args, timeout)
        line = child.stdout.readline()
        elapsed = time.perf_counter() - start
        _out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    if not line:
        return {"error": f"exit {child.returncode}: {_tail(err)}"}
    return {"seconds": elapsed, **json.loads(line)}
