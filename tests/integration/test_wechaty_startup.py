"""`qunguan run --connector wechaty` when it cannot get going: exit 3 and one clear line, never a traceback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import Gateway, Qunguan

EXIT_CONNECTOR = 3
QUICK = 10.0  # seconds; a failure to connect is reported in about two (most of it importing wechaty)


def assert_one_clear_failure(code: int, stderr: str, *, chinese: str, english: str) -> None:
    assert code == EXIT_CONNECTOR, stderr
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]  # the last line is the one for the operator
    assert chinese in message and english in message, stderr


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (taken and released: nobody else grabs it within the test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts TCP connections and never answers: reachable, but no puppet service and no login."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()


def test_an_unreachable_endpoint_exits_3_at_once(qunguan: Qunguan, free_port: int) -> None:
    home = qunguan.shop(endpoint=f"127.0.0.1:{free_port}")
    code, stderr, took = qunguan.run(home, token="insecure_any")
    assert_one_clear_failure(
        code,
        stderr,
        chinese="连不上 Wechaty 服务",
        english=f"cannot reach the Wechaty puppet service at 127.0.0.1:{free_port}",
    )
    assert took < QUICK


def test_a_refused_token_exits_3(qunguan: Qunguan, gateway: Gateway) -> None:
    home = qunguan.shop(endpoint=gateway.endpoint)
    code, stderr, took = qunguan.run(home, token="insecure_not_the_right_one")
    assert_one_clear_failure(code, stderr, chinese="拒绝了 token", english="refused the token")
    assert "insecure_not_the_right_one" not in stderr  # wechaty's own logs would print it
    assert took < QUICK


def test_no_token_tells_the_operator_which_variable_to_set(qunguan: Qunguan) -> None:
    home = qunguan.shop(endpoint="127.0.0.1:9")
    code, stderr, _took = qunguan.run(home, token=None)
    assert_one_clear_failure(
        code, stderr, chinese="没有设置环境变量 WECHATY_PUPPET_SERVICE_TOKEN", english="is not set"
    )
    assert not (home / "data").exists()  # it stopped before opening anything


def test_no_login_within_login_timeout_exits_3(qunguan: Qunguan, silent_endpoint: str) -> None:
    home = qunguan.shop(endpoint=silent_endpoint, login_timeout="1s")
    code, stderr, took = qunguan.run(home, token="insecure_any")
    assert_one_clear_failure(code, stderr, chinese="1 秒内没有登录微信", english="no WeChat login within 1 s")
    assert took < QUICK
