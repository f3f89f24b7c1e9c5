"""What a WeChat message carries reaches the bot: link cards, mini-programs, contact cards, files, pictures with
the text of their QR code, and a hostile picture (20 MB, corrupt, a decompression bomb) is still a picture.

The puppet service is faked at the edge (its payload lookups and its picture stream); everything above it is
the connector, and the pictures are read by the real decoder (zxing-cpp over Pillow).
"""

from __future__ import annotations

import asyncio
import enum
import io
import logging
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import segno

from bot.connectors.wechaty import WechatyConnector
from bot.events import Event, MessageEvent
from bot.media.qr import MAX_BYTES

MessageType = enum.Enum(
    "MessageType",
    "MESSAGE_TYPE_TEXT MESSAGE_TYPE_IMAGE MESSAGE_TYPE_URL MESSAGE_TYPE_MINI_PROGRAM MESSAGE_TYPE_CONTACT "
    "MESSAGE_TYPE_ATTACHMENT MESSAGE_TYPE_VIDEO MESSAGE_TYPE_AUDIO MESSAGE_TYPE_EMOTICON MESSAGE_TYPE_LOCATION",
)
AD = "https://u.wechat.com/EAbc123"
CHUNK = 1024 * 1024


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG of a few hundred bytes whose header declares width x height pixels (2.5 GB once unpacked)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1) * 8)  # the start of the pixels: all a bomb needs to look real
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


class Stub:
    """The puppet service's gRPC stub: the picture stream, served in 1 MB chunks (counted)."""

    def __init__(self) -> None:
        self.pictures: dict[str, bytes] = {}
        self.held: dict[str, asyncio.Event] = {}  # a picture whose stream waits for this
        self.served = 0

    async def message_image_stream(self, *, id: str, type: int) -> AsyncIterator[Any]:
        if id in self.held:
            await self.held[id].wait()
        data = self.pictures[id]
        yield SimpleNamespace(file_box_chunk=SimpleNamespace(data=b"", name="picture.png"))
        for start in range(0, len(data), CHUNK):
            self.served += 1
            yield SimpleNamespace(file_box_chunk=SimpleNamespace(data=data[start : start + CHUNK], name=""))


class Puppet:
    """Payloads of the messages said so far, link cards, mini-programs and contact cards."""

    def __init__(self) -> None:
        self._puppet_stub = Stub()
        self.messages: dict[str, Any] = {}
        self.links: dict[str, Any] = {}
        self.minis: dict[str, Any] = {}
        self.cards: dict[str, str] = {}

    async def message_payload(self, message_id: str) -> Any:
        return self.messages[message_id]

    async def message_url(self, message_id: str) -> Any:
        return self.links[message_id]

    async def message_mini_program(self, message_id: str) -> Any:
        return self.minis[message_id]

    async def message_contact(self, message_id: str) -> str:
        return self.cards[message_id]

    async def contact_payload(self, contact_id: str) -> Any:
        name = {"wx_ad": "兼职小妹"}.get(contact_id, f"name-{contact_id}")
        return SimpleNamespace(id=contact_id, name=name, friend=False)

    async def room_payload(self, room_id: str) -> Any:
        return SimpleNamespace(id=room_id, topic="会员福利1群")


@pytest.fixture
def puppet() -> Puppet:
    return Puppet()


@pytest.fixture
def heard() -> asyncio.Queue[Event]:
    return asyncio.Queue()


@pytest.fixture
def connector(puppet: Puppet, heard: asyncio.Queue[Event], tmp_path: Path) -> WechatyConnector:
    connector = WechatyConnector(endpoint="127.0.0.1:1", token="insecure_unit", cache_dir=tmp_path)
    connector._link._puppet = puppet
    connector.self_id = "qunguan-bot"

    async def emit(event: Event) -> None:
        heard.put_nowait(event)

    connector._emit = emit
    return connector


async def post(connector: WechatyConnector, puppet: Puppet, message_id: str, kind: str, **payload: Any) -> None:
    """A member of r1@chatroom posts a message of the puppet's type MESSAGE_TYPE_<kind>."""
    puppet.messages[message_id] = SimpleNamespace(
        **{
            "id": message_id,
            "type": MessageType[f"MESSAGE_TYPE_{kind}"],
            "from_id": "u9",
            "room_id": "r1@chatroom",
            "text": "",
            "filename": "",
            "mention_ids": [],
            "timestamp": 0,
            **payload,
        }
    )
    await connector._handle("message", SimpleNamespace(message_id=message_id))


async def next_message(heard: asyncio.Queue[Event]) -> MessageEvent:
    event = await asyncio.wait_for(heard.get(), 30)
    assert isinstance(event, MessageEvent)
    return event


async def test_a_link_card_comes_with_its_address_and_title(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]
) -> None:
    puppet.links["m1"] = SimpleNamespace(url="https://ad.example.com/join", title="兼职日结，加我", description="")
    await post(connector, puppet, "m1", "URL", text="<msg><appmsg>...</appmsg></msg>")
    event = await next_message(heard)
    assert (event.content, event.url, event.title, event.text) == (
        "link",
        "https://ad.example.com/join",
        "兼职日结，加我",
        "",
    )


async def test_a_mini_program_comes_with_its_appid_and_title(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]
) -> None:
    puppet.minis["m1"] = SimpleNamespace(appid="wx1234567890", username="gh_abc", title="领红包", description="")
    await post(connector, puppet, "m1", "MINI_PROGRAM")
    event = await next_message(heard)
    assert (event.content, event.url, event.title) == ("miniprogram", "wx1234567890", "领红包")


async def test_a_contact_card_comes_with_the_name_of_the_contact_it_shares(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]
) -> None:
    puppet.cards["m1"] = "wx_ad"
    await post(connector, puppet, "m1", "CONTACT")
    event = await next_message(heard)
    assert (event.content, event.title, event.url) == ("card", "兼职小妹", None)


@pytest.mark.parametrize(
    ("puppet_type", "kind"),
    [("ATTACHMENT", "file"), ("VIDEO", "video"), ("AUDIO", "voice"), ("EMOTICON", "emoticon"), ("LOCATION", "other")],
)
async def test_other_messages_say_what_they_are(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event], puppet_type: str, kind: str
) -> None:
    await post(connector, puppet, "m1", puppet_type, filename="价目表.pdf" if kind == "file" else "", text="<xml/>")
    event = await next_message(heard)
    assert (event.content, event.text) == (kind, "")
    assert event.title == ("价目表.pdf" if kind == "file" else None)


async def test_a_text_is_still_a_text(connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]) -> None:
    await post(connector, puppet, "m1", "TEXT", text="签到")
    event = await next_message(heard)
    assert (event.content, event.text, event.url, event.qr) == ("text", "签到", None, None)


async def test_a_link_card_whose_details_cannot_be_fetched_is_still_a_link_card(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event], caplog: pytest.LogCaptureFixture
) -> None:
    await post(connector, puppet, "m1", "URL")  # no payload for m1: the lookup fails
    event = await next_message(heard)
    assert (event.content, event.url) == ("link", None)
    assert "the link in message m1 came without its details" in caplog.text


async def test_a_picture_with_a_qr_code_comes_with_the_text_of_the_code(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]
) -> None:
    puppet._puppet_stub.pictures["m1"] = qr_png(AD)
    await post(connector, puppet, "m1", "IMAGE")
    event = await next_message(heard)
    assert (event.content, event.qr) == ("image", AD)


async def test_a_picture_without_a_qr_code_is_a_picture(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event], caplog: pytest.LogCaptureFixture
) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), "pink").save(out, "JPEG")
    puppet._puppet_stub.pictures["m1"] = out.getvalue()
    await post(connector, puppet, "m1", "IMAGE")
    event = await next_message(heard)
    assert (event.content, event.qr) == ("image", None)
    assert "not read" not in caplog.text


def twenty_mb() -> bytes:
    return qr_png(AD) + b"\0" * (20 * 1024 * 1024)


@pytest.mark.parametrize(
    ("picture", "why"),
    [
        (twenty_mb, "the picture is over 10 MB"),
        (lambda: qr_png(AD)[:200], "the picture cannot be read"),  # cut short
        (lambda: b"GIF89a" + b"\xff" * 5000, "the picture cannot be read"),
        (bomb_png, "too many pixels"),
    ],
    ids=["20 MB", "truncated", "garbage", "decompression bomb"],
)
async def test_a_hostile_picture_is_a_picture_without_a_qr_code_and_one_log_line(
    connector: WechatyConnector,
    puppet: Puppet,
    heard: asyncio.Queue[Event],
    caplog: pytest.LogCaptureFixture,
    picture: Any,
    why: str,
) -> None:
    puppet._puppet_stub.pictures["m1"] = picture()
    with caplog.at_level(logging.WARNING, logger="qunguan.wechaty"):
        await post(connector, puppet, "m1", "IMAGE")
        event = await next_message(heard)
    assert (event.content, event.qr) == ("image", None)
    lines = [r for r in caplog.records if r.name == "qunguan.wechaty"]
    assert [r.getMessage() for r in lines if "m1" in r.getMessage()] == [
        next(r.getMessage() for r in lines if why in r.getMessage())
    ]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in lines)  # one line, no traceback


async def test_a_big_picture_is_refused_as_soon_as_it_passes_the_limit_not_after_all_of_it(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]
) -> None:
    puppet._puppet_stub.pictures["m1"] = twenty_mb()
    await post(connector, puppet, "m1", "IMAGE")
    await next_message(heard)
    assert puppet._puppet_stub.served == MAX_BYTES // CHUNK + 1  # of 21 chunks


async def test_a_slow_picture_does_not_hold_up_the_messages_after_it(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]
) -> None:
    release = puppet._puppet_stub.held["m1"] = asyncio.Event()
    puppet._puppet_stub.pictures["m1"] = qr_png(AD)
    await post(connector, puppet, "m1", "IMAGE")
    await post(connector, puppet, "m2", "TEXT", text="签到")
    assert (await next_message(heard)).text == "签到"  # the picture is still on its way
    release.set()
    assert (await next_message(heard)).qr == AD


async def test_a_picture_that_never_comes_is_a_picture_without_a_qr_code(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event], caplog: pytest.LogCaptureFixture
) -> None:
    puppet._puppet_stub.held["m1"] = asyncio.Event()  # never set
    connector._pictures.fetch_timeout = 0.01
    await post(connector, puppet, "m1", "IMAGE")
    event = await next_message(heard)
    assert (event.content, event.qr) == ("image", None)
    assert "picture m1 not read for a QR code: no picture within 0.01 s" in caplog.text


async def test_stopping_delivers_the_pictures_being_read_unread(
    connector: WechatyConnector, puppet: Puppet, heard: asyncio.Queue[Event]
) -> None:
    puppet._puppet_stub.held["m1"] = asyncio.Event()  # never set
    await post(connector, puppet, "m1", "IMAGE")
    await connector._pictures.close()
    event = await next_message(heard)
    assert (event.content, event.qr) == ("image", None)
