"""A fleet account's own logout, through the real Wechaty gateway: the running `qunguan run` hears it from the
puppet service and tells the group robot of alerts.webhooks (a real HTTP server here), then tells it the login."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import Gateway, Qunguan

FLEET = """accounts: {shop-a: {}}
fleet: {heartbeat: 1s, lease: 5s}
alerts: {webhooks: [{format: json, url_env: QG_IT_ROBOT}]}
"""


@pytest.fixture
def robot(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """A group robot on 127.0.0.1: the JSON bodies posted to it, in order."""
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("QG_IT_ROBOT", f"http://127.0.0.1:{server.server_address[1]}/hook?key=secret")
    yield posts
    server.shutdown()
    server.server_close()


def test_a_logout_and_the_login_after_it_reach_the_group_robot(
    gateway: Gateway, qunguan: Qunguan, eventually: Callable[..., Any], robot: list[dict[str, Any]]
) -> None:
    home = qunguan.shop(endpoint=gateway.endpoint, extra=FLEET)
    bot = qunguan.start(home, token=gateway.token)
    try:
        bot.wait_line(r"running; stop with")
        gateway.post("/logout", reason="用户在手机上退出了微信")
        told = eventually(lambda: robot[0] if robot else None, what="the logout alert")
        assert (told["account"], told["status"], told["reason"]) == ("shop-a", "logged_out", "用户在手机上退出了微信")
        assert told["text"].startswith("【群管】微信号 shop-a 已掉线（原因：用户在手机上退出了微信）于 ")
        with bot.db() as db:
            assert db.execute("SELECT status FROM fleet_accounts").fetchall() == [("logged_out",)]
        gateway.post("/login")
        back = eventually(lambda: robot[1] if len(robot) > 1 else None, what="the recovery alert")
        assert back["status"] == "recovered" and back["text"].startswith("【群管】微信号 shop-a 已恢复在线（")
    finally:
        assert bot.stop() == 0
    assert len(robot) == 2 and "secret" not in bot.log
