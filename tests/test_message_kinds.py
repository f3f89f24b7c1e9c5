"""A message that is not a text (a link card, a mini-program, a contact card, a picture with a QR code) reaches
playbooks with `message.kind`, `message.url`, `message.title` and `message.qr`, from TestBot and from scenario
files (`say: {kind: image, qr: ...}`, `text` optional when the kind is not text)."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from bot.config import Config
from bot.playbook.errors import Problems
from bot.playbook.library import load_texts
from bot.scenario import parse_scenario, run_scenario
from bot.testing import TestBot

SHOW = {
    "playbooks/show.yaml": dedent(
        """
        id: show
        when:
          - message: {regex: ".*"}
        do:
          - reply: "{{ message.kind }}|{{ message.url | default('-', true) }}|\\
              {{ message.title | default('-', true) }}|{{ message.qr | default('-', true) }}|\\
              {{ message.text | default('-', true) }}"
        """
    )
}


async def test_each_kind_of_message_reaches_playbooks_with_what_it_carries() -> None:
    async with TestBot.running(SHOW) as bot:
        said = [
            await bot.say("u9", room="r1", kind="link", url="https://ad.example.com", title="兼职日结"),
            await bot.say("u9", room="r1", kind="miniprogram", url="wx123", title="领红包"),
            await bot.say("u9", room="r1", kind="card", title="兼职小妹"),
            await bot.say("u9", room="r1", kind="image", qr="https://u.wechat.com/x"),
            await bot.say("u9", room="r1", kind="image"),
            await bot.say("u9", "签到", room="r1"),
        ]
    assert [[m.text for m in answer] for answer in said] == [
        ["link|https://ad.example.com|兼职日结|-|-"],
        ["miniprogram|wx123|领红包|-|-"],
        ["card|-|兼职小妹|-|-"],
        ["image|-|-|https://u.wechat.com/x|-"],
        ["image|-|-|-|-"],
        ["text|-|-|-|签到"],
    ]


async def test_a_kind_that_does_not_exist_is_refused_in_a_test() -> None:
    async with TestBot.running(SHOW) as bot:
        with pytest.raises(ValueError, match="unknown message kind 'imgae'"):
            await bot.say("u9", room="r1", kind="imgae")


SCENARIO = """
name: 各种消息
start: "2026-11-23 09:00"
rooms: [{id: r1, topic: 会员福利1群}]
members: [{id: u9, name: 路人}]
steps:
"""


def parse(tmp_path: Path, steps: str) -> tuple[object, list[str]]:
    file = tmp_path / "s.yaml"
    file.write_text(SCENARIO + dedent(steps), "utf-8")
    problems = Problems()
    return parse_scenario(file, "s.yaml", problems), [str(p) for p in problems.sorted()]


async def test_a_scenario_says_a_picture_with_a_qr_code_without_any_text(tmp_path: Path) -> None:
    scenario, problems = parse(
        tmp_path,
        """\
          - say: {member: u9, room: r1, kind: image, qr: "https://u.wechat.com/x"}
          - expect: {to: r1, contains: "image|-|-|https://u.wechat.com/x|-"}
          - say: {member: u9, room: r1, kind: link, url: "https://ad.example.com", title: 兼职日结}
          - expect: {to: r1, contains: "link|https://ad.example.com|兼职日结|-|-"}
          - say: {member: u9, room: r1, kind: card, title: 兼职小妹}
          - expect: {to: r1, contains: "card|-|兼职小妹|-|-"}
          - say: {member: u9, room: r1, text: 你好}
          - expect: {to: r1, contains: "text|-|-|-|你好"}
        """,
    )
    assert problems == []
    result = await run_scenario(scenario, load_texts(SHOW), Config())  # type: ignore[arg-type]
    assert result.passed, result.detail


def test_a_scenario_say_needs_a_text_only_when_it_is_a_text(tmp_path: Path) -> None:
    scenario, problems = parse(
        tmp_path,
        """\
          - say: {member: u9, room: r1}
          - say: {member: u9, room: r1, kind: imgae}
          - say: {member: u9, room: r1, kind: image, qrcode: x}
        """,
    )
    assert scenario is None
    assert problems[0].startswith("s.yaml:7:")
    assert "'say' needs a text, or a kind other than text" in problems[0]
    assert problems[1].startswith("s.yaml:8:") and "image" in problems[1] and "miniprogram" in problems[1]
    assert problems[2] == (
        "s.yaml:9:44: unknown key 'qrcode' in 'say'; 'say' takes member, text, room, mentions, kind, url, title, qr"
    )
