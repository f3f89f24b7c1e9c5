"""The built-in triggers of `when:`: their options and the variables they give a run."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from bot.conditions import as_list, as_text
from bot.moderation.content import HAS
from bot.moderation.flood import FloodRule
from bot.playbook.errors import did_you_mean
from bot.playbook.model import _ID
from bot.playbook.types import WORD_SCHEMA, Cron, Duration, LocalDateTime, Params, Regex, one_or_list
from bot.registry import MEMBER, resource, trigger

Where = Literal["group", "private", "any"]


Words = Annotated[list[str], BeforeValidator(as_list), one_or_list(WORD_SCHEMA)]


def _has_item(value: object) -> str:
    if value not in HAS:
        hint = did_you_mean(value, HAS)
        raise PydanticCustomError(
            "has", "'has' takes {options}; got '{got}'{hint}", {"options": ", ".join(HAS), "got": value, "hint": hint}
        )
    return str(value)


HasItem = Annotated[str, AfterValidator(_has_item), WithJsonSchema({"enum": list(HAS)})]
HasItems = Annotated[list[HasItem], BeforeValidator(as_list), one_or_list({"enum": list(HAS)})]


def _list_name(value: object) -> object:
    if isinstance(value, list):
        raise PydanticCustomError(
            "words",
            "'words' names a word list declared under 'wordlists:', like 'words: ads'; "
            "for a few words of this playbook, use 'keywords:'",
            {},
        )
    return as_text(value)


ListName = Annotated[
    str,
    BeforeValidator(_list_name),
    Field(pattern=_ID.pattern),
    WithJsonSchema({"type": "string", "pattern": _ID.pattern}),
]


def exactly_one(params: Params, name: str, options: tuple[str, ...]) -> None:
    """A trigger written one way of several (a text or a keyword or ...): two, or none, is a mistake."""
    given = [k for k in options if getattr(params, k) is not None]
    if len(given) != 1:
        raise PydanticCustomError(
            "one_of",
            f"'{name}' needs exactly one of {', '.join(options)}; got {{got}}",
            {"got": ", ".join(given) or "none"},
        )


class MessageTrigger(Params):
    """The whole message equals a text, contains a keyword, or matches a regex; or, in the moderation stage, it
    has a link, QR code, contact card, mini-program or phone number (`has`), or a word of a word list (`words`)."""

    text: Words | None = None
    keywords: Words | None = None
    regex: Regex | None = None
    has: HasItems | None = None
    words: ListName | None = None
    where: Where = Field("group", alias="in")

    @model_validator(mode="after")
    def _one(self) -> MessageTrigger:
        exactly_one(self, "message", ("text", "keywords", "regex", "has", "words"))
        for words in (self.text, self.keywords):
            if words is not None and not [w for w in words if str(w).strip()]:
                raise PydanticCustomError("empty", "'message' needs a non-empty text or keyword", {})
        if self.has is not None and not self.has:
            raise PydanticCustomError("empty", "'has' needs at least one of {options}", {"options": ", ".join(HAS)})
        return self

    @property
    def moderation(self) -> bool:
        """`has` and `words` are moderation triggers: their playbooks run before all others."""
        return self.has is not None or self.words is not None


class CommandTrigger(Params):
    """`/NAME args...`; `message.args` holds the rest, split on spaces."""

    name: Annotated[str, BeforeValidator(as_text), WithJsonSchema(WORD_SCHEMA)]
    where: Where = Field("any", alias="in")

    @model_validator(mode="after")
    def _plain(self) -> CommandTrigger:
        name = self.name.strip().lstrip("/／")
        if not name or any(ch.isspace() for ch in name):
            raise PydanticCustomError(
                "command", "'command' must be one word like 积分; got '{got}'", {"got": self.name}
            )
        object.__setattr__(self, "name", name)
        return self


class Nothing(Params):
    pass


class ScheduleTrigger(Params):
    """A time in config.yaml's timezone: a cron line, an interval, or one moment."""

    cron: Cron | None = None
    every: Duration | None = None
    at: LocalDateTime | None = None

    @model_validator(mode="after")
    def _one(self) -> ScheduleTrigger:
        exactly_one(self, "schedule", ("cron", "every", "at"))
        return self


class FloodTrigger(Params):
    """One member's `messages`-th message within `within` in one group, or the same text the `same_text`-th time."""

    messages: int | None = Field(None, ge=2, le=100)
    same_text: int | None = Field(None, ge=2, le=100)
    within: Duration = Field(le=timedelta(days=1))

    @model_validator(mode="after")
    def _one(self) -> FloodTrigger:
        exactly_one(self, "flood", ("messages", "same_text"))
        return self

    @property
    def moderation(self) -> bool:
        return True

    @property
    def rule(self) -> FloodRule:
        if self.messages is not None:
            return FloodRule("messages", self.messages, self.within)
        return FloodRule("same_text", self.same_text or 0, self.within)


class WordList(Params):
    """`wordlists: {ads: [加微信, 加V, ...]}`: words any playbook's `message: {words: ads}` looks for."""


CHAT = {
    "message": frozenset({"text", "args", "groups", "command", "kind", "url", "title", "qr"}),
    "member": MEMBER,
    "room": frozenset({"id", "topic"}),
}

trigger("message", schema=MessageTrigger, events=("message",), sets=CHAT, refs={"words": "wordlists"})
trigger("flood", schema=FloodTrigger, events=("message",), sets=CHAT)
resource("wordlists", schema=WordList, form="words", noun="word list")
trigger("command", schema=CommandTrigger, events=("message",), sets=CHAT, primary="name")
trigger("join", schema=Nothing, events=("join",), sets={"member": MEMBER, "room": CHAT["room"], "inviter": MEMBER})
trigger("leave", schema=Nothing, events=("leave",), sets={"member": MEMBER, "room": CHAT["room"]})
trigger("friend", schema=Nothing, events=("friend",), sets={"member": MEMBER})
trigger("schedule", schema=ScheduleTrigger, events=("schedule",), sets={"room": CHAT["room"]})
