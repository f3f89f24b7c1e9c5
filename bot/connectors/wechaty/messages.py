"""What a WeChat message carries, from the puppet's message types and payloads: MessageEvent.content/url/title/qr.

python-wechaty 0.10.7 names the puppet's message types MESSAGE_TYPE_*; a link card's address and title come
from `message_url`, a mini-program's appid and title from `message_mini_program`, a contact card's contact from
`message_contact`. A detail the puppet service cannot give does not drop the message: it comes without it.

A picture is read for a QR code beside the connector's pump, so a slow one never holds up the events behind it
(it reaches the bot once read: after messages sent just after it). Its bytes are streamed from the puppet
service (MessageImageStream: python-wechaty's FileBox would fetch URLs with blocking calls and cannot read the
service's Uuid boxes) and refused past bot.media.qr.MAX_BYTES as they come in; bot.media.qr reads them off the
event loop with its own limits. A picture that cannot be fetched or read is logged in one line and still
delivered, as a picture without a QR code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.connectors.wechaty.link import Link
from bot.connectors.wechaty.lookups import Lookups
from bot.connectors.wechaty.shims import first_line
from bot.events import MessageEvent
from bot.media.qr import ImageRefused, read_qr, refuse_size

log = logging.getLogger("qunguan.wechaty")

KINDS = {
    "MESSAGE_TYPE_TEXT": "text",
    "MESSAGE_TYPE_IMAGE": "image",
    "MESSAGE_TYPE_URL": "link",
    "MESSAGE_TYPE_MINI_PROGRAM": "miniprogram",
    "MESSAGE_TYPE_CONTACT": "card",
    "MESSAGE_TYPE_ATTACHMENT": "file",
    "MESSAGE_TYPE_VIDEO": "video",
    "MESSAGE_TYPE_AUDIO": "voice",
    "MESSAGE_TYPE_EMOTICON": "emoticon",
}
IMAGE_HD = 2  # ImageType.IMAGE_TYPE_HD: big enough to read a QR code, smaller than the original
FETCH_TIMEOUT = 20.0  # seconds to stream one picture from the puppet service
MAX_READING = 32  # pictures being fetched and read at once; more are delivered unread (and logged)


def kind_of(message_type: Any) -> str:
    """The `message.kind` of a puppet message type (an enum member; `other` for what we do not tell apart)."""
    return KINDS.get(getattr(message_type, "name", str(message_type)), "other")


@dataclass(frozen=True)
class Carried:
    url: str | None = None
    title: str | None = None


async def carried(link: Link, lookups: Lookups, message_id: str, kind: str, payload: Any) -> Carried:
    """The address and title of a link card, mini-program, contact card or file; raises only for a dropped link."""
    try:
        if kind == "link":
            card = await link.rpc("message_url", message_id)
            return Carried(card.url or None, card.title or None)
        if kind == "miniprogram":
            mini = await link.rpc("message_mini_program", message_id)
            return Carried(mini.appid or mini.username or None, mini.title or mini.description or None)
        if kind == "card":
            contact_id = await link.rpc("message_contact", message_id)
            return Carried(title=(await lookups.member(contact_id)).name or None if contact_id else None)
        if kind == "file":
            return Carried(title=payload.filename or None)
    except Exception as exc:
        if link.trouble(exc):
            raise
        log.warning("the %s in message %s came without its details: %s", kind, message_id, first_line(exc))
    return Carried()


async def picture(link: Link, message_id: str) -> bytes:
    """The picture's bytes from the puppet service, refused as soon as they pass the size limit."""
    data = bytearray()
    async with contextlib.aclosing(link.stream("message_image_stream", id=message_id, type=IMAGE_HD)) as chunks:
        async for response in chunks:
            data += response.file_box_chunk.data
            refuse_size(len(data))
    return bytes(data)


Deliver = Callable[[MessageEvent], Awaitable[None]]


class Pictures:
    """Pictures being fetched and read for QR codes, each in a task of its own, delivered once read."""

    def __init__(self, link: Link, deliver: Deliver) -> None:
        self._link = link
        self._deliver = deliver
        self._reading: dict[asyncio.Task[None], MessageEvent] = {}
        self.fetch_timeout = FETCH_TIMEOUT

    async def read(self, event: MessageEvent, message_id: str) -> None:
        """Deliver `event` with `qr` filled in, later; at once and unread when too many pictures are being read."""
        if len(self._reading) >= MAX_READING:
            log.warning("picture %s not read for a QR code: %d pictures are being read already", event.id, MAX_READING)
            await self._deliver(event)
            return
        task = asyncio.create_task(self._read(event, message_id), name=f"wechaty-picture-{event.id}")
        self._reading[task] = event
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._reading.pop(task, None)

    async def _read(self, event: MessageEvent, message_id: str) -> None:
        try:
            async with asyncio.timeout(self.fetch_timeout):
                data = await picture(self._link, message_id)
            qr = await read_qr(data)
        except TimeoutError:
            log.warning("picture %s not read for a QR code: no picture within %g s", event.id, self.fetch_timeout)
            qr = None
        except ImageRefused as exc:
            log.warning("picture %s not read for a QR code: %s", event.id, exc)
            qr = None
        except Exception as exc:
            log.warning("picture %s not read for a QR code: fetching it failed (%s)", event.id, first_line(exc))
            qr = None
        await self._deliver(replace(event, qr=qr))

    async def close(self) -> None:
        """Stop reading: the pictures being read are delivered unread."""
        reading = dict(self._reading)
        for task in reading:
            task.cancel()
        await asyncio.gather(*reading, return_exceptions=True)
        for task, event in reading.items():
            if task.cancelled():  # the picture still counts
                log.warning("picture %s not read for a QR code: the connector is stopping", event.id)
                await self._deliver(event)
