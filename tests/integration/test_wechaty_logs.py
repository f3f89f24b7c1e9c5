"""What `qunguan run --connector wechaty` writes for the operator, through the real Wechaty stack.

- At DEBUG the libraries under python-wechaty (hpack, grpclib) print the HTTP/2 headers of every
  call, and the puppet token is one of them: it never appears, in any form.
- At INFO: one line per event handled and per message sent, stamped in the shop's timezone, member
  names escaped, and nothing from APScheduler's job runs (a 1-second job used to log 2 lines a second).
- When WeChat asks for a QR code scan, the code is drawn in the terminal, readable by a phone.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import zxingcpp
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import Gateway, Qunguan

ROOM = "logs@chatroom"
QIANG, WEI = "wx_log_qiang", "wx_log_wei"
HOSTILE = "阿强\n2026-01-01 00:00:00.000+0545 WARNING qunguan.engine: 伪造的一行\x1b]0;窗口标题\x07\x1b[2J"
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}([+-]\d{4}) (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")
CONTINUATION = "  | "  # the lines of a traceback, under the record they belong to


def bytes_shown(log: str) -> list[bytes]:
    """Every bytes literal in the log (hpack prints headers and header blocks as b'...')."""
    return [ast.literal_eval(b) for b in re.findall(r"""b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""", log)]


def assert_token_absent(log: str, token: str) -> None:
    assert token not in log
    assert quote(token, safe="") not in log
    huffman = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(token.encode())
    assert not [b for b in bytes_shown(log) if token.encode() in b or huffman in b]  # not even Huffman-coded


def test_debug_log_shows_the_grpc_traffic_but_never_the_token(gateway: Gateway, qunguan: Qunguan) -> None:
    gateway.post("/contact", id=WEI, name="小伟")
    gateway.post("/room", id=ROOM, topic="日志测试群", members=[WEI])
    home = qunguan.shop(endpoint=gateway.endpoint, log_level="DEBUG", rooms=(ROOM,))
    bot = qunguan.start(home, token=gateway.token)
    try:
        bot.wait_line(r"running; stop with")
        since = gateway.mark()
        gateway.post("/room/say", room=ROOM, **{"from": WEI}, text="签到")
        gateway.wait_sent(since, lambda m: m["room_id"] == ROOM and "签到成功" in m["text"], "the check-in reply")
    finally:
        assert bot.stop() == 0
    log = bot.log
    assert re.search(r" DEBUG hpack\.hpack: Adding b':authority'=b'\*\*\*' to the header table", log)  # the token
    assert re.search(r" DEBUG hpack\.hpack: Decoded \(b'grpc-message', b'OK'\)", log)
    assert_token_absent(log, gateway.token)


def test_a_refused_token_is_masked_in_the_services_answer_too(gateway: Gateway, qunguan: Qunguan) -> None:
    """The service answers a wrong token with it, in `grpc-message` and an `authorization` header."""
    refused = "insecure_refused_7d1e0b5a"
    home = qunguan.shop(endpoint=gateway.endpoint, log_level="DEBUG")
    code, stderr, _took = qunguan.run(home, token=refused)
    assert code == 3, stderr
    assert "b'grpc-message', b'Invalid%20Wechaty%20TOKEN%20%22***%22'" in stderr
    assert "b'authorization', b'Wechaty ***'" in stderr
    assert_token_absent(stderr, refused)


def test_info_log_is_one_line_per_event_and_send_in_shop_time_without_scheduler_chatter(
    gateway: Gateway, qunguan: Qunguan, eventually: Callable[..., Any]
) -> None:
    gateway.post("/contact", id=QIANG, name=HOSTILE)
    home = qunguan.shop(endpoint=gateway.endpoint, timezone="Asia/Kathmandu", rooms=(ROOM,))
    bot = qunguan.start(home, token=gateway.token)
    try:
        bot.wait_line(r"running; stop with")
        since = gateway.mark()
        gateway.post("/room/join", room=ROOM, members=[QIANG], inviter=WEI)
        gateway.wait_sent(since, lambda m: m["room_id"] == ROOM and QIANG in m["mention_ids"], "the welcome")
        gateway.post("/room/say", room=ROOM, **{"from": QIANG}, text="签到")
        gateway.wait_sent(since, lambda m: m["room_id"] == ROOM and "签到成功" in m["text"], "the check-in reply")
        # `qunguan reload` is answered by a 1-second scheduler job: the scheduler has run its jobs
        reload = subprocess.run(
            [sys.executable, "-m", "bot", "reload", "--config", "config.yaml"],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert reload.returncode == 0, reload.stdout + reload.stderr
        bot.wait_line(r" INFO qunguan\.outbox: sent reply \d+ .*\(playbook daily-checkin\)")
    finally:
        assert bot.stop() == 0
    lines = [line for line in bot.lines if line != "<EOF>"]
    assert all(RECORD.match(line) or line.startswith(CONTINUATION) for line in lines), bot.log
    records = [line for line in lines if RECORD.match(line)]
    assert {RECORD.match(line).group(1) for line in records} == {"+0545"}  # type: ignore[union-attr]
    stamp = datetime.strptime(records[-1][:28], "%Y-%m-%d %H:%M:%S.%f%z")
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)
    assert not [line for line in records if " apscheduler" in line], bot.log
    # the newline became a space (the engine's summary), the escape sequences are shown, not acted on
    escaped = "阿强 2026-01-01 00:00:00.000+0545 WARNING qunguan.engine: 伪造的一行\\x1b]0;窗口标题\\x07\\x1b[2J"
    assert [line for line in records if " INFO qunguan.engine: handled join " in line and escaped in line], bot.log
    assert [line for line in records if " INFO qunguan.engine: handled message " in line and escaped in line], bot.log
    assert [line for line in records if " INFO qunguan.outbox: sent " in line and "欢迎" in line], bot.log
    assert "\x1b" not in bot.log and "\x07" not in bot.log


# ---------------------------------------------------------------- the login QR code

LIGHT = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False), "\xa0": (False, False)}


def read_qr(drawing: list[str]) -> str:
    """Decode a QR code drawn with half blocks (light modules drawn, as on a dark terminal), as a phone would."""
    assert drawing and all(len(line) == len(drawing[0]) for line in drawing), drawing
    rows: list[list[bool]] = []
    for line in drawing:
        halves = [LIGHT[ch] for ch in line]
        rows += [[upper for upper, _ in halves], [lower for _, lower in halves]]
    scale = 6
    pixels = b"".join(bytes(255 if light else 0 for light in row for _ in range(scale)) * scale for row in rows)
    image = memoryview(pixels).cast("B", (len(rows) * scale, len(rows[0]) * scale))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, f"{len(found)} QR code(s) in the drawing"
    return found[0].text


def test_a_login_qr_code_is_drawn_in_the_terminal(gateway: Gateway, qunguan: Qunguan) -> None:
    code = "https://login.weixin.qq.com/l/QunguanIntegration=="
    gateway.post("/logout", reason="the shop's first login")
    try:
        gateway.post("/scan", qrcode=code)  # the service sends it to the bot as soon as it connects
        home = qunguan.shop(endpoint=gateway.endpoint)
        bot = qunguan.start(home, token=gateway.token)
        try:
            asked = bot.wait_line(r"请用机器人的微信扫码登录")
            link = bot.wait_line(r"https://wechaty\.js\.org/qrcode/", after=asked)
            assert read_qr(bot.lines[asked + 1 : link]) == code
            assert f"https://wechaty.js.org/qrcode/{quote(code, safe='')}" in bot.lines[link]
            gateway.post("/login")  # the phone scanned it
            bot.wait_line(r"logged in to WeChat as " + gateway.bot_name)
        finally:
            assert bot.stop() == 0
    finally:
        if not gateway.call("GET", "/state")["logged_in"]:
            gateway.post("/login")
