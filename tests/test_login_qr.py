"""The login QR code drawn for a real terminal: the same drawing, white on black whatever the theme.

(tests/integration/test_wechaty_logs.py decodes the plain drawing, as a phone would.)
"""

from __future__ import annotations

import re

from bot.connectors.login_qr import login_qr

CODE = "https://login.weixin.qq.com/l/QunguanUnit=="
LINK = "https://wechaty.js.org/qrcode/x"
COLOURS = "\x1b[38;5;255;48;5;232m"


def test_a_real_terminal_gets_the_same_drawing_in_white_on_black() -> None:
    plain = login_qr(CODE, LINK).splitlines()
    drawn = login_qr(CODE, LINK, drawn=True).splitlines()
    assert (
        plain[0] == drawn[0]
        and plain[-1] == drawn[-1] == f"二维码显示不全时，在浏览器里打开 / if it does not show well, open: {LINK}"
    )
    assert "\x1b" not in "".join(plain)
    assert all(line.startswith(COLOURS) and line.endswith("\x1b[0m") for line in drawn[1:-1])
    assert [re.sub(r"\x1b\[[\d;]*m", "", line) for line in drawn] == plain
    assert set("".join(plain[1:-1])) <= {"█", "▀", "▄", "\xa0"}
