"""Room.announce on the wire (bot/connectors/wechaty): python-wechaty's `room_announce` fills only the request field
the puppet service deprecated (2, a StringValue), and wechaty-puppet-service 1.x reads a request without the new
field (3, `optional string text`) as a *get*: the announcement would silently not be set. This request carries
the text in both, so old and new services set it. Imported only when an announcement is made (wechaty and its
betterproto load lazily). No `from __future__ import annotations` here: betterproto 1.x reads the field types."""

from dataclasses import dataclass
from typing import Optional

import betterproto

ROUTE = "/wechaty.Puppet/RoomAnnounce"
Wrapped = Optional[str]  # noqa: UP045 (betterproto 1.x cannot read `str | None`)


@dataclass(eq=False, repr=False)
class Request(betterproto.Message):
    id: str = betterproto.string_field(1)
    text_string_value_deprecated: Wrapped = betterproto.message_field(2, wraps=betterproto.TYPE_STRING)  # noqa: RUF009
    text: str = betterproto.string_field(3)


@dataclass(eq=False, repr=False)
class Response(betterproto.Message):
    text: str = betterproto.string_field(2)  # nothing to read: a set answers with an empty response


def request(room_id: str, text: str) -> Request:
    return Request(id=room_id, text_string_value_deprecated=text, text=text)
