"""The built-in triggers of `when:`: their options and the variables they give a run."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from bot.conditions import as_list, as_text
from bot.playbook.types import WORD_SCHEMA, Cron, Duration, LocalDateTime, Params, Regex, one_or_list
from bot.registry import MEMBER, trigger

Where = Literal["group", "private", "any"]


Words = Annotated[list[str], BeforeValidator(as_list), one_or_list(WORD_SCHEMA)]


class MessageTrigger(Params):
    """The whole message equals a text, contains a keyword, or matches a regex."""

    text: Words | None = None
    keywords: Words | None = None
    regex: Regex | None = None
    where: Where = Field("group", alias="in")

    @model_validator(mode="after")
    def _one(self) -> MessageTrigger:
        given = [k for k in ("text", "keywords", "regex") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "one_of",
                "'message' needs exactly one of text, keywords, regex; got {got}",
                {"got": ", ".join(given) or "none"},
            )
        for words in (self.text, self.keywords):
            if words is not None and not [w for w in words if str(w).strip()]:
                raise PydanticCustomError("empty", "'message' needs a non-empty text or keyword", {})
        return self


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
        given = [k for k in ("cron", "every", "at") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "one_of",
                "'schedule' needs exactly one of cron, every, at; got {got}",
                {"got": ", ".join(given) or "none"},
            )
        return self


CHAT = {
    "message": frozenset({"text", "args", "groups", "command", "kind", "url", "title", "qr"}),
    "member": MEMBER,
    "room": frozenset({"id", "topic"}),
}

trigger("message", schema=MessageTrigger, events=("message",), sets=CHAT)
trigger("command", schema=CommandTrigger, events=("message",), sets=CHAT, primary="name")
trigger("join", schema=Nothing, events=("join",), sets={"member": MEMBER, "room": CHAT["room"], "inviter": MEMBER})
trigger("leave", schema=Nothing, events=("leave",), sets={"member": MEMBER, "room": CHAT["room"]})
trigger("friend", schema=Nothing, events=("friend",), sets={"member": MEMBER})
trigger("schedule", schema=ScheduleTrigger, events=("schedule",), sets={"room": CHAT["room"]})
