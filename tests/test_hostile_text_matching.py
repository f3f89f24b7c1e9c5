"""What moderation and triggers read of a message: full-width letters and digits, invisible characters, mixed
case and spacing between the characters match as what a person sees, message after message (the folded text
is worked out once and reused: a text must never be matched as an earlier message's)."""

from __future__ import annotations

import re
import unicodedata

import pytest

from bot.testing import TestBot
from bot.textnorm import fold, fold_words, normalize

pytestmark = pytest.mark.usefixtures("backend")

PLAYBOOKS = {
    "playbooks/anti-ad.yaml": """
id: anti-ad
when:
  - message: {words: ads}
do:
  - reply: 请勿发广告
wordlists:
  ads: [加微信]
""",
    "playbooks/hello.yaml": """
id: hello
when:
  - message: {text: Hello}
do:
  - reply: 你好
""",
    "playbooks/points.yaml": """
id: points
when:
  - message: {regex: '^查积分(?P<n>\\d+)$'}
do:
  - reply: "查 {{ message.groups.n }}"
""",
    "playbooks/check.yaml": """
id: check
when:
  - command: Check
do:
  - reply: "核对 {{ message.args | join(',') }}"
""",
    "playbooks/coupon.yaml": """
id: coupon
when:
  - message: {keywords: [优惠券]}
do:
  - reply: 领券请回复 抢券
""",
}

# (what a member types, what the bot answers): each pair once, then all again in another order
EXCHANGES = [
    ("加\u200b微\u3000信 领福利", ["请勿发广告"]),
    ("ＨＥＬＬＯ", ["你好"]),
    ("查积分１２", ["查 12"]),
    ("\ufeffhElLo\u200d ", ["你好"]),
    ("/ＣＨＥＣＫ Ａｂ9 x", ["核对 Ab9,x"]),
    ("加 微-信", ["请勿发广告"]),
    ("有\u200d没有优\u200b惠券", ["领券请回复 抢券"]),
    ("Hello there", []),
    ("查积分", []),
    ("你好", []),
]

HOSTILE = [text for text, _ in EXCHANGES] + [
    "",
    "  ",
    "\u200b",
    "ＡＢＣ\u2060ｄｅｆ",
    "➕Ｖ 123",
    "ﬁ",
    "+v\u180e信",
    "\u271a微\u200e信 \U0001f7a1V\u2719",
    "ｗｗｗ．ＥＶＩＬ．ｔｏｐ／x\u200f",
    "\ufeff加\u200c微\u200d信\u2060",
]


def reference_fold(text: str) -> str:
    return (
        unicodedata.normalize("NFKC", text)
        .translate(dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u180e")))
        .strip()
    )


def reference_fold_words(text: str) -> str:
    plus_as_jia = (
        reference_fold(text).casefold().translate(dict.fromkeys(map(ord, "+\u2795\u271a\u2719\U0001f7a1"), "加"))
    )
    return re.sub(r"[\W_]+", "", plus_as_jia)


def test_folding_gives_each_text_its_own_form_however_often_and_in_whatever_order_it_is_asked() -> None:
    for texts in (HOSTILE, HOSTILE[::-1], HOSTILE * 2):
        for text in texts:
            assert fold(text) == reference_fold(text)
            assert normalize(text) == reference_fold(text).casefold()
            assert fold_words(text) == reference_fold_words(text)
    assert fold_words("加\u200b微\u3000信") == fold_words("加 微-信") == "加微信"
    assert fold_words("➕Ｖ") == "加v"


async def test_moderation_and_triggers_read_hostile_text_as_a_person_sees_it_message_after_message() -> None:
    bot = await TestBot.create(PLAYBOOKS)
    try:
        for exchanges in (EXCHANGES, EXCHANGES[::-1]):
            for i, (typed, answers) in enumerate(exchanges):
                sent = await bot.say(f"u{i}", typed, room="r1")
                assert [m.text for m in sent] == answers, typed
    finally:
        await bot.close()


def test_huge_pasted_texts_are_not_kept_after_their_event() -> None:
    """A flood of huge pastes (a spammer's megabyte lines): folding each once must not keep them in memory."""
    import gc
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(16):
            text = f"{i}" + "加微信 ＡＢＣ\u200b" * 100_000  # about a megabyte each
            fold_words(text)
            fold(text)
            del text
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 2_000_000, f"{kept:,} bytes kept after the texts were gone"
