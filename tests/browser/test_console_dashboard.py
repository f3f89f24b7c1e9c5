"""The dashboard in a real browser: the charts are drawn from a seeded shop (asserted on each chart's data through
ECharts' own option, not pixels), follow the group and span chosen, link their CSV, show the numbers on hover,
and a group named like HTML stays text."""

from __future__ import annotations

from typing import Any

from conftest import Live, shoot
from dashboard_seed import ROOMS, START, seed
from playwright.async_api import Page
from sqlalchemy import insert

from handlers.segments import Nudge

HOSTILE = "<img src=x onerror=alert(2)>"


async def option(page: Page, chart: str) -> Any:
    return await page.evaluate(f"echarts.getInstanceByDom(document.getElementById('chart-{chart}')).getOption()")


async def ready(page: Page) -> None:
    await page.wait_for_function("() => document.body.dataset.dashboard === 'ready'")


async def dashboard(live: Live, *, phone: bool = False) -> tuple[Page, list[str]]:
    """Logged in as clerk on the seeded shop's dashboard; the list collects any dialog a script opened."""
    await live.bot.advance(START - live.bot.clock.now())
    page = await live.open("clerk", phone=phone)
    await seed(live.bot)
    async with live.bot.bot.store.unit() as conn:  # a playbook id that looks like HTML, in the tooltip
        await conn.execute(insert(Nudge.__table__).values(member_id="n9", playbook_id=HOSTILE, at=START))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(live.base + "/dashboard")
    await ready(page)
    return page, dialogs


async def test_the_charts_are_drawn_from_the_shop_and_follow_the_group_and_span(live: Live) -> None:
    page, dialogs = await dashboard(live)
    people = await option(page, "people")
    assert [s["name"] for s in people["series"]] == ["入群", "退群", "活跃人数"]
    assert len(people["xAxis"][0]["data"]) == 30 and people["xAxis"][0]["data"][-1] == "11-26"
    assert people["series"][0]["data"][-7:] == [1, 2, 0, 1, 1, 0, 0]  # both groups: f joined r2 on 11-23
    assert (await option(page, "funnel"))["series"][0]["data"] == [8, 4, 2, 1, 1]
    cohorts = await option(page, "cohorts")  # 8 weeks from 10-05: the week of 11-16 is row 6
    assert [1, 6, 60, 3, 5] in cohorts["series"][0]["data"]  # week 1 after: 3 of 5 (60%)
    nudges = await option(page, "nudges")
    assert nudges["xAxis"][0]["data"] == [HOSTILE, "birthday", "wake"]
    assert [s["data"] for s in nudges["series"]] == [
        [0, 100, 75],
        [None, None, 25],
    ]  # n9, nudged again at 09:00, not back since
    notes = await page.locator("#note-nudges").inner_text()
    assert "wake：差值 +50.0 个百分点（95% 区间 -10.0 ~ +110.0）" in notes
    assert "birthday：没有对照组（holdout），无法比较" in notes
    await shoot(page, "dashboard")

    await page.select_option("#dash-room", "r1")
    await page.select_option("#dash-days", "7")
    await page.wait_for_function(
        "() => echarts.getInstanceByDom(document.getElementById('chart-people')).getOption().xAxis[0].data.length === 7"
    )
    await ready(page)
    people = await option(page, "people")
    assert people["series"][0]["data"] == [1, 2, 0, 0, 1, 0, 0]  # r1 only: i 11-20; c, d 11-21; e 11-24
    assert people["series"][2]["data"] == [0, 1, 0, 0, 1, 1, 2]
    messages = await option(page, "messages")
    assert [s["name"] for s in messages["series"]] == ["发出消息", "限速压住"]
    href = await page.locator("#csv-people").get_attribute("href")
    assert href == "/api/stats?room=r1&days=7&format=csv"
    assert ROOMS["r2"] in await page.locator("#dash-room").inner_text()  # the group named like HTML, as text
    assert dialogs == [] and live.errors == []


async def test_hovering_shows_the_numbers_and_html_in_a_name_stays_text(live: Live) -> None:
    page, dialogs = await dashboard(live)
    await page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-nudges'))"
        ".dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 2})"
    )
    tip = page.locator("#chart-nudges div").filter(has_text="提醒组 3/4 回来")
    assert "差值 +50.0 个百分点，95% 区间 -10.0 ~ +110.0" in await tip.last.inner_text()
    await page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-nudges'))"
        ".dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0})"
    )
    assert HOSTILE in await page.locator("#chart-nudges div").filter(has_text="提醒组 0/1").last.inner_text()
    assert await page.locator("#chart-nudges img").count() == 0
    assert dialogs == [] and live.errors == []


async def test_the_dashboard_on_a_phone(live: Live) -> None:
    page, _ = await dashboard(live, phone=True)
    width = await page.evaluate("document.getElementById('chart-people').getBoundingClientRect().width")
    assert 300 < width <= 390  # one column, no sideways scrolling
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert live.errors == []
