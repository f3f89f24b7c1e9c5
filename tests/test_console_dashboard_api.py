"""The dashboard's API (/api/stats, /api/funnel, /api/cohorts, /api/nudges) and page: staff read them, nobody
else; a bad `days`, `room` or `format` is a Chinese 422; each figure downloads as CSV; the page carries the
charts' places and scripts (the browser test draws them)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from dashboard_seed import START, seed

from bot.config import Config, StaffSection, WebSection
from bot.console.app import create_app
from bot.console.guard import Console
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

PUBLIC = "https://shop.example.cn"
CONFIG = Config(staff=StaffSection(owner=["boss"], staff=["clerk"]), web=WebSection(public_url=PUBLIC))
APIS = ("/api/stats", "/api/funnel", "/api/cohorts", "/api/nudges")


@pytest.fixture
async def bot() -> AsyncIterator[TestBot]:
    async with TestBot.running({}, config=CONFIG, start=START) as running:
        await seed(running)
        yield running


@pytest.fixture
async def web(bot: TestBot) -> AsyncIterator[httpx.AsyncClient]:
    console = Console(bot.bot.store, bot.bot.config, bot.clock)
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client
    await console.reader.close()


async def log_in(bot: TestBot, web: httpx.AsyncClient, member_id: str = "clerk") -> None:
    # the seeded outbox's pending rows go out with the answer: the link is the answer to member_id
    (answer,) = [m for m in await bot.say(member_id, "/后台") if m.member and m.member.id == member_id]
    assert (await web.post(answer.text.splitlines()[-1].removeprefix(PUBLIC))).status_code == 303


async def test_without_a_session_every_figure_is_refused(web: httpx.AsyncClient) -> None:
    for path in APIS:
        answer = await web.get(path)
        assert (answer.status_code, answer.json()) == (401, {"error": "未登录"})
    assert "请先登录" in (await web.get("/dashboard")).text


async def test_staff_read_the_daily_figures_of_a_group(bot: TestBot, web: httpx.AsyncClient) -> None:
    await log_in(bot, web)
    answer = await web.get("/api/stats", params={"days": 7, "room": "r1"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["days"][0] == "2026-11-20" and data["days"][-1] == "2026-11-26" and data["room"] == "r1"
    joins = next(f for f in data["figures"] if f["key"] == "joins")
    assert (joins["label"], joins["values"], joins["total"]) == ("入群", [1, 2, 0, 0, 1, 0, 0], 4)
    assert {"id": "r2", "topic": "<img src=x onerror=alert(1)>"} in data["rooms"]  # JSON: text, the page writes it so
    assert len((await web.get("/api/stats")).json()["days"]) == 30  # the default


async def test_funnel_cohorts_and_nudges_answer_json(bot: TestBot, web: httpx.AsyncClient) -> None:
    await log_in(bot, web)
    funnel = (await web.get("/api/funnel", params={"days": 30})).json()
    assert [(s["label"], s["members"]) for s in funnel["steps"]] == [
        ("入群", 8),
        ("首次签到", 4),
        ("领到券", 2),
        ("核销", 1),
        ("带来新人", 1),
    ]
    cohorts = (await web.get("/api/cohorts", params={"weeks": 3})).json()
    assert cohorts["cohorts"][1] == {"week": "2026-11-16", "members": 5, "active": [1, 3]}
    wake = (await web.get("/api/nudges", params={"days": 30})).json()["playbooks"][1]
    assert (wake["playbook_id"], wake["nudged_rate"], wake["held_rate"], wake["difference"]) == (
        "wake",
        0.75,
        0.25,
        0.5,
    )
    assert round(wake["low"], 4) == -0.1001 and round(wake["high"], 4) == 1.1001


@pytest.mark.parametrize(
    ("path", "params", "error"),
    [
        ("/api/stats", {"days": "14"}, "参数 days 只能是 7、30 或 90"),
        ("/api/stats", {"days": "abc"}, "参数 days 应是整数"),
        ("/api/funnel", {"days": "0"}, "参数 days 应在 1 到 90 之间"),
        ("/api/nudges", {"days": "365"}, "参数 days 应在 1 到 90 之间"),
        ("/api/cohorts", {"weeks": "13"}, "参数 weeks 应在 1 到 12 之间"),
        ("/api/funnel", {"format": "xlsx"}, "参数 format 只能是 json 或 csv"),
    ],
)
async def test_bad_parameters_get_a_chinese_422(
    bot: TestBot, web: httpx.AsyncClient, path: str, params: dict[str, str], error: str
) -> None:
    await log_in(bot, web)
    answer = await web.get(path, params=params)
    assert (answer.status_code, answer.json()) == (422, {"error": error})


async def test_a_group_that_is_not_there_is_not_found(bot: TestBot, web: httpx.AsyncClient) -> None:
    await log_in(bot, web)
    for path in APIS:
        answer = await web.get(path, params={"room": "nowhere"})
        assert (answer.status_code, answer.json()) == (404, {"error": "没有这个群"})
    refused = await web.get("/api/stats", params={"room": "r1\x07"})
    assert (refused.status_code, refused.json()) == (422, {"error": "参数 room 含有控制字符"})


async def test_each_chart_downloads_as_csv_a_spreadsheet_opens(bot: TestBot, web: httpx.AsyncClient) -> None:
    await log_in(bot, web)
    answer = await web.get("/api/stats", params={"days": 7, "room": "r1", "format": "csv"})
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="stats-7d.csv"'
    rows = list(csv.reader(io.StringIO(answer.text.removeprefix("\ufeff"))))  # BOM: Excel reads it as UTF-8
    assert rows[0][:4] == ["日期", "入群", "退群", "活跃人数"] and rows[1][:2] == ["2026-11-20", "1"]
    assert len(rows) == 8
    funnel = (await web.get("/api/funnel", params={"format": "csv"})).text.removeprefix("\ufeff")
    assert funnel.splitlines()[:3] == ["步骤,人数", "入群,8", "首次签到,4"]
    cohorts = (await web.get("/api/cohorts", params={"weeks": 3, "format": "csv"})).text.removeprefix("\ufeff")
    assert cohorts.splitlines()[:2] == ["入群周,人数,第0周,第1周,第2周", "2026-11-09,1,1,0,1"]
    nudges = (await web.get("/api/nudges", params={"format": "csv"})).text.removeprefix("\ufeff")
    assert nudges.splitlines()[2].startswith("wake,4,3,4,1,0.5,-0.100")


async def test_the_page_has_a_place_and_a_csv_link_for_each_chart(bot: TestBot, web: httpx.AsyncClient) -> None:
    await log_in(bot, web)
    page = await web.get("/dashboard")
    assert page.status_code == 200
    for chart in ("people", "activity", "coupons", "messages", "funnel", "cohorts", "nudges"):
        assert f'id="chart-{chart}"' in page.text and f'id="csv-{chart}"' in page.text
    assert "/static/vendor/echarts-5.6.0/echarts.min.js" in page.text and "<script>" not in page.text
    assert '<a href="/dashboard"' in page.text  # in the menu


async def test_the_openapi_document_declares_the_figures_and_their_csv(web: httpx.AsyncClient) -> None:
    paths = (await web.get("/api/openapi.json")).json()["paths"]
    for path in APIS:
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    days = next(p for p in paths["/api/stats"]["get"]["parameters"] if p["name"] == "days")
    assert days["schema"]["enum"] == [7, 30, 90]
