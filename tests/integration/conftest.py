"""Integration tests against the official Node.js Wechaty stack (tests/gateway), not a fake written here.

The gateway is the session's (tests/wechaty_gateway.py, shared with the connector contract suite); each
module makes its own contacts and rooms in it, and a bot runs as a real `qunguan run --connector wechaty`
process, one at a time (the gateway serves one event stream). Nothing sleeps to wait: tests poll the
gateway's logs, the bot's log lines or the database, each with a deadline.

Without node or tests/gateway/node_modules these tests are skipped on a developer's machine and fail under
CI=true (CI must run them: `.ci/run` installs the Node packages first).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from backends import missing
from wechaty_gateway import DEADLINE, ROOT, Gateway, eventually, gateway

# re-exported: the session's gateway fixture, and Gateway for the type hints of the tests here
__all__ = ["BotProcess", "Gateway", "Qunguan", "gateway"]


# ---------------------------------------------------------------- the bot


@dataclass
class BotProcess:
    """`qunguan run --connector wechaty` in a folder of its own, its stderr collected line by line."""

    home: Path
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<EOF>")
            self._changed.notify_all()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, pattern: str, *, after: int = 0, timeout: float = DEADLINE) -> int:
        """Index of the first stderr line after `after` that matches; fails at EOF or the deadline."""
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                for i in range(after, len(self.lines)):
                    if regex.search(self.lines[i]):
                        return i
                    if self.lines[i] == "<EOF>":
                        pytest.fail(f"the bot exited before logging /{pattern}/:\n{self.log}", pytrace=False)
                after = len(self.lines)
                left = end - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no /{pattern}/ in the bot's log within {timeout:g} s:\n{self.log}", pytrace=False)
                self._changed.wait(left)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the bot did not stop within {timeout:g} s of signal {sig}:\n{self.log}", pytrace=False)

    def db(self) -> sqlite3.Connection:
        """A reader on the bot's database (WAL: it sees each committed event while the bot runs)."""
        return sqlite3.connect(self.home / "data" / "qunguan.db", timeout=5)


class Qunguan:
    """Makes shop folders (config.yaml, data/) and runs the real command in them."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp

    def shop(
        self,
        *,
        endpoint: str,
        playbooks: Path | None = None,
        login_timeout: str = "20s",
        sending: str = "{pacing: false}",
        log_level: str = "INFO",
        timezone: str = "Asia/Shanghai",
        rooms: tuple[str, ...] = (),
        extra: str = "",
    ) -> Path:
        """A fresh working directory with a config.yaml for the wechaty connector; `rooms`: ids of the groups
        bound in it (the real WeChat path manages no group by its topic), `extra`: more config.yaml lines."""
        home = self.tmp.mktemp("shop")
        (home / "config.yaml").write_text(
            f"""bot: {{name: 群管小助手}}
database: data/qunguan.db
playbooks: {playbooks or ROOT / "playbooks"}
connector: wechaty
wechaty: {{endpoint: "{endpoint}", login_timeout: {login_timeout}, reconnect_max: 2s}}
dm_fallback: mention
sending: {sending}
log_level: {log_level}
timezone: {timezone}
rooms: [{", ".join(f'{{id: "{room}"}}' for room in rooms)}]
{extra}""",
            encoding="utf-8",
        )
        return home

    @staticmethod
    def env(token: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WECHATY_")}
        if token is not None:
            env["WECHATY_PUPPET_SERVICE_TOKEN"] = token
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, home: Path, *, token: str | None) -> BotProcess:
        """`qunguan run --connector wechaty` with `home` as its working directory (to see what it writes)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--connector", "wechaty", "--config", "config.yaml"],
            cwd=home,
            env=self.env(token),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return BotProcess(home, process)

    def run(self, home: Path, *, token: str | None, timeout: float = DEADLINE) -> tuple[int, str, float]:
        """Run to the end: exit code, stderr and seconds taken."""
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "run", "--connector", "wechaty", "--config", "config.yaml"],
            cwd=home,
            env=self.env(token),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return done.returncode, done.stderr, time.monotonic() - started


@pytest.fixture(scope="session")
def qunguan(tmp_path_factory: pytest.TempPathFactory) -> Qunguan:
    return Qunguan(tmp_path_factory)


@pytest.fixture(scope="session", name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    return eventually


@pytest.fixture(scope="session", autouse=True)
def _wechaty_installed() -> None:
    # find_spec, not import: only the connector knows how to import it (and where its cache goes)
    if importlib.util.find_spec("wechaty") is None:
        missing("the wechaty package is not installed: pip install -e '.[test]'")
