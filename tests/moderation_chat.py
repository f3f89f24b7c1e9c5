"""What the moderation tests share: a member posting a link card, a mini-program, a contact card or a picture with
a QR code, as the connectors hand such messages to the bot (bot/events.py: content, url, title, qr)."""

from __future__ import annotations

import uuid
from textwrap import dedent

from bot.events import MessageEvent, Outgoing
from bot.testing import TestBot


async def post(
    bot: TestBot,
    member: str,
    text: str = "",
    *,
    room: str | None = "r1",
    kind: str = "text",
    url: str | None = None,
    qr: str | None = None,
    title: str | None = None,
) -> list[str]:
    """A member posts a message of any kind; the texts the bot sent in answer."""
    event = MessageEvent(
        id=f"post-{uuid.uuid4().hex}",
        at=bot.clock.now(),
        sender=bot.member(member),
        text=text,
        room=bot.room(room) if room else None,
        content=kind,
        url=url,
        qr=qr,
        title=title,
    )
    return texts(await bot.dispatch(event))


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def playbooks(**files: str) -> dict[str, str]:
    return {f"playbooks/{name}.yaml": dedent(text) for name, text in files.items()}


COUPON = """
    id: coupon
    when:
      - message: {keywords: [抢券]}
    do:
      - reply: 券来了
"""
