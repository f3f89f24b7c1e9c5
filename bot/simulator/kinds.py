"""What the simulator sends besides texts: a link card, a picture with a QR code, a contact card, a mini-program,
a picture, a file, so moderation playbooks can be tried as WeChat would trigger them.

`/qr TEXT` draws a real QR code picture (the qrcode package, as for the login QR code) and has the bot's own
reader (bot/media/qr.py) read it, as the wechaty connector reads a picture a member posts.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import qrcode
from qrcode.exceptions import DataOverflowError

from bot.media.qr import ImageRefused, read_qr

USAGE = {
    "/link": "用法：/link 网址 [标题]，例如 /link https://example.com 限时秒杀（发一张链接卡片）",
    "/qr": "用法：/qr 内容，例如 /qr https://u.wechat.com/abc（发一张图片，图里的二维码就是这个内容）",
    "/card": "用法：/card 名字（发一张名片，推荐这个人）",
    "/mini": "用法：/mini 标题 [appid]（发一个小程序）",
    "/file": "用法：/file 文件名（发一个文件）",
}
KIND_COMMANDS = (*USAGE, "/image")
TOO_LONG = "二维码装不下这么多内容：请短一点（网址一般没问题）"


@dataclass(frozen=True)
class Carried:
    kind: str
    url: str | None = None
    title: str | None = None
    qr: str | None = None


def _picture(text: str) -> bytes:
    out = io.BytesIO()
    qrcode.make(text).save(out)
    return out.getvalue()


async def carried(word: str, rest: str) -> Carried | str:
    """What `/link ...`, `/qr ...` (and the others) send; the usage line when something is missing."""
    if word == "/image":
        return Carried("image")
    if not rest:
        return USAGE[word]
    first, _, more = rest.partition(" ")
    more = more.strip() or None
    if word == "/link":
        return Carried("link", url=first, title=more)
    if word == "/mini":
        return Carried("miniprogram", url=more, title=first)
    if word == "/card":
        return Carried("card", title=rest)
    if word == "/file":
        return Carried("file", title=rest)
    try:
        picture = await asyncio.to_thread(_picture, rest)
    except (DataOverflowError, ValueError):  # more than a QR code holds
        return TOO_LONG
    try:
        found = await read_qr(picture)
    except ImageRefused:
        found = None
    return Carried("image", qr=found)
