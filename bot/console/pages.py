"""The console's few HTML pages so far: plain, phone-sized, Chinese; every value escaped."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.6}"
    "button{font-size:1.2rem;padding:.6rem 2rem}"
)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """`body` is HTML the caller built with escaped values."""
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · 群管后台</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def login_form() -> HTMLResponse:
    """What opening a link shows: only pressing 登录 (a POST) uses the link, not WeChat's preview fetch."""
    return page(
        "登录群管后台",
        '<form method="post" action=""><p>点下面的按钮登录。链接只能用一次，10 分钟内有效。</p>'
        "<button type=submit>登录</button></form>",
    )


def login_hint() -> HTMLResponse:
    return page("请先登录", "<p>请在微信里私聊机器人发送 <b>/后台</b>，打开它回复的链接登录。</p>", 401)


def refused(message: str, status: int = 403) -> HTMLResponse:
    return page("无法登录", f"<p>{escape(message)}</p>", status)


def home(member_id: str, role: str, csrf: str) -> HTMLResponse:
    return page(
        "群管后台",
        f"<p>已登录：{escape(member_id)}（{escape(role)}）</p><p>后台页面正在建设中（issue 15）。</p>"
        f'<form method="post" action="logout"><input type=hidden name=csrf value="{escape(csrf)}">'
        "<button type=submit>退出登录</button></form>",
    )
