"""What moderation finds in a message's text (`has: [link, phone]`, `message.url`): links with or without a
dot, spelt out with spaces or in full-width letters, mainland mobile numbers however they are split, and
nothing in ordinary Chinese chat."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.events import MemberRef, MessageEvent, RoomRef
from bot.moderation.config import AllowSection
from bot.moderation.content import first_url, present

ALLOW = AllowSection.model_validate({"domains": ["shop.example.com"]})


def found(text: str) -> set[str]:
    event = MessageEvent(
        id="e1", at=datetime(2026, 12, 2, tzinfo=UTC), sender=MemberRef("u1", "小王"), text=text, room=RoomRef("r1")
    )
    return present(event, ALLOW)


def test_links_are_found_however_they_are_written() -> None:
    assert first_url("快加 http://evil/x 领福利") == "http://evil/x"  # a scheme and no dot at all
    assert first_url("快加 h t t p : / / e v i l 领福利") == "http://evil"  # spelt out with spaces, no dot
    assert first_url("ｗｗｗ．ＥＶＩＬ．ｔｏｐ／ｘ") == "www.EVIL.top/x"
    assert first_url("上 evil.top 看看。") == "evil.top"
    assert found("快加 h t t p : / / e v i l") == {"link"}
    assert found("本店 https://shop.example.com/a 下单") == set()  # the shop's own


def test_mobile_numbers_are_found_however_they_are_split() -> None:
    for text in (
        "电话 13812345678",
        "+86 138-1234-5678",
        "１３８ １２３４ ５６７８",
        "1.3.8.1.2.3.4.5.6.7.8",
        "159 8888 7777",
    ):
        assert found(text) == {"phone"}, text
    for text in ("订单号 23812345678", "11234567890", "138123456789", "我买了 2 件"):
        assert found(text) == set(), text


def test_ordinary_chat_has_nothing() -> None:
    for text in ("大家好请问这个商品现在有货吗我想买两件谢谢啦", "签到", "几点开门：上午十点", "价格是 9.9 元"):
        assert found(text) == set(), text
        assert first_url(text) is None, text
