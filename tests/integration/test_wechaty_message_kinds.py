"""Link cards, mini-programs, contact cards and pictures with a real QR code, posted in a mocked WeChat group
through the real Wechaty stack, reach playbooks as message.kind/url/title/qr (issue 13, item 7's sending half).

The picture is a QR code made here (segno), streamed by the puppet service and read by the bot (zxing-cpp); a
20 MB picture, a corrupt one and a decompression bomb are still pictures, without a QR code, and one log line each.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import segno
from test_wechaty_kinds import bomb_png

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import BotProcess, Gateway, Qunguan

ROOM = "kinds@chatroom"
AD, BOSS, FRIEND = "wx_kinds_ad", "wx_kinds_boss", "wx_kinds_friend"
SHOW = """\
id: show
name: 回显消息种类
when:
  - message: {regex: ".*"}
do:
  - reply: "{{ message.kind }}|{{ message.url | default('-', true) }}|{{ message.title | default('-', true) }}|\\
      {{ message.qr | default('-', true) }}"
"""


def picture(text: str, *, cut: int | None = None, padding: int = 0) -> str:
    """A PNG of a QR code saying `text` (its first `cut` bytes; `padding` zero bytes after it), in base64."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=6, border=4)
    return base64.b64encode(out.getvalue()[:cut] + b"\0" * padding).decode()


@pytest.fixture(scope="module")
def bot(gateway: Gateway, qunguan: Qunguan) -> Iterator[BotProcess]:
    gateway.post("/contact", id=AD, name="兼职小妹")
    gateway.post("/contact", id=BOSS, name="店长")
    gateway.post("/contact", id=FRIEND, name="推荐的人")
    gateway.post("/room", id=ROOM, topic="防广告测试群", members=[AD, BOSS])
    home = qunguan.shop(endpoint=gateway.endpoint, playbooks=Path("playbooks"), rooms=(ROOM,))
    (home / "playbooks").mkdir()
    (home / "playbooks" / "show.yaml").write_text(SHOW, encoding="utf-8")
    process = qunguan.start(home, token=gateway.token)
    try:
        process.wait_line(r"logged in to WeChat as " + gateway.bot_name)
        process.wait_line(r"running; stop with")
        yield process
    finally:
        process.stop()


def answer(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["room_id"] == ROOM and m["text"].endswith(text) and m["error"] is None


def post(gateway: Gateway, kind: str, **carried: Any) -> int:
    since = gateway.mark()
    gateway.post("/room/post", room=ROOM, **{"from": AD}, kind=kind, **carried)
    return since


def test_a_link_card_carries_its_address_and_title(gateway: Gateway, bot: BotProcess) -> None:
    since = post(gateway, "link", url="https://ad.example.com/join", title="兼职日结")
    gateway.wait_sent(since, answer("link|https://ad.example.com/join|兼职日结|-"), "the link card's answer")


def test_a_mini_program_carries_its_appid_and_title(gateway: Gateway, bot: BotProcess) -> None:
    since = post(gateway, "miniprogram", appid="wx1234567890abcd", title="领红包", username="gh_ad")
    gateway.wait_sent(since, answer("miniprogram|wx1234567890abcd|领红包|-"), "the mini-program's answer")


def test_a_contact_card_carries_the_name_of_the_contact_it_shares(gateway: Gateway, bot: BotProcess) -> None:
    since = post(gateway, "card", contact=FRIEND)
    gateway.wait_sent(since, answer("card|-|推荐的人|-"), "the contact card's answer")


def test_a_picture_carries_the_text_of_its_real_qr_code(gateway: Gateway, bot: BotProcess) -> None:
    since = post(gateway, "image", image=picture("https://u.wechat.com/EAbc123"), name="ad.png")
    gateway.wait_sent(since, answer("image|-|-|https://u.wechat.com/EAbc123"), "the QR picture's answer")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (lambda: picture("https://u.wechat.com/big", padding=20 * 1024 * 1024), "over 10 MB"),
        (lambda: picture("https://u.wechat.com/cut", cut=120), "cannot be read"),
        (lambda: base64.b64encode(bomb_png()).decode(), "too many pixels"),
    ],
    ids=["20 MB", "corrupt", "decompression bomb"],
)
def test_a_hostile_picture_is_still_a_picture_without_a_qr_code(
    gateway: Gateway, bot: BotProcess, data: Callable[[], str], why: str
) -> None:
    before = len(bot.lines)
    since = post(gateway, "image", image=data(), name="ad.png")
    gateway.wait_sent(since, answer("image|-|-|-"), "the hostile picture's answer")
    bot.wait_line(rf"picture \S+ not read for a QR code: .*{why}", after=before)
    assert "Traceback" not in "\n".join(bot.lines[before:])
