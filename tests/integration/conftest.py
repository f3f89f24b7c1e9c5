"""Integration tests against the official Node.js Wechaty stack (tests/gateway), not a fake written here.

One gateway serves the whole session (it takes about two seconds to start); each module makes
its own contacts and rooms in it, and a bot runs as a real `qunguan run --connector wechaty`
process, one at a time (the gateway serves one event stream). Nothing sleeps to wait: tests poll
the gateway's logs, the bot's log lines or the database, each with a deadline.

Without node or tests/gateway/node_modules these tests are skipped on a developer's machine and
fail under CI=true (CI must run them: `.ci/run` installs the Node packages first).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_DIR = ROOT / "tests" / "gateway"
TOKEN = "insecure_qunguan_integration"
BOT_ID = "qunguan-bot"
BOT_NAME = "群管机器人"  # the bot account's WeChat name in the gateway
DEADLINE = 15.0  # seconds: generous for a loaded CI machine; a pass takes milliseconds
GATEWAY_START = 60.0  # seconds; it is ready in about two

T = TypeVar("T")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip on a developer's machine, fail in CI: these tests must not silently vanish there."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: integration tests may not be skipped)", pytrace=False)
    pytest.skip(reason)


def eventually(probe: Callable[[], T | None], *, timeout: float = DEADLINE, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy, or fail at the deadline."""
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}", pytrace=False)
        time.sleep(0.02)  # allowed-sleep: the pause between two polls of a real subprocess


# ---------------------------------------------------------------- the gateway


class Gateway:
    """The Node gateway process and its JSON control channel (see tests/gateway/README.md)."""

    def __init__(self, process: subprocess.Popen[bytes], ready: dict[str, Any]) -> None:
        self.process = process
        self.ready = ready
        self.endpoint: str = ready["endpoint"]
        self.token: str = ready["token"]
        self.bot_id: str = ready["bot_id"]
        self.bot_name = BOT_NAME
        self.startup_ms: int = ready["startup_ms"]
        self._base = f"http://127.0.0.1:{ready['control_port']}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self._base + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                out = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            out = json.loads(exc.read())
        if not out.get("ok"):
            raise AssertionError(f"gateway {method} {path} {body}: {out.get('error')}")
        return out

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        return self.call("POST", path, body)

    def mark(self) -> int:
        """The last seq so far: what the bot does next comes after it."""
        return int(self.call("GET", "/state")["seq"])

    def sent(self, since: int = 0) -> list[dict[str, Any]]:
        return self.call("GET", f"/sent?since={since}")["messages"]

    def actions(self, since: int = 0) -> list[dict[str, Any]]:
        return self.call("GET", f"/actions?since={since}")["actions"]

    def wait_sent(self, since: int, match: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The first message the bot sent after `since` that matches."""

        def probe() -> dict[str, Any] | None:
            return next((m for m in self.sent(since) if match(m)), None)

        try:
            return eventually(probe, what=what)
        except pytest.fail.Exception:
            texts = [(m["room_id"] or m["to_id"], m["text"], m["error"]) for m in self.sent(since)]
            pytest.fail(f"timed out waiting for {what}; the bot sent since then: {texts}", pytrace=False)

    def wait_action(self, since: int, action: str, **fields: Any) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            return next(
                (
                    a
                    for a in self.actions(since)
                    if a["action"] == action and all(a.get(k) == v for k, v in fields.items())
                ),
                None,
            )

        return eventually(probe, what=f"gateway action {action} {fields}")


@pytest.fixture(scope="session")
def gateway() -> Iterator[Gateway]:
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    if not (GATEWAY_DIR / "node_modules" / "wechaty-puppet-service").is_dir():
        missing("tests/gateway/node_modules is missing: npm install --prefix tests/gateway --no-audit --no-fund")
    env = {**os.environ, "WECHATY_PUPPET_SERVICE_TOKEN": TOKEN, "GATEWAY_BOT_ID": BOT_ID, "GATEWAY_BOT_NAME": BOT_NAME}
    process = subprocess.Popen(
        [str(node), str(GATEWAY_DIR / "gateway.mjs"), "--port", "0", "--control-port", "0", "--watch-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stdin is not None and process.stderr is not None
    errors: list[bytes] = []
    threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True).start()  # type: ignore[arg-type]
    first: list[bytes] = []  # exactly one line once ready; EOF if it died
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(GATEWAY_START)
    if not first or not first[0]:
        process.kill()
        process.wait()
        pytest.fail(f"the gateway did not start ({process.returncode}): {b''.join(errors).decode()[-2000:]}")
    gw = Gateway(process, json.loads(first[0]))
    gw.post("/login")
    try:
        yield gw
    finally:
        process.stdin.close()  # --watch-stdin: it exits on EOF
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
