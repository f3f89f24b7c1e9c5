"""Typed `@名字` made into what WeChat delivers.

In WeChat, picking a member after `@` puts `@名字` (and a \u2005 space) in the text and the member's id in the
message's mentions. The simulator does the same for a name it knows, when the name is followed by a space,
\u2005 or the end of the line. `@` + the bot's own name is taken out of the text and marks the message as
said to the bot, as the wechaty connector does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Typed:
    text: str
    mentions: tuple[str, ...] = ()
    mentions_bot: bool = False
    unknown: tuple[str, ...] = ()  # `@名字` words at the start of a word that name nobody known


def _ends_name(text: str, end: int) -> bool:
    return end == len(text) or text[end].isspace()


def mentioned(text: str, bot_name: str, members: Mapping[str, str]) -> Typed:
    """The mentions in a line typed in a group; `members` maps a known name to the member's id.

    The longest known name wins (`@小李子` is not `@小李`); the bot's name wins over a member of the same name.
    """
    names = sorted({*members, bot_name} - {""}, key=len, reverse=True)
    kept: list[str] = []
    ids: list[str] = []
    unknown: list[str] = []
    to_bot = False
    start = 0
    while (at := text.find("@", start)) != -1:
        name = next((n for n in names if text.startswith(n, at + 1) and _ends_name(text, at + 1 + len(n))), None)
        if name is None:
            word = _WORD.match(text, at + 1)
            if word and (at == 0 or text[at - 1].isspace()):
                unknown.append(word.group())
            kept.append(text[start : at + 1])
            start = at + 1
            continue
        end = at + 1 + len(name)
        if name == bot_name:
            to_bot = True
            kept.append(text[start:at])
            start = end + 1  # the space after the mention goes with it
        else:
            ids.append(members[name])
            kept.append(text[start:end])
            start = end
    kept.append(text[start:])
    said = "".join(kept)
    return Typed(said.strip() if to_bot else said, tuple(dict.fromkeys(ids)), to_bot, tuple(dict.fromkeys(unknown)))
