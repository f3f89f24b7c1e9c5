"""What a message carries that moderation looks for (`has:`): links (a link card or a URL in the text), QR
codes, contact cards, mini-programs and mainland mobile numbers, less what the shop allows as its own."""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import urlsplit

from bot.events import MessageEvent
from bot.textnorm import fold

HAS = ("link", "qrcode", "card", "miniprogram", "phone")
APPID = re.compile(r"wx[0-9a-f]{16}", re.I)
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]*[a-z]{2,}[a-z0-9-]*$")


class AllowList(Protocol):
    """The shop's own links, mini-programs and QR codes (config.yaml `moderation: {allow: ...}`,
    bot/moderation/config.py): hosts as `host_of` gives them, appids in lower case."""

    @property
    def domains(self) -> tuple[str, ...]: ...

    @property
    def miniprograms(self) -> tuple[str, ...]: ...

    @property
    def qr_prefixes(self) -> tuple[str, ...]: ...


def host_of(value: str) -> str | None:
    """A host as allow-lists compare it: lower case, no trailing dot, IDN as punycode; None when it is none."""
    host = value.strip().lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host if _HOST.match(host) else None


_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_TLDS = (
    "com|cn|net|org|top|xyz|vip|cc|info|me|io|co|link|club|site|shop|online|ltd|wang|icu|fun|ink|live|app|tv|"
    "hk|tw|biz|store|tech|pro|work|ren|cloud|asia|mobi|love|life|group|world|today|red|kim|pub|bid|win|loan"
)
# A URL with a scheme, www.-anything, or a bare host on a common top-level domain (evil.top/x); never the
# domain of an e-mail address (a@qq.com) or a part of a longer word.
_URL = re.compile(
    rf"(?:https?://|www\.){_URL_CHARS}+"
    rf"|(?<![\w.@/-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})(?![a-z0-9-])(?::\d+)?(?:/{_URL_CHARS}*)?",
    re.I,
)
_TRAILING = ".,;:!?)'\"]"
# What a URL spelt out with spaces (h t t p : / / w w w . x . c o m) is once they are gone: only one with a scheme
# or www., which ordinary chat never spaces out.
_SPACED = re.compile(rf"(?:https?://|www\.){_URL_CHARS}+", re.I)
_SPACES = re.compile(r"\s+")
# A mainland mobile number: 1[3-9] and nine more digits, with spaces, dashes or dots between any of them, and
# maybe +86 before; never a part of a longer number.
_SEP = r"[\s\-–—.]*"
_PHONE = re.compile(rf"(?<!\d)(?:(?:\+|00)?86{_SEP})?1{_SEP}[3-9](?:{_SEP}\d){{9}}(?!\d)")
_QR_BOUNDARY = "/?#&"


def _urls(folded: str) -> list[str]:
    """The URLs of a folded text, in order; if none, those it spells out with spaces between the characters."""
    if "." not in folded and ":" not in folded:  # every URL has a dot (a host, www.) or a scheme's ://
        return []  # most chat: not scanned by the URL patterns, character by character
    found = [m.group().rstrip(_TRAILING) for m in _URL.finditer(folded)]
    if not found and _SPACES.search(folded):
        found = [m.group().rstrip(_TRAILING) for m in _SPACED.finditer(_SPACES.sub("", folded))]
    return found


def first_url(text: str) -> str | None:
    """The first URL of a text (`message.url` when the event carries none)."""
    found = _urls(fold(text))
    return found[0] if found else None


def allowed_link(url: str, allow: AllowList) -> bool:
    """The shop's own domain or one of its subdomains (never shop.example.com.evil.cn, never a user@ trick)."""
    if not allow.domains:
        return False
    try:
        raw = urlsplit(url if "//" in url.split("?")[0] else f"//{url}").hostname
    except ValueError:
        return False
    host = host_of(raw or "")
    return host is not None and any(host == d or host.endswith(f".{d}") for d in allow.domains)


def allowed_qr(text: str, allow: AllowList) -> bool:
    """A QR code whose text starts with one of the shop's prefixes, up to a path, query or fragment boundary."""
    code = text.strip().casefold()
    for prefix in allow.qr_prefixes:
        start = prefix.casefold()
        if code == start or (
            code.startswith(start) and (start[-1] in _QR_BOUNDARY or code[len(start)] in _QR_BOUNDARY)
        ):
            return True
    return False


def allowed_miniprogram(url: str | None, allow: AllowList) -> bool:
    """A mini-program by its appid: the first appid in `message.url` (the connector puts it first)."""
    found = APPID.search(url or "")
    return found is not None and found.group().lower() in allow.miniprograms


def present(event: MessageEvent, allow: AllowList) -> set[str]:
    """Which of HAS the message has, the shop's own links, QR codes and mini-programs left out."""
    found: set[str] = set()
    kind = event.content
    if kind == "link" and not (event.url and allowed_link(event.url, allow)):
        found.add("link")
    if kind == "miniprogram" and not allowed_miniprogram(event.url, allow):
        found.add("miniprogram")
    if kind == "card":
        found.add("card")
    if event.qr and not allowed_qr(event.qr, allow):
        found.add("qrcode")
    if event.text:
        text = fold(event.text)
        if any(not allowed_link(url, allow) for url in _urls(text)):
            found.add("link")
        if "1" in text and _PHONE.search(text):  # every mobile number starts 1 (most chat has no 1: no scan)
            found.add("phone")
    return found
