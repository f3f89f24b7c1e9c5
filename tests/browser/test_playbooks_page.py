"""The 玩法 pages in a real browser: a typo typed in the editor shows under its line before any save, a fixed
version saved reaches the bot, a rollback brings the old text back, a 5 MB paste is refused, the list's switch
works, and a staff (non-admin) session has no save, switch or rollback button and the API refuses it anyway."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import Live, shoot
from playwright.async_api import Page
from sqlalchemy import insert

from bot.console.tables import Trace

ECHO = "id: echo\nname: 回声\nwhen:\n  - message: {text: hi}\ndo:\n  - reply: 旧的回答\n"
HOSTILE = "id: hostile\nname: <img src=x onerror=alert(1)>\nwhen:\n  - message: {text: 坏}\ndo:\n  - reply: 好\n"
PLAYBOOKS: Path | dict[str, str] = {}


@pytest.fixture(autouse=True)
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A playbooks folder of this test's own: the console writes into it."""
    made = tmp_path / "playbooks"
    made.mkdir()
    (made / "echo.yaml").write_text(ECHO, "utf-8")
    (made / "hostile.yaml").write_text(HOSTILE, "utf-8")
    monkeypatch.setitem(globals(), "PLAYBOOKS", made)
    return made


async def answers(live: Live) -> list[str]:
    return [m.text for m in await live.bot.say("u1", "hi", room="r1")]


async def editor(page: Page) -> None:
    await page.locator(".CodeMirror-code", has_text="id:").wait_for()  # (wait_for_function would eval: the CSP refuses)


CURSOR = """([line, ch, text]) => {
  const cm = document.querySelector('.CodeMirror').CodeMirror;
  if (text !== null) cm.setValue(text);
  cm.focus();
  cm.setCursor({line, ch});
}"""


async def cursor(page: Page, line: int, ch: int, text: str | None = None) -> None:
    """The editor's cursor at line (0-based) and ch; with `text`, the editor's whole text first."""
    await page.evaluate(CURSOR, [line, ch, text])


async def replace_on_line(page: Page, line: int, old: str, new: str) -> None:
    """Put the cursor on `old` in `line` (1-based), delete it key by key and type `new`, as a person would."""
    col = await page.evaluate(f"document.querySelector('.CodeMirror').CodeMirror.getLine({line - 1}).indexOf({old!r})")
    assert col >= 0
    await cursor(page, line - 1, col)
    for _ in old:
        await page.keyboard.press("Delete")
    await page.keyboard.type(new)
    await page.keyboard.press("Escape")  # close the completion list if it is open


async def test_a_typo_shows_under_its_line_before_saving_then_a_fix_is_saved_and_rolled_back(
    live: Live, folder: Path
) -> None:
    page = await live.open("mgr", "/playbooks/edit?file=echo.yaml")
    await editor(page)
    await replace_on_line(page, 6, "reply", "repyl")
    problem = page.locator(".pb-problem", has_text="repyl")
    await problem.wait_for()
    assert await problem.inner_text() == "第 6 行第 5 列：未知的动作 'repyl'（是不是 'reply'？）"
    under = await page.evaluate(
        "document.querySelector('.CodeMirror').CodeMirror.lineInfo(5).widgets.map(w => w.node.textContent)"
    )
    assert under == ["第 6 行第 5 列：未知的动作 'repyl'（是不是 'reply'？）"]  # under line 6, where the typo is
    assert "有 1 处错误" in await page.locator("#status").inner_text()
    await shoot(page, "playbooks-editor-typo")
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO  # checking saved nothing

    await replace_on_line(page, 6, "repyl", "reply")
    await replace_on_line(page, 6, "旧的回答", "新的回答")
    await page.locator(".pb-problem").wait_for(state="detached")
    await page.get_by_text("检查通过，可以保存").wait_for()
    await page.get_by_role("button", name="保存并生效").click()
    await page.get_by_text("已保存：已重载").wait_for()
    assert "新的回答" in (folder / "echo.yaml").read_text("utf-8")
    assert await answers(live) == ["新的回答"]

    versions = page.locator("li.version")
    await versions.nth(1).wait_for()
    assert await versions.count() == 2
    await versions.nth(0).get_by_role("button", name="改动").click()
    assert "+  - reply: 新的回答" in await versions.nth(0).locator(".diff").inner_text()
    await shoot(page, "playbooks-editor")
    rollback = versions.nth(1).get_by_role("button", name="回滚到这一版")
    await rollback.click()
    await versions.nth(1).get_by_role("button", name="确定回滚到这一版？").click()
    await page.get_by_text("已回滚到").wait_for()
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO
    assert await answers(live) == ["旧的回答"]
    await page.locator(".CodeMirror-code", has_text="旧的回答").wait_for()
    assert await page.locator("li.version").count() == 3
    assert live.errors == []


async def test_completion_offers_the_schemas_action_names_and_a_5_mb_paste_is_refused(live: Live, folder: Path) -> None:
    page = await live.open("mgr", "/playbooks/edit?file=echo.yaml")
    await editor(page)
    await cursor(page, 6, 0)
    await page.keyboard.type("  - re")
    hints = page.locator(".CodeMirror-hints li")
    await hints.first.wait_for()
    assert {"reply", "remove"} <= set(await hints.all_inner_texts())
    await page.keyboard.press("Escape")
    await cursor(page, 3, 6, "id: echo\nwhen:\n  - message:\n      ")
    await page.keyboard.type("k")
    await hints.first.wait_for()
    assert "keywords" in await hints.all_inner_texts()  # the keys of the message trigger
    await page.keyboard.press("Escape")
    size = await page.evaluate(
        "(() => { const cm = document.querySelector('.CodeMirror').CodeMirror; const before = cm.getValue().length;"
        " cm.replaceRange('k: v\\n'.repeat(1024 * 1024), cm.getCursor(), null, 'paste');"
        " return [before, cm.getValue().length]; })()"
    )
    assert size[0] == size[1]  # nothing pasted
    await page.locator("#problems li").first.wait_for()  # the check of the text typed before (0.4 s after it)
    assert "内容太大（5.0 MB）：一个剧本文件最多 1 MB" in await page.locator("#status").inner_text()  # still said
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO
    assert live.errors == []


async def test_the_list_shows_runs_and_the_switch_turns_a_playbook_off(live: Live) -> None:
    now = live.bot.clock.now()
    rows = [
        {
            "at": now - timedelta(hours=h),
            "event_key": f"e{h}",
            "kind": "message",
            "stage": "playbook",
            "name": "echo",
            "outcome": o,
        }
        for h, o in ((1, "ran"), (2, "failed"), (3, "ran"))
    ]
    async with live.bot.bot.store.unit() as conn:
        await conn.execute(insert(Trace.__table__), rows)
    page = await live.open("mgr", "/playbooks")
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    row = page.locator("tr", has_text="echo")
    await row.wait_for()
    cells = await row.locator("td").all_inner_texts()
    assert cells[0] == "开" and cells[2] == "echo.yaml" and cells[4:] == ["3", "1"]
    hostile = page.locator("tr", has_text="hostile")
    assert "<img src=x onerror=alert(1)>" in await hostile.inner_text()  # the name as text, not an image
    await shoot(page, "playbooks")
    await row.get_by_role("switch").click()
    await page.get_by_text("已停用剧本「回声」（echo）").wait_for()
    assert await answers(live) == []
    off = page.locator("tr", has_text="echo").locator("button.switch:not(.on)")
    await off.wait_for()
    assert await off.inner_text() == "关"
    assert dialogs == [] and live.errors == []


async def test_staff_sees_no_save_switch_or_rollback_and_the_api_refuses_them(live: Live, folder: Path) -> None:
    page = await live.open("clerk", "/playbooks")
    switch = page.locator("tr", has_text="echo").get_by_role("switch")
    await switch.wait_for()
    assert await switch.is_disabled()
    assert await page.get_by_text("新建剧本文件").count() == 0
    await page.goto(live.base + "/playbooks/edit?file=echo.yaml")
    await editor(page)
    await page.locator("li.version").first.wait_for()
    assert not await page.get_by_role("button", name="保存并生效").is_visible()
    assert await page.get_by_role("button", name="回滚到这一版").count() == 0
    await shoot(page, "playbooks-editor-staff")
    statuses = await page.evaluate(
        """async () => {
          const csrf = document.querySelector('meta[name="qg-csrf"]').content;
          const headers = {'Content-Type': 'application/json', 'X-CSRF-Token': csrf};
          const send = (method, path, body) =>
            fetch(path, {method, headers, body: JSON.stringify(body)}).then(r => r.status);
          return [
            await send('PUT', '/api/playbooks/echo.yaml', {text: 'id: echo\\n'}),
            await send('POST', '/api/playbooks/echo/disable', {}),
            await send('POST', '/api/playbooks/echo.yaml/rollback', {version: 1}),
          ];
        }"""
    )
    assert statuses == [403, 403, 403]
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO
    assert await answers(live) == ["旧的回答"]
    assert live.errors == []


async def test_a_typed_scenario_runs_in_the_page_and_shows_the_runners_messages(live: Live) -> None:
    page = await live.open("mgr", "/playbooks/edit?file=echo.yaml")
    await editor(page)
    await page.locator("#scenario").fill(
        "name: 问候\nrooms: [{id: r1}]\nmembers: [{id: u1}]\n"
        "steps:\n  - say: {member: u1, room: r1, text: hi}\n  - expect: {to: r1, contains: 新的回答}\n"
    )
    await page.get_by_role("button", name="运行测试").click()
    await page.get_by_text("0 个通过，1 个失败").wait_for()
    detail = await page.locator("li.fail pre").inner_text()
    assert "expected" in detail and "旧的回答" in detail  # the runner's own lines: what was sent instead
    await replace_on_line(page, 6, "旧的回答", "新的回答")
    await page.get_by_text("检查通过，可以保存").wait_for()
    await page.get_by_role("button", name="运行测试").click()
    await page.get_by_text("1 个通过，0 个失败").wait_for()
    await shoot(page, "playbooks-test-run")
    assert await answers(live) == ["旧的回答"]  # testing saved nothing
    assert live.errors == []
