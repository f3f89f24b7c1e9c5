"""运行记录 in a real browser: staff find the check-in that `once` refused and read why; a member's message that
looks like HTML is shown as text, and no script runs."""

from __future__ import annotations

from textwrap import dedent

from conftest import Live, shoot

PLAYBOOKS = {
    "playbooks/checkin.yaml": dedent("""
        id: checkin
        name: 每日签到
        when:
          - message: {text: 签到}
        if:
          - once: {per: day}
        do:
          - points: 5
          - reply: 签到成功
    """),
    "playbooks/echo.yaml": dedent("""
        id: echo
        when:
          - message: {keywords: [img]}
        do:
          - reply: 收到
    """),
}
HOSTILE = "<img src=x onerror=alert(1)>"


async def test_staff_open_the_trace_of_a_check_in_refused_by_once_and_read_why(live: Live) -> None:
    bot = live.bot
    bot.member("u1", "小红")
    await bot.say("u1", "签到", room="r1")
    await bot.say("u1", "签到", room="r1")
    page = await live.open("clerk", "/traces")
    await page.get_by_label("剧本/命令").fill("checkin")
    await page.get_by_label("结果").select_option("skipped")
    await page.get_by_role("button", name="查找").click()
    await page.wait_for_url("**/traces?playbook=checkin&outcome=skipped")
    rows = page.locator("#trace-list tbody tr")
    await rows.first.get_by_text("没有执行：once").wait_for()
    assert await rows.count() == 1
    await shoot(page, "traces")
    await rows.first.get_by_role("link").click()
    await page.locator("ol.steps").wait_for()
    main = await page.locator("main").inner_text()
    assert "没有执行：once：该成员今天已经执行过（每天一次）" in main
    assert "小红（u1）" in main
    step = page.locator("ol.steps li").first
    assert "once" in await step.inner_text() and "不满足" in await step.inner_text()
    assert "playbooks/checkin.yaml:" in await step.inner_text()
    await shoot(page, "trace")
    assert live.errors == []


async def test_a_hostile_message_renders_as_text(live: Live) -> None:
    bot = live.bot
    bot.member("u9", "<script>alert(1)</script>")
    await bot.say("u9", HOSTILE, room="r1")
    page = await live.open("clerk", "/traces?member=u9")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.reload()  # now with a listener for any alert the page might raise while it loads
    cell = page.locator("#trace-list .said").first
    await cell.wait_for()
    assert await cell.inner_text() == HOSTILE
    assert await page.locator("#trace-list img").count() == 0
    assert "<script>alert(1)</script>（u9）" in await page.locator("#trace-list").inner_text()
    await page.locator("#trace-list tbody a").first.click()
    await page.locator("ol.steps").wait_for()
    assert HOSTILE in await page.locator("dl.trace").inner_text()
    assert await page.locator("main img").count() == 0
    assert dialogs == [] and live.errors == []


async def test_the_traces_page_on_a_phone(live: Live) -> None:
    await live.bot.say("u1", "签到", room="r1")
    page = await live.open("clerk", "/traces", phone=True)
    await page.locator("#trace-list tbody a").first.wait_for()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1  # the table scrolls inside its box; the page itself does not
    assert live.errors == []
