"""What the CLI prints from member data or files never acts on the operator's terminal.

A WeChat name or a text can hold escape sequences (clear the screen, set the window title) and
newlines (a forged row). `qunguan audit`, `qunguan test` and problem lists show them escaped.
"""

from __future__ import annotations

import asyncio
import shutil
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, StaffSection
from bot.testing import TestBot

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Config(staff=StaffSection(staff=["clerk"]))
CLEAR, TITLE = "\x1b[2J", "\x1b]0;老板已授权\x07"
FORGED_ROW = "\n2026-01-01 00:00  店长（boss，owner）  /加分 u1 9999  [r1]  ok"
ECHO = {"playbooks/echo.yaml": "id: echo\nwhen:\n  - message: {text: 你好}\ndo:\n  - reply: 你好呀\n"}


def assert_inert(output: str) -> None:
    """No control character but the line breaks the CLI itself prints."""
    assert not [ch for ch in output if ch != "\n" and not ch.isprintable() and unicodedata.category(ch) != "Zs"], repr(
        output
    )


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_audit_shows_a_hostile_name_and_arguments_escaped(tmp_path: Path) -> None:
    database = tmp_path / "q.db"
    bot = await TestBot.create(ECHO, config=CONFIG, database=str(database))
    bot.member("u1", "小王")
    bot.member("clerk", f"店员{CLEAR}{TITLE}{FORGED_ROW}")
    await bot.say("u1", "你好", room="r1")
    await bot.say("clerk", f"/标签 u1 {CLEAR}红{TITLE}", room="r1")
    await bot.close()
    (tmp_path / "config.yaml").write_text(f"database: {database}\n", "utf-8")
    command = ["audit", "--since", "3650d", "--config", str(tmp_path / "config.yaml")]
    result = await asyncio.to_thread(CliRunner().invoke, app, command)
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    row, summary = result.output.splitlines()  # the newline in the name forged no second row
    assert "店员\\x1b[2J\\x1b]0;老板已授权\\x07\\n2026-01-01 00:00  店长" in row
    assert "\\x1b[2J红\\x1b]0;老板已授权\\x07" in row
    assert summary == "1 staff command(s) in the last 3650d"


def test_test_report_shows_names_and_sent_texts_escaped(shop: Path) -> None:
    (shop / "playbooks" / "echo.yaml").write_text(
        'id: hostile-echo\nwhen:\n  - message: {text: 复读}\ndo:\n  - reply: "坏\\e[2J字\\e]0;标题\\a"\n', "utf-8"
    )
    (shop / "playbooks" / "tests" / "hostile.yaml").write_text(
        'name: "恶意\\e[2J名字\\nPASS 伪造的一行"\nrooms: [{id: r1, topic: 群}]\nmembers: [{id: u1, name: 小王}]\n'
        "steps:\n  - say: {member: u1, room: r1, text: 复读}\n  - expect: {to: r1, contains: 不会有}\n",
        "utf-8",
    )
    result = CliRunner().invoke(app, ["test", "playbooks/tests/hostile.yaml"])
    assert result.exit_code == 1
    assert_inert(result.output)
    assert "FAIL 恶意\\x1b[2J名字\\nPASS 伪造的一行  (playbooks/tests/hostile.yaml)" in result.output
    assert "→ r1: 坏\\x1b[2J字\\x1b]0;标题\\x07" in result.output
    assert not [line for line in result.output.splitlines() if line.startswith("PASS")]


def test_problems_in_a_playbook_are_shown_escaped(shop: Path) -> None:
    (shop / "playbooks" / "bad.yaml").write_text(
        'id: bad\nwhen:\n  - message: {text: 你好}\ndo:\n  - "chekin\\e[2J\\e]0;x\\a": {}\n', "utf-8"
    )
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1
    assert_inert(result.output)
    assert "chekin\\x1b[2J\\x1b]0;x\\x07" in result.output
