"""The WeChat login QR code as text, for the operator's terminal (no browser, no image viewer on a server)."""

from __future__ import annotations

import io

import qrcode


def login_qr(code: str, link: str, *, drawn: bool = False) -> str:
    """The login QR code as text, between what to do and where else to find it.

    Half blocks with the light modules drawn, as a phone reads them on a dark terminal; `drawn` (a
    real terminal) adds colours, so a light-themed terminal shows it right too.
    """
    qr = qrcode.QRCode(border=2)
    qr.add_data(code)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    drawing = out.getvalue()
    if drawn:  # white on black, whatever the terminal's theme
        drawing = "".join(f"\x1b[38;5;255;48;5;232m{line}\x1b[0m\n" for line in drawing.splitlines())
    return (
        "请用机器人的微信扫码登录 / scan this QR code with the bot's WeChat to log in:\n"
        f"{drawing}"
        f"二维码显示不全时，在浏览器里打开 / if it does not show well, open: {link}\n"
    )
