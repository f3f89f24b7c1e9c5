"""config.yaml's `moderation:` section: the shop's own links, mini-programs and QR codes (never adverts), and the
member tags that are never moderated (staff never are: any role in `staff:`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from bot.conditions import as_list, as_text
from bot.moderation.content import APPID, host_of
from bot.playbook.types import Params
from bot.registry import config_section


def _domain(value: str) -> str:
    text = value.strip()
    host = host_of(urlsplit(text if "//" in text else f"//{text}").hostname or "")
    if host is None:
        raise PydanticCustomError(
            "domain", "'domains' takes domain names like shop.example.com; got '{got}'", {"got": value}
        )
    return host


def _appid(value: str) -> str:
    if not APPID.fullmatch(value.strip()):
        raise PydanticCustomError(
            "appid", "'miniprograms' takes mini-program appids like wx0123456789abcdef; got '{got}'", {"got": value}
        )
    return value.strip().lower()


def _filled(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty", "must not be empty", {})
    return value.strip()


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


Domain = Annotated[str, BeforeValidator(as_text), AfterValidator(_domain)]
AppId = Annotated[str, BeforeValidator(as_text), AfterValidator(_appid)]
Filled = Annotated[str, BeforeValidator(as_text), AfterValidator(_filled)]
Domains = Annotated[tuple[Domain, ...], BeforeValidator(as_list), AfterValidator(_unique)]
AppIds = Annotated[tuple[AppId, ...], BeforeValidator(as_list), AfterValidator(_unique)]
Texts = Annotated[tuple[Filled, ...], BeforeValidator(as_list), AfterValidator(_unique)]


class AllowSection(Params):
    """The shop's own: a link to one of `domains` (or a subdomain), a mini-program by its appid, a QR code whose
    text starts with one of `qr_prefixes` (up to a '/', '?', '#' or '&')."""

    domains: Domains = ()
    miniprograms: AppIds = ()
    qr_prefixes: Texts = ()


@config_section("moderation")
class ModerationSection(Params):
    """`moderation: {allow: {...}, exempt_tags: [白名单]}`: what is never an advert, and who is never moderated."""

    allow: AllowSection = AllowSection()
    exempt_tags: Texts = ()
