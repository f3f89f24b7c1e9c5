"""What a scenario file expects (bot/scenario.py): `expect` / `expect_none` filters, over messages (`to`, `contains`,
`regex`, `mentions`), removals (`removed`, `from`) or group announcements (`announced`, with `contains` / `regex`
on its text), one kind at a time; and `check`, over member fields and the groups a member is in now (`rooms`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, model_validator
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError

from bot.conditions import as_list
from bot.events import Outgoing
from bot.playbook.errors import did_you_mean
from bot.playbook.types import Params, Regex
from bot.registry import load_abilities
from bot.testing import TestBot

Names = Annotated[list[str], BeforeValidator(as_list)]


def _text(value: object) -> object:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


Said = Annotated[str, BeforeValidator(_text)]


class Filter(Params):
    """A message (`to`, `contains`, `regex`, `mentions`), a removal (`removed`, `from`) or an announcement
    (`announced`: the group, with `contains`, `regex`): one kind only."""

    to: str | None = None
    contains: Said | None = None
    regex: Regex | None = None
    mentions: Names = []
    removed: str | None = None
    from_: str | None = PydanticField(None, alias="from")
    announced: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Filter:
        if self.removed is not None and (self.to, self.contains, self.regex, self.mentions) != (None, None, None, []):
            raise PydanticCustomError("filter", "a removal has no text: 'removed' takes only 'from'")
        if self.announced is not None and (self.to, self.removed, self.from_, self.mentions) != (None, None, None, []):
            raise PydanticCustomError(
                "filter", "'announced' names the group whose announcement was set: it takes only 'contains' or 'regex'"
            )
        if self.removed is None and self.from_ is not None:
            raise PydanticCustomError("filter", "'from' goes with 'removed': the group a member was removed from")
        return self

    def matches(self, message: Outgoing) -> bool:
        if self.announced is not None or message.announce:
            return (
                message.announce
                and message.target_id == self.announced
                and (self.contains is None or self.contains in message.text)
                and (self.regex is None or self.regex.search(message.text) is not None)
            )
        if self.removed is not None or message.remove:
            return (
                message.remove
                and message.member is not None
                and message.member.id == self.removed
                and (self.from_ is None or (message.room is not None and message.room.id == self.from_))
            )
        return (
            (self.to is None or message.target_id == self.to)
            and (self.contains is None or self.contains in message.text)
            and (self.regex is None or self.regex.search(message.text) is not None)
            and set(self.mentions) <= {m.id for m in message.mentions}
        )

    @property
    def noun(self) -> str:
        return "action" if self.removed is not None or self.announced is not None else "message"

    def describe(self) -> str:
        if self.removed is not None:
            return f"the removal of {self.removed}" + (f" from {self.from_}" if self.from_ else "")
        if self.announced is not None:
            parts = [f"an announcement in {self.announced}"]
        else:
            parts = [f"a message to {self.to}" if self.to else "a message to anyone"]
        if self.contains is not None:
            parts.append(f"containing '{self.contains}'")
        if self.regex is not None:
            parts.append(f"matching /{self.regex.pattern}/")
        if self.mentions:
            parts.append(f"mentioning {', '.join(self.mentions)}")
        return " ".join(parts)


class CheckStep(Params):
    """`check: {member: u1, points: 20, tags: [新人]}`: any `member.*` field an ability provides or a playbook
    declares (`fields:`); which ones there are is known once the playbooks are, so `check` itself tells."""

    model_config = ConfigDict(extra="allow", frozen=True)
    member: str

    @model_validator(mode="after")
    def _fields(self) -> CheckStep:
        fields = {**load_abilities().member_fields, "rooms": None}  # rooms: the groups the member is in now
        extra = self.model_extra or {}
        if not extra:
            raise PydanticCustomError(
                "check", "'check' needs something to compare: {names}", {"names": ", ".join(sorted(fields))}
            )
        return self

    @property
    def expected(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


async def check(bot: TestBot, p: CheckStep) -> str | None:
    problems = []
    for key, expected in p.expected.items():
        if key == "rooms":
            have = await bot.member_rooms(p.member)
            if sorted(map(str, expected)) != have:
                problems.append(f"{p.member} is in rooms {have}, expected {sorted(map(str, expected))}")
            continue
        known = bot.field_names()
        if key not in known:
            problems.append(f"'check' cannot read '{key}'{did_you_mean(key, known | {'rooms'})}")
            continue
        have = await bot.field(p.member, key)
        same = sorted(map(str, have)) == sorted(map(str, expected)) if isinstance(have, list) else have == expected
        if not same:
            problems.append(f"{p.member} has {key} {have!r}, expected {expected!r}")
    return "; ".join(problems) or None
