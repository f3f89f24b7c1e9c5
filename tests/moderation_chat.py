"""What the moderation tests share: a member posting a text, a link card, a mini-program, a contact card or a
picture with a QR code (TestBot.say with its kind), and what the bot answered, as texts."""

from __future__ import annotations

from textwrap import dedent

from bot.events import Outgoing
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
    """A member posts a message of any kind (in r1 unless told); the texts the bot sent in answer."""
    return texts(await bot.say(member, text, room=room, kind=kind, url=url, title=title, qr=qr))


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
