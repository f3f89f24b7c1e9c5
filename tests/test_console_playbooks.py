"""The console's 玩法 API: the list with switches and runs from the traces, the live check (the loader of `qunguan
check`: line, column, did-you-mean), save (checked, versioned, written, reloaded; with any problem nothing
changes), history with diffs, rollback, test runs on a scratch database, and staff refused every write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from backends import Backend
from sqlalchemy import insert, select

from bot.config import Config, StaffSection, WebSection
from bot.console.app import create_app
from bot.console.guard import Console
from bot.console.tables import Trace
from bot.playbook.fallback import digest
from bot.store import Store
from bot.store.tables import AuditEntry, PlaybookVersion, ReloadRequest
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

PUBLIC = "https://shop.example.cn"
CONFIG = Config(staff=StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"]), web=WebSection(public_url=PUBLIC))
ECHO = "id: echo\nwhen:\n  - message: {text: hi}\ndo:\n  - reply: 旧的回答\n"
NEW = "id: echo\nwhen:\n  - message: {text: hi}\ndo:\n  - reply: 新的回答\n"
TYPO = "id: echo\nwhen:\n  - message: {text: hi}\ndo:\n  - repyl: 新的回答\n"
DROP = (
    "coupons:\n  - {id: ten-off, title: 满100减10, stock: 5}\n"
    "id: drop\nwhen:\n  - message: {text: 抢券}\ndo:\n  - coupon: ten-off\n"
)
GRAB = "id: grab\nwhen:\n  - message: {text: 领券}\ndo:\n  - coupon: ten-off\n"
SCENARIO = (
    "name: 回答 hi\nrooms: [{id: r1, topic: 群}]\nmembers: [{id: u1}]\n"
    "steps:\n  - say: {member: u1, room: r1, text: hi}\n  - expect: {to: r1, contains: 新的回答}\n"
)


def folder_with(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, "utf-8")
    return folder


class Web:
    """A logged-in browser of the console over ASGI: `await web.as_("mgr")`, then get/post/put with CSRF."""

    def __init__(self, bot: TestBot, client: httpx.AsyncClient) -> None:
        self.bot, self.client, self.csrf = bot, client, ""

    async def as_(self, member_id: str) -> Web:
        (answer,) = await self.bot.say(member_id, "/后台")
        path = answer.text.splitlines()[-1].removeprefix(PUBLIC)
        assert (await self.client.post(path)).status_code == 303
        self.csrf = (await self.client.get("/api/me")).json()["csrf"]
        return self

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def write(self, method: str, path: str, body: object) -> httpx.Response:
        return await self.client.request(method, path, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
async def shop(backend: Backend, tmp_path: Path) -> AsyncIterator[tuple[TestBot, Path]]:
    folder = folder_with(tmp_path, echo=ECHO, drop=DROP, grab=GRAB)
    async with TestBot.running(folder, config=CONFIG, database=backend.database) as bot:
        yield bot, folder


@pytest.fixture
async def web(shop: tuple[TestBot, Path]) -> AsyncIterator[Web]:
    bot, folder = shop
    console = Console(bot.bot.store, bot.bot.config, bot.clock, folder)
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield Web(bot, client)


async def versions(bot: TestBot, path: str = "echo.yaml") -> list[tuple[str, str]]:
    rows = await bot.rows(
        select(PlaybookVersion.text, PlaybookVersion.loaded_by)
        .where(PlaybookVersion.path == path)
        .order_by(PlaybookVersion.id)
    )
    return [(r.text, r.loaded_by) for r in rows]


async def audited(bot: TestBot) -> list[tuple[str, str, str]]:
    rows = await bot.rows(select(AuditEntry.member_id, AuditEntry.command, AuditEntry.args).order_by(AuditEntry.id))
    return [tuple(r) for r in rows if r.command.startswith("console.") and r.command != "console.login"]


async def answers(bot: TestBot) -> list[str]:
    return [m.text for m in await bot.say("u1", "hi", room="r1")]


async def test_check_gives_each_problem_at_its_line_and_column_with_the_did_you_mean(web: Web) -> None:
    await web.as_("clerk")  # reading and checking is for every staff member
    out = await web.write("POST", "/api/check", {"file": "echo.yaml", "text": TYPO})
    assert out.status_code == 200
    body = out.json()
    assert body["ok"] is False
    assert [(p["line"], p["col"], p["message"]) for p in body["problems"]] == [
        (5, 5, "未知的动作 'repyl'（是不是 'reply'？）")
    ]
    good = (await web.write("POST", "/api/check", {"file": "echo.yaml", "text": NEW})).json()
    assert good == {"ok": True, "problems": [], "elsewhere": [], "playbooks": ["echo", "drop", "grab"]} or (
        good["ok"] and not good["problems"] and sorted(good["playbooks"]) == ["drop", "echo", "grab"]
    )


async def test_check_sees_the_whole_set_a_coupon_batch_another_file_uses_and_its_typo(web: Web) -> None:
    await web.as_("mgr")
    typo = GRAB.replace("coupon: ten-off", "coupon: ten-of")
    own = (await web.write("POST", "/api/check", {"file": "grab.yaml", "text": typo})).json()
    assert own["ok"] is False
    ((problem,),) = [own["problems"]]
    assert (problem["line"], problem["col"]) == (5, 5) and "ten-off" in problem["message"]
    gone = DROP.replace("ten-off", "five-off")  # grab.yaml uses ten-off: renaming it breaks the other file
    other = (await web.write("POST", "/api/check", {"file": "drop.yaml", "text": gone})).json()
    assert other["ok"] is False and other["problems"] == []
    assert [p["path"].endswith("grab.yaml") for p in other["elsewhere"]] == [True]


async def test_a_save_with_a_typo_changes_nothing(web: Web, shop: tuple[TestBot, Path]) -> None:
    bot, folder = shop
    await web.as_("mgr")
    before = await versions(bot)
    out = await web.write("PUT", "/api/playbooks/echo.yaml", {"text": TYPO, "base": digest(ECHO)})
    assert out.status_code == 422
    assert out.json()["saved"] is False and out.json()["problems"][0]["line"] == 5
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO
    assert await versions(bot) == before
    assert await answers(bot) == ["旧的回答"]
    assert await audited(bot) == []


async def test_a_good_save_keeps_a_version_writes_the_file_and_the_bot_answers_with_it(
    web: Web, shop: tuple[TestBot, Path]
) -> None:
    bot, folder = shop
    await web.as_("mgr")
    out = await web.write("PUT", "/api/playbooks/echo", {"text": NEW, "base": digest(ECHO)})  # by playbook id
    assert out.status_code == 200, out.text
    assert out.json()["saved"] is True and out.json()["reload"][0].startswith("已重载")
    assert (folder / "echo.yaml").read_text("utf-8") == NEW
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # the temp file was renamed
    assert await versions(bot) == [(ECHO, "start-up"), (NEW, "console:mgr")]
    assert await answers(bot) == ["新的回答"]
    assert await audited(bot) == [("mgr", "console.save", "echo.yaml")]


async def test_another_files_old_error_does_not_block_a_save_but_one_this_text_causes_does(
    web: Web, shop: tuple[TestBot, Path]
) -> None:
    _bot, folder = shop
    (folder / "broken.yaml").write_text(TYPO.replace("id: echo", "id: broken"), "utf-8")  # broken before the edit
    await web.as_("mgr")
    out = await web.write("PUT", "/api/playbooks/echo.yaml", {"text": NEW, "base": digest(ECHO)})
    assert out.status_code == 200 and out.json()["elsewhere"] == []
    gone = DROP.replace("ten-off", "five-off")  # grab.yaml uses ten-off
    refused = await web.write("PUT", "/api/playbooks/drop.yaml", {"text": gone, "base": digest(DROP)})
    assert refused.status_code == 422 and [p["path"].endswith("grab.yaml") for p in refused.json()["elsewhere"]] == [
        True
    ]
    assert (folder / "drop.yaml").read_text("utf-8") == DROP


async def test_history_diffs_each_version_and_rollback_is_a_new_audited_version(
    web: Web, shop: tuple[TestBot, Path]
) -> None:
    bot, folder = shop
    await web.as_("mgr")
    assert (await web.write("PUT", "/api/playbooks/echo.yaml", {"text": NEW, "base": digest(ECHO)})).status_code == 200
    listed = (await web.get("/api/playbooks/echo.yaml/versions")).json()["versions"]
    assert [v["by"] for v in listed] == ["console:mgr", "start-up"]
    assert {"kind": "-", "text": "  - reply: 旧的回答"} in listed[0]["diff"]
    assert {"kind": "+", "text": "  - reply: 新的回答"} in listed[0]["diff"]
    oldest = listed[1]["id"]
    out = await web.write("POST", "/api/playbooks/echo.yaml/rollback", {"version": oldest})
    assert out.status_code == 200 and out.json()["saved"] is True
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO
    assert await versions(bot) == [(ECHO, "start-up"), (NEW, "console:mgr"), (ECHO, "console:mgr")]
    assert await answers(bot) == ["旧的回答"]
    assert (await audited(bot))[-1] == ("mgr", "console.rollback", "echo.yaml")
    missing = await web.write("POST", "/api/playbooks/echo.yaml/rollback", {"version": 999999})
    assert missing.status_code == 404


async def test_a_save_racing_an_edit_on_disk_is_refused_and_the_edit_kept(web: Web, shop: tuple[TestBot, Path]) -> None:
    bot, folder = shop
    await web.as_("mgr")
    opened = (await web.get("/api/playbooks/echo.yaml")).json()
    assert opened["text"] == ECHO and opened["hash"] == digest(ECHO)
    edited = ECHO.replace("旧的回答", "文件里改的")
    (folder / "echo.yaml").write_text(edited, "utf-8")  # someone edits the file meanwhile
    out = await web.write("PUT", "/api/playbooks/echo.yaml", {"text": NEW, "base": opened["hash"]})
    assert out.status_code == 409 and "别处被改过" in out.json()["error"]
    assert (folder / "echo.yaml").read_text("utf-8") == edited
    assert await versions(bot) == [(ECHO, "start-up")]


async def test_a_file_edited_on_disk_is_versioned_when_the_bot_loads_it(shop: tuple[TestBot, Path]) -> None:
    bot, folder = shop
    (folder / "echo.yaml").write_text(NEW, "utf-8")
    (answer,) = await bot.say("mgr", "/重载")
    assert answer.text.startswith("已重载")
    assert await versions(bot) == [(ECHO, "start-up"), (NEW, "mgr")]


async def test_five_megabytes_of_yaml_are_refused_in_chinese(web: Web, shop: tuple[TestBot, Path]) -> None:
    _bot, folder = shop
    await web.as_("mgr")
    huge = ("k: " + "a" * 1020 + "\n") * 5 * 1024  # 5 MB of one-key lines
    for method, path in (("POST", "/api/check"), ("PUT", "/api/playbooks/echo.yaml")):
        out = await web.write(method, path, {"text": huge, "file": "echo.yaml"})
        assert out.status_code == 422
        assert out.json()["error"].startswith("剧本太大（5.0 MB）：一个剧本文件最多 1 MB")
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO


async def test_staff_cannot_save_switch_or_roll_back(web: Web, shop: tuple[TestBot, Path]) -> None:
    bot, folder = shop
    await web.as_("clerk")
    listing = (await web.get("/api/playbooks")).json()
    assert (listing["can_save"], listing["can_enable"], listing["can_disable"]) == (False, False, False)
    (version,) = await bot.rows(select(PlaybookVersion.id).where(PlaybookVersion.path == "echo.yaml"))
    for method, path, body in (
        ("PUT", "/api/playbooks/echo.yaml", {"text": NEW}),
        ("POST", "/api/playbooks/echo/disable", {}),
        ("POST", "/api/playbooks/echo/enable", {}),
        ("POST", "/api/playbooks/echo.yaml/rollback", {"version": version.id}),
    ):
        out = await web.write(method, path, body)
        assert out.status_code == 403, path
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO
    assert await answers(bot) == ["旧的回答"]
    assert await audited(bot) == []


async def test_the_switch_is_staffs_disable_audited_and_the_list_counts_runs_from_the_traces(
    web: Web, shop: tuple[TestBot, Path]
) -> None:
    bot, _folder = shop
    now = bot.clock.now()
    rows = [
        {
            "at": now - timedelta(hours=h),
            "event_key": f"e{h}",
            "kind": "message",
            "stage": s,
            "name": n,
            "outcome": o,
        }
        for h, s, n, o in (
            (1, "playbook", "echo", "ran"),
            (2, "playbook", "echo", "failed"),
            (3, "playbook", "echo", "skipped"),
            (4, "command", "echo", "ran"),  # a staff command of that name is not the playbook
            (30, "playbook", "echo", "ran"),
            (40, "playbook", "drop", "ran"),
            (5, "window", "drop", "ran"),  # a playbook's coupon drop or quiz window runs as the playbook
            (6, "moderation", "drop", "failed"),  # and so does its moderation rule
        )
    ]
    async with bot.bot.store.unit() as conn:
        await conn.execute(insert(Trace.__table__), rows)
    await web.as_("mgr")
    listing = (await web.get("/api/playbooks")).json()
    echo = next(p for p in listing["playbooks"] if p["id"] == "echo")
    assert (echo["runs"], echo["failures"], echo["file"], echo["on"]) == (2, 1, "echo.yaml", True)
    assert echo["last_run"].startswith((now - timedelta(hours=1)).isoformat()[:16])
    drop = next(p for p in listing["playbooks"] if p["id"] == "drop")
    assert (drop["runs"], drop["failures"]) == (2, 1)
    assert drop["last_run"].startswith((now - timedelta(hours=5)).isoformat()[:16])
    assert (await web.write("POST", "/api/playbooks/echo/disable", {})).json() == {"id": "echo", "on": False}
    assert await answers(bot) == []
    assert next(p for p in (await web.get("/api/playbooks")).json()["playbooks"] if p["id"] == "echo")["on"] is False
    assert (await web.write("POST", "/api/playbooks/echo/enable", {})).status_code == 200
    assert await answers(bot) == ["旧的回答"]
    assert await audited(bot) == [("mgr", "console.disable", ""), ("mgr", "console.enable", "")]
    assert (await web.write("POST", "/api/playbooks/ehco/enable", {})).status_code == 404


async def test_the_console_alone_leaves_a_reload_request_for_the_bot_running_elsewhere(
    backend: Backend, tmp_path: Path
) -> None:
    folder = folder_with(tmp_path, echo=ECHO)
    async with TestBot.running({"x.yaml": ECHO}, config=CONFIG, database=backend.database) as bot:
        console = Console(bot.bot.store, bot.bot.config, bot.clock, folder)  # no bot of this process loads it
        transport = httpx.ASGITransport(app=create_app(console))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            web = await Web(bot, client).as_("mgr")
            out = await web.write("PUT", "/api/playbooks/echo.yaml", {"text": NEW, "base": digest(ECHO)})
            assert out.status_code == 200 and out.json()["reload"] == ["已通知在运行的机器人重新读取剧本（一秒内生效）"]
        assert len(await bot.rows(select(ReloadRequest.id))) == 1
        assert (folder / "echo.yaml").read_text("utf-8") == NEW
        assert await versions(bot) == [(NEW, "console:mgr")]


async def test_a_switch_from_the_console_alone_reaches_the_bot_running_elsewhere_at_its_next_poll(
    backend: Backend, tmp_path: Path
) -> None:
    folder = folder_with(tmp_path, echo=ECHO)
    async with TestBot.running(folder, config=CONFIG, database=backend.database) as bot:
        elsewhere = await Store.open(backend.database, clock=bot.clock)  # `qunguan console`: its own store
        try:
            console = Console(elsewhere, bot.bot.config, bot.clock, folder)
            transport = httpx.ASGITransport(app=create_app(console))
            async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
                web = await Web(bot, client).as_("mgr")
                assert (await web.write("POST", "/api/playbooks/echo/disable", {})).status_code == 200
        finally:
            await elsewhere.close()
        assert await answers(bot) == ["旧的回答"]  # the bot has not looked yet
        assert bot.bot.engine.reloader is not None
        await bot.bot.engine.reloader.poll()  # its once-a-second look
        assert await answers(bot) == []


async def test_scenarios_run_on_the_edited_text_off_the_shops_database(web: Web, shop: tuple[TestBot, Path]) -> None:
    bot, folder = shop
    await web.as_("mgr")
    assert (await web.get("/api/playbooks/echo.yaml")).json()["scenarios"] == []  # no tests/ folder yet
    (folder / "tests").mkdir()
    (folder / "tests" / "echo.yaml").write_text(SCENARIO, "utf-8")
    opened = (await web.get("/api/playbooks/echo.yaml")).json()
    assert opened["scenarios"] == [{"name": "tests/echo.yaml", "related": True}]
    failed = (await web.write("POST", "/api/playbooks/echo.yaml/test", {"scenarios": ["tests/echo.yaml"]})).json()
    assert [r["passed"] for r in failed["results"]] == [False]  # the file says 旧的回答
    assert any("新的回答" in line for line in failed["results"][0]["detail"])
    body = {"text": NEW, "scenarios": ["tests/echo.yaml"], "scenario": SCENARIO.replace("回答 hi", "输入的")}
    passed = (await web.write("POST", "/api/playbooks/echo.yaml/test", body)).json()
    assert [(r["name"], r["passed"]) for r in passed["results"]] == [("回答 hi", True), ("输入的", True)]
    assert (folder / "echo.yaml").read_text("utf-8") == ECHO  # a test saves nothing
    assert await answers(bot) == ["旧的回答"]
    bad = await web.write("POST", "/api/playbooks/echo.yaml/test", {"text": TYPO, "scenario": SCENARIO})
    assert bad.status_code == 422 and bad.json()["problems"][0]["line"] == 5
    nothing = await web.write("POST", "/api/playbooks/echo.yaml/test", {"scenarios": ["../../etc/passwd"]})
    assert nothing.status_code == 422


async def test_the_schema_served_is_the_generated_one(web: Web) -> None:
    await web.as_("clerk")
    served = (await web.get("/api/schema")).json()
    generated = json.loads((Path(__file__).resolve().parent.parent / "qunguan.schema.json").read_text("utf-8"))
    assert served == generated


async def test_ids_outside_the_folder_are_not_files(web: Web) -> None:
    await web.as_("mgr")
    for ident in ("../x.yaml", "tests/echo.yaml", "/etc/passwd.yaml", "nope"):
        assert (await web.get(f"/api/playbooks/{ident}")).status_code == 404, ident
