"""The Node.js Wechaty gateway (tests/gateway) that the integration tests and the connector contract suite
talk to: the official Wechaty stack with a mocked WeChat behind it, not a fake written here.

One gateway serves the whole test session, whichever folder asks for it first (it takes about two seconds
to start); each module makes its own contacts and rooms in it, and one client at a time is connected (the
gateway serves one event stream). Nothing sleeps to wait: tests poll the gateway, each with a deadline.

Without node or tests/gateway/node_modules the tests that need it are skipped on a developer's machine and
fail under CI=true (CI must run them: `.ci/run` installs the Node packages first).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from backends import missing

ROOT = Path(__file__).resolve().parents[1]
GATEWAY_DIR = ROOT / "tests" / "gateway"
TOKEN = "insecure_qunguan_integration"
BOT_ID = "qunguan-bot"
BOT_NAME = "群管机器人"  # the bot account's WeChat name in the gateway
DEADLINE = 15.0  # seconds: generous for a loaded CI machine; a pass takes milliseconds
GATEWAY_START = 60.0  # seconds; it is ready in about two

T = TypeVar("T")


def sent_to(where: str, text: str) -> Callable[[dict[str, Any]], bool]:
    """A message the bot sent to a room or person (by id) that contains `text` and that WeChat accepted."""
    return lambda m: where in (m["room_id"], m["to_id"]) and text in m["text"] and m["error"] is None


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


class Gateway:
    """The Node gateway process and its JSON control channel (see tests/gateway/README.md)."""

    def __init__(self, process: subprocess.Popen[bytes], ready: dict[str, Any], bot_name: str = BOT_NAME) -> None:
        self.process = process
        self.ready = ready
        self.endpoint: str = ready["endpoint"]
        self.token: str = ready["token"]
        self.bot_id: str = ready["bot_id"]
        self.bot_name = bot_name
        self.startup_ms: int = ready["startup_ms"]
        self._base = f"http://127.0.0.1:{ready['control_port']}"

    @classmethod
    def start(cls, *, token: str = TOKEN, bot_id: str = BOT_ID, bot_name: str = BOT_NAME) -> Gateway:
        """Start it and log the bot account in; skipped (failed under CI) where node or its packages are missing.
        A fleet's tests start one per WeChat account, each with its own bot account and token."""
        node = shutil.which("node")
        if node is None:
            missing("node is not installed")
        if not (GATEWAY_DIR / "node_modules" / "wechaty-puppet-service").is_dir():
            missing("tests/gateway/node_modules is missing: npm install --prefix tests/gateway --no-audit --no-fund")
        env = {
            **os.environ,
            "WECHATY_PUPPET_SERVICE_TOKEN": token,
            "GATEWAY_BOT_ID": bot_id,
            "GATEWAY_BOT_NAME": bot_name,
        }
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
        gw = cls(process, json.loads(first[0]), bot_name)
        gw.post("/login")
        return gw

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # --watch-stdin: it exits on EOF
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

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


_RUNNING = pytest.StashKey[Gateway]()


@pytest.fixture(scope="session")
def gateway(request: pytest.FixtureRequest) -> Gateway:
    """The session's gateway: started by the first test that needs it, stopped when the session ends.

    Each folder's conftest.py imports this fixture; the stash keeps it one process for all of them.
    """
    config = request.config
    if _RUNNING not in config.stash:
        config.stash[_RUNNING] = Gateway.start()
        config.add_cleanup(config.stash[_RUNNING].close)
    return config.stash[_RUNNING]
