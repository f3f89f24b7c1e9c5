"""Word lists (issue 13 items 2 and 8): `wordlists:` blocks shared by every playbook, matched in one pass after
folding; a list of 50,000 words loads and matches, an entry that looks like a regex is a literal, and a
100,000-character message is matched like any other."""

from __future__ import annotations

import random
from textwrap import dedent

import pytest
from moderation_chat import playbooks, post

from bot.playbook.library import load_texts
from bot.testing import TestBot
from bot.textnorm import fold_words

pytestmark = pytest.mark.usefixtures("backend")


def test_folding_drops_what_an_evader_puts_between_the_characters() -> None:
    assert fold_words("加 微-信") == fold_words("加微信") == "加微信"
    assert fold_words("加\u200b微\u2060信\ufeff") == "加微信"
    assert fold_words("ＡＢＣ ａｂｃ ①②") == "abcabc12"
    assert fold_words("➕V，＋v, +V") == "加v加v加v"  # a plus sign is read as 加: ➕V is 加V
    assert fold_words("加/微/信 😀 ★ 【加】") == "加微信加"
    assert fold_words("!!!...   ") == ""


def word_list(count: int) -> list[str]:
    """`count` distinct made-up words of two to six Chinese characters, none of them 加微信."""
    rng = random.Random(13)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000) if chr(c) not in "加微信"]
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choices(alphabet, k=rng.randint(2, 6))))
    return sorted(words)


def big_list_playbook(words: list[str]) -> str:
    lines = "\n".join(f"    - {w}" for w in words)
    return (
        "id: big\nwhen:\n  - message: {words: big}\ndo:\n  - reply: 命中\nwordlists:\n  big:\n"
        f"{lines}\n    - 加微信\n"
    )


async def test_a_list_of_fifty_thousand_words_loads_and_matches() -> None:
    words = word_list(50_000)
    loaded = load_texts({"playbooks/big.yaml": big_list_playbook(words)})
    assert loaded.problems == []
    assert len(loaded.resources["wordlists"]["big"]) == 50_001
    async with TestBot.running(loaded) as bot:
        assert await post(bot, "u9", f"你好{words[12345]}呀") == ["命中"]
        assert await post(bot, "u9", "加 微 信") == ["命中"]
        assert await post(bot, "u9", "今天天气不错") == []


async def test_a_hundred_thousand_character_message_is_matched() -> None:
    text = dedent("""
        id: ads
        when:
          - message: {words: ads}
        do:
          - reply: 命中
        wordlists:
          ads: [加微信]
    """)
    links = dedent("""
        id: links
        when:
          - message: {has: [link, phone]}
        do:
          - reply: "链接或电话 {{ message.url or '' }}"
    """)
    async with TestBot.running(playbooks(ads=text, links=links)) as bot:
        filler = "今天天气不错，" * 14_285
        assert await post(bot, "u9", filler + "加 微 信") == ["命中"]
        assert await post(bot, "u9", filler + "加" * 5) == []
        assert await post(bot, "u9", "加" * 100_000) == []
        assert await post(bot, "u9", filler + " https://evil.cn/x") == ["链接或电话 https://evil.cn/x"]
        assert await post(bot, "u9", filler + "138 1234 5678") == ["链接或电话"]  # the text is trimmed
        # Shapes that make a careless pattern backtrack for ever: each is read in one go and is no advert.
        for hostile in ("a." * 50_000, "1 " * 50_000, "1" * 100_000, "a-" * 50_000, "加\u200b" * 50_000, "." * 100_000):
            assert await post(bot, "u9", hostile) == []


@pytest.mark.parametrize(
    ("entry", "caught", "missed"),
    [
        (r"加.*微信", "加.*微信", "加好友，微信"),
        (r"\d{11}", "d11", "13812345678"),
        (r"(ab)*$", "ab", "bbb"),
        (r"[刷单]", "刷单", "刷"),
    ],
)
async def test_an_entry_that_looks_like_a_regex_is_a_literal(entry: str, caught: str, missed: str) -> None:
    text = dedent(f"""
        id: ads
        when:
          - message: {{words: ads}}
        do:
          - reply: 命中
        wordlists:
          ads: ['{entry}']
    """)
    async with TestBot.running(playbooks(ads=text)) as bot:
        assert await post(bot, "u9", f"看 {caught} 看") == ["命中"]
        assert await post(bot, "u9", missed + "!" * 30 + "a" * 30) == []


async def test_word_lists_are_shared_by_every_playbook() -> None:
    lists = """
        id: lists
        when:
          - message: {text: 词表}
        do:
          - reply: 有
        wordlists:
          ads: [加微信]
          gambling: [网赌, 百家乐]
    """
    uses = """
        id: uses
        when:
          - message: {words: gambling}
        do:
          - reply: 禁止赌博
    """
    async with TestBot.running(playbooks(lists=lists, uses=uses)) as bot:
        assert await post(bot, "u9", "百 家 乐 来玩") == ["禁止赌博"]
        assert await post(bot, "u9", "加微信") == []  # a list no playbook uses catches nothing
