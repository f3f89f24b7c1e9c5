"""The editor and the sandbox together, as an operator uses them: save a fixed version in the editor, then try
it in the sandbox, which answers with what was saved."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Live
from playwright.async_api import expect
from test_playbooks_page import editor, replace_on_line

ECHO = "id: echo\nwhen:\n  - message: {text: hi}\ndo:\n  - reply: 旧的回答\n"
PLAYBOOKS: Path | dict[str, str] = {}


@pytest.fixture(autouse=True)
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    made = tmp_path / "playbooks"
    made.mkdir()
    (made / "echo.yaml").write_text(ECHO, "utf-8")
    monkeypatch.setitem(globals(), "PLAYBOOKS", made)
    return made


async def test_a_version_saved_in_the_editor_is_what_the_sandbox_answers_with(live: Live, folder: Path) -> None:
    page = await live.open("mgr", "/playbooks/edit?file=echo.yaml")
    await editor(page)
    await replace_on_line(page, 5, "旧的回答", "新的回答")
    await page.get_by_text("检查通过，可以保存").wait_for()
    await page.get_by_role("button", name="保存并生效").click()
    await page.get_by_text("已保存：已重载").wait_for()

    await page.goto(live.base + "/sandbox")
    await expect(page.locator("#status")).to_contain_text("临时副本")
    await page.locator("#text").fill("hi")
    await page.locator("#text").press("Enter")
    await expect(page.locator("#chat .msg.bot .bubble").last).to_have_text("新的回答")
    assert live.errors == []
