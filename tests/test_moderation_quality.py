"""The shipped moderation playbooks on the labelled set (issue 13 item 9): they act on at least 90% of the spam and
on at most 2% of the ordinary chat.

The set is tests/data/moderation/messages.yaml: Chinese shop-group messages written for this project, each labelled
spam or not. Every message comes from its own member, one who joined the group long ago and is not staff, so what is
measured is the rules' reading of the message (the word lists, `has`, the allow-list), not a newcomer rule or a flood.
"Acted on" is a warning recorded or a removal queued. The figures are printed (`pytest -s`) and stated in the docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import Config
from bot.events import MESSAGE_KINDS, MessageEvent
from bot.registry import load_abilities
from bot.testing import TestBot

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "tests" / "data" / "moderation" / "messages.yaml"
DOC = ROOT / "docs" / "moderation.md"
README = ROOT / "README.md"
SHIPPED = ROOT / "playbooks" / "moderation"
START = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LONG_AGO = START - timedelta(days=400)
SHOP_APPID = "wx1a2b3c4d5e6f7a8b"
CATCH_AT_LEAST = 0.90
FLAG_AT_MOST = 0.02


@dataclass(frozen=True)
class Labelled:
    text: str
    spam: bool
    kind: str
    url: str | None
    title: str | None
    qr: str | None
    note: str | None

    def __str__(self) -> str:
        shown = self.text or self.title or self.qr or self.url or ""
        return f"[{self.kind}] {shown}" + (f"  ({self.note})" if self.note else "")


def labelled() -> list[Labelled]:
    items: list[dict[str, Any]] = yaml.safe_load(MESSAGES.read_text("utf-8"))
    return [
        Labelled(
            text=item.get("text", ""),
            spam=item["spam"],
            kind=item.get("kind", "text"),
            url=item.get("url"),
            title=item.get("title"),
            qr=item.get("qr"),
            note=item.get("note"),
        )
        for item in items
    ]


def config() -> Config:
    load_abilities()  # the `moderation:` section is an ability's: declared when the abilities load
    return Config.model_validate(
        {
            "rooms": [{"id": "r1", "topic": "会员福利1群"}],
            "staff": {"owner": ["wxid_boss"]},
            "moderation": {
                "allow": {
                    "domains": ["shop.example.com"],
                    "miniprograms": [SHOP_APPID],
                    "qr_prefixes": ["https://shop.example.com/pay"],
                }
            },
        }
    )


async def acted_on(bot: TestBot, n: int, message: Labelled) -> bool:
    """Whether the rules warned or removed the member who sent this one message."""
    member = f"m{n}"
    bot.member(member, f"顾客{n}")
    await bot.seed(member, rooms=["r1"], joined=LONG_AGO)
    event = MessageEvent(
        id=f"labelled-{n}",
        at=bot.clock.now(),
        sender=bot.member(member),
        text=message.text,
        room=bot.room("r1"),
        content=message.kind,
        url=message.url,
        title=message.title,
        qr=message.qr,
    )
    sent = await bot.dispatch(event)
    removed = any(out.remove and out.target_id == member for out in sent)
    return removed or await bot.field(member, "warnings") > 0


def test_the_labelled_set_is_what_item_9_asks_for() -> None:
    """At least 200 messages, about half spam, every item well formed (a typo in a label would skew the score)."""
    items = labelled()
    spam = [m for m in items if m.spam]
    assert len(items) >= 200
    assert 0.4 <= len(spam) / len(items) <= 0.6
    assert all(m.kind in MESSAGE_KINDS for m in items)
    assert all(m.text or m.kind != "text" for m in items), "a text message with no text"
    assert len({(m.text, m.kind, m.url, m.title, m.qr) for m in items if m.text or m.url or m.title or m.qr}) == len(
        [m for m in items if m.text or m.url or m.title or m.qr]
    ), "the same message twice"


async def test_the_shipped_moderation_playbooks_catch_spam_and_leave_chat_alone() -> None:
    items = labelled()
    async with TestBot.running(SHIPPED, config=config(), start=START) as bot:
        bot.room("r1", "会员福利1群")
        verdicts = [(m, await acted_on(bot, n, m)) for n, m in enumerate(items)]
        # The loop above never moved the clock: a minute later nothing is pending, and no flood rule was involved.
        await bot.advance(timedelta(minutes=1))

    spam = [m for m, acted in verdicts if m.spam]
    chat = [m for m, acted in verdicts if not m.spam]
    missed = [m for m, acted in verdicts if m.spam and not acted]
    flagged = [m for m, acted in verdicts if not m.spam and acted]
    caught = 1 - len(missed) / len(spam)
    false_positive = len(flagged) / len(chat)
    report = "\n".join(
        [
            f"spam acted on: {len(spam) - len(missed)}/{len(spam)} = {caught:.1%} (at least {CATCH_AT_LEAST:.0%})",
            f"chat acted on: {len(flagged)}/{len(chat)} = {false_positive:.1%} (at most {FLAG_AT_MOST:.0%})",
            "missed spam:",
            *(f"  {m}" for m in missed),
            "chat acted on:",
            *(f"  {m}" for m in flagged),
        ]
    )
    print(report)
    assert caught >= CATCH_AT_LEAST, report
    assert false_positive <= FLAG_AT_MOST, report
    stated = DOC.read_text("utf-8")
    assert f"{len(spam)} 条广告里处理了 {len(spam) - len(missed)} 条（{caught:.1%}）" in stated, "docs: " + report
    assert f"{len(chat)} 条正常聊天里误伤了 {len(flagged)} 条（{false_positive:.1%}）" in stated, "docs: " + report
    summary = f"act on {caught:.1%} of the spam and {false_positive:.1%} of the ordinary chat"
    assert summary in " ".join(README.read_text("utf-8").split()), "README: " + report


@pytest.mark.parametrize(
    ("text", "spam"),
    [("加 微-信 abc1234 详聊", True), ("可以用微信支付吗？", False)],
)
async def test_the_score_depends_on_the_rules(text: str, spam: bool) -> None:
    """The harness itself can tell: with no moderation playbooks nothing is acted on, with them the ad is."""
    message = Labelled(text=text, spam=spam, kind="text", url=None, title=None, qr=None, note=None)
    async with TestBot.running({}, config=config(), start=START) as bot:
        bot.room("r1", "会员福利1群")
        assert not await acted_on(bot, 1, message)
    async with TestBot.running(SHIPPED, config=config(), start=START) as bot:
        bot.room("r1", "会员福利1群")
        assert await acted_on(bot, 1, message) is spam
