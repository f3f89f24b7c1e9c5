"""Last good versions: one rule, per file, at start-up and at every reload. A file with errors keeps its last
good version running (else it is left out), the good files load, and the set says which file runs from where.
The versions are rows in the database, written when a file loads changed, so a restart finds them."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from sqlalchemy import select, text
from test_staff_chatops import folder_with, texts
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, ReloadSection, StaffSection
from bot.store import Store
from bot.store.tables import AuditEntry, PlaybookVersion
from bot.store.versions import history
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

CONFIG = Config(staff=StaffSection(owner=["boss"], admin=["mgr"], staff=["clerk"]))
ECHO = "id: echo\nwhen:\n  - message: {{text: hi}}\ndo:\n  - reply: {text}\n"
TYPO = "id: echo\nwhen:\n  - message: {text: hi}\ndo:\n  - repyl: 新的回答\n"
HELLO = "id: hello\nwhen:\n  - message: {text: 你好}\ndo:\n  - reply: 你好呀\n"
NEXT_DAY = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
REPYL = "5:5: 未知的动作 'repyl'（是不是 'reply'？）"


async def versions(bot: TestBot) -> list[tuple[str, str]]:
    rows = await bot.rows(select(PlaybookVersion.path, PlaybookVersion.loaded_by).order_by(PlaybookVersion.id))
    return [tuple(r) for r in rows]


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("qunguan")]


async def test_a_file_broken_before_a_restart_runs_its_last_good_version_and_reload_runs_the_same_set(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="旧的回答"), hello=HELLO)
    echo = folder / "echo.yaml"
    async with TestBot.running(folder, config=CONFIG, database=backend.database) as bot:
        assert texts(await bot.say("u1", "hi", room="r1")) == ["旧的回答"]
    folder_with(tmp_path, echo=TYPO)
    caplog.set_level(logging.INFO, logger="qunguan")
    async with TestBot.running(folder, config=CONFIG, database=backend.database, start=NEXT_DAY) as bot:
        assert texts(await bot.say("u1", "hi", room="r1")) == ["旧的回答"]
        assert f"{echo}: has errors; its last good version of 2026-11-23 09:00 runs instead" in logged(caplog)
        assert f"{echo}:5:5: unknown action 'repyl' (did you mean 'reply'?)" in logged(caplog)
        (listing,) = await bot.say("clerk", "/剧本")
        assert listing.text == (
            "剧本（✅ 开 / ⛔ 关）：\n✅ echo  echo\n  ⚠️ 用的是 11-23 09:00 的旧版本：文件有错误\n✅ hello  hello\n"
            f"1 处错误（改好后发送 /重载）：\n{echo}:{REPYL}"
        )
        (answer,) = await bot.say("mgr", "/重载")
        assert answer.text == (
            "已重载：2 个剧本在运行\n"
            f"⚠️ {echo}：有错误，改用 2026-11-23 09:00 的旧版本运行\n"
            f"1 处错误（改好后再发送 /重载）：\n{echo}:{REPYL}"
        )
        assert texts(await bot.say("u1", "hi", room="r1")) == ["旧的回答"]
        assert texts(await bot.say("u1", "你好", room="r1")) == ["你好呀"]
        folder_with(tmp_path, echo=ECHO.format(text="新的回答"))
        assert texts(await bot.say("mgr", "/重载")) == ["已重载：2 个剧本在运行"]
        assert texts(await bot.say("u1", "hi", room="r1")) == ["新的回答"]
        assert await versions(bot) == [("echo.yaml", "start-up"), ("hello.yaml", "start-up"), ("echo.yaml", "mgr")]
        (listing,) = await bot.say("clerk", "/剧本")
        assert listing.text == "剧本（✅ 开 / ⛔ 关）：\n✅ echo  echo\n✅ hello  hello"
        results = await bot.rows(select(AuditEntry.result).where(AuditEntry.command == "重载"))
        assert [r.result for r in results] == ["partial", "ok"]


async def test_a_redelivered_reload_records_a_changed_file_once(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="一"))
    async with TestBot.running(folder, config=CONFIG) as bot:
        folder_with(tmp_path, echo=ECHO.format(text="二"))
        first = await bot.say("mgr", "/重载", event_id="reload-1")
        again = await bot.say("mgr", "/重载", event_id="reload-1")
        assert (texts(first), again) == (["已重载：1 个剧本在运行"], [])
        assert await versions(bot) == [("echo.yaml", "start-up"), ("echo.yaml", "mgr")]
        assert texts(await bot.say("mgr", "/重载")) == ["已重载：1 个剧本在运行"]  # unchanged: no new row
        assert await versions(bot) == [("echo.yaml", "start-up"), ("echo.yaml", "mgr")]


BATCHES = (
    "id: batches\nwhen:\n  - command: 本周券\ndo:\n  - reply: 本周有幸运券\n"
    "coupons:\n  - {id: lucky, title: 幸运券, stock: 5}\n"
)
TYPO_BATCHES = BATCHES.replace("reply:", "repyl:")
DROP = "id: drop\nwhen:\n  - message: {text: 领券}\ndo:\n  - coupon: lucky\n  - reply: '{{ coupon.title }}'\n"


async def test_a_typo_in_the_file_declaring_a_coupon_batch_never_stops_the_drop_of_the_file_using_it(
    tmp_path: Path,
) -> None:
    folder = folder_with(tmp_path, batches=BATCHES, drop=DROP)
    batches, drop = folder / "batches.yaml", folder / "drop.yaml"
    async with TestBot.running(folder, config=CONFIG) as bot:
        assert texts(await bot.say("u1", "领券", room="r1")) == ["幸运券"]
        folder_with(tmp_path, batches=TYPO_BATCHES)
        (answer,) = await bot.say("mgr", "/重载")
        assert answer.text.splitlines()[:2] == [
            "已重载：2 个剧本在运行",
            f"⚠️ {batches}：有错误，改用 2026-11-23 09:00 的旧版本运行",
        ]
        assert texts(await bot.say("u2", "领券", room="r1")) == ["幸运券"]
        # The new batch is declared only in the broken file: the drop's new version cannot run, its last one does.
        extra = "  - {id: extra, title: 加码券, stock: 5}\n"
        folder_with(tmp_path, batches=TYPO_BATCHES + extra, drop=DROP.replace("lucky", "extra"))
        (answer,) = await bot.say("mgr", "/重载")
        assert answer.text.splitlines() == [
            "已重载：2 个剧本在运行",
            f"⚠️ {batches}：有错误，改用 2026-11-23 09:00 的旧版本运行",
            f"⚠️ {drop}：有错误，改用 2026-11-23 09:00 的旧版本运行",
            "2 处错误（改好后再发送 /重载）：",
            f"{batches}:5:5: 未知的动作 'repyl'（是不是 'reply'？）",
            f"{drop}:5:5: 券批次 'extra' 只在 {batches} 里声明，而那个文件有错误：先把它改好",
        ]
        assert texts(await bot.say("u3", "领券", room="r1")) == ["幸运券"]
        folder_with(tmp_path, batches=BATCHES + extra)
        assert texts(await bot.say("mgr", "/重载")) == ["已重载：2 个剧本在运行"]
        assert texts(await bot.say("u4", "领券", room="r1")) == ["加码券"]


async def test_a_batch_moved_into_a_good_file_wins_over_the_last_good_version_of_the_broken_one(tmp_path: Path) -> None:
    """The folder says what a batch is: a last good version never takes a declaration from a file as written."""
    folder = folder_with(tmp_path, batches=BATCHES, drop=DROP)
    batches, drop = folder / "batches.yaml", folder / "drop.yaml"
    async with TestBot.running(folder, config=CONFIG) as bot:
        moved = DROP + "coupons:\n  - {id: lucky, title: 大吉券, stock: 9}\n"
        folder_with(tmp_path, batches=TYPO_BATCHES, drop=moved)
        (answer,) = await bot.say("mgr", "/重载")
        assert answer.text.splitlines() == [
            "已重载：2 个剧本在运行",
            f"⚠️ {batches}：有错误，改用 2026-11-23 09:00 的旧版本运行",
            f"⚠️ {batches}：旧版本也声明了券批次 'lucky'，用的是 {drop} 里的",
            "1 处错误（改好后再发送 /重载）：",
            f"{batches}:5:5: 未知的动作 'repyl'（是不是 'reply'？）",
        ]
        assert texts(await bot.say("u1", "领券", room="r1")) == ["大吉券"]
        assert texts(await bot.say("clerk", "/本周券")) == ["本周有幸运券"]  # the last good version runs


async def test_a_last_good_version_whose_id_a_file_as_written_has_now_is_left_out(tmp_path: Path) -> None:
    """Copied to a new file, then the old one broken: the copy runs, the old file's last good version cannot."""
    folder = folder_with(tmp_path, echo=ECHO.format(text="旧的回答"))
    echo, copy = folder / "echo.yaml", folder / "copy.yaml"
    async with TestBot.running(folder, config=CONFIG) as bot:
        folder_with(tmp_path, echo=TYPO, copy=ECHO.format(text="抄过来的回答"))
        (answer,) = await bot.say("mgr", "/重载")
        assert answer.text.splitlines()[:2] == [
            "已重载：1 个剧本在运行",
            f"❌ {echo}：有错误，2026-11-23 09:00 的旧版本也不能运行（ID 'echo' 重复了（{copy}:1:1 里也有）），"
            "没有运行",
        ]
        assert texts(await bot.say("u1", "hi", room="r1")) == ["抄过来的回答"]


async def test_a_deleted_file_is_gone_and_a_renamed_file_has_no_history(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="嗨"), hello=HELLO)
    async with TestBot.running(folder, config=CONFIG) as bot:
        (folder / "hello.yaml").unlink()
        (folder / "echo.yaml").unlink()
        renamed = folder / "renamed.yaml"
        renamed.write_text(TYPO, "utf-8")
        (answer,) = await bot.say("mgr", "/重载")
        assert answer.text == (
            f"已重载：0 个剧本在运行\n去掉：echo、hello\n❌ {renamed}：有错误，也没有旧版本，没有运行\n"
            f"1 处错误（改好后再发送 /重载）：\n{renamed}:{REPYL}"
        )
        assert await bot.say("u1", "hi", room="r1") == []
        assert await bot.say("u1", "你好", room="r1") == []


async def test_a_watched_folder_records_each_saved_version_as_the_watch_s(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="一"))
    config = Config(staff=CONFIG.staff, reload=ReloadSection(watch=True))
    async with TestBot.running(folder, config=config) as bot:
        reloader = bot.engine.reloader
        assert reloader is not None
        folder_with(tmp_path, echo=ECHO.format(text="二二"))
        await reloader.poll()
        folder_with(tmp_path, echo=TYPO + "# a typo, saved\n")
        await reloader.poll()
        assert texts(await bot.say("u1", "hi", room="r1")) == ["二二"]
        assert await versions(bot) == [("echo.yaml", "start-up"), ("echo.yaml", "watch")]


async def test_versions_are_kept_by_path_and_time_for_a_history(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, echo=ECHO.format(text="一"), hello=HELLO)
    async with TestBot.running(folder, config=CONFIG) as bot:
        await bot.advance(timedelta(hours=1))
        folder_with(tmp_path, echo=ECHO.format(text="二"))
        await bot.say("mgr", "/重载")
        await bot.advance(timedelta(hours=1))
        folder_with(tmp_path, echo=ECHO.format(text="一"))  # back to the first text: a new version all the same
        await bot.say("boss", "/重载")
        async with bot.bot.store.unit() as conn:
            everything = await history(conn, "echo.yaml")
            later = await history(conn, "echo.yaml", since=bot.clock.now() - timedelta(minutes=90))
    assert [(v.loaded_by, v.at.astimezone(CONFIG.tz).strftime("%H:%M")) for v in everything] == [
        ("start-up", "09:00"),
        ("mgr", "10:00"),
        ("boss", "11:00"),
    ]
    assert [v.text for v in later] == [ECHO.format(text="二"), ECHO.format(text="一")]
    assert everything[0].hash == everything[2].hash != everything[1].hash


async def test_a_database_made_before_the_versions_table_gets_it(backend: Backend, tmp_path: Path) -> None:
    """Shops upgrading from the last release (schema version 3) get the new table when the bot opens the database."""
    store = await Store.open(backend.database)
    try:
        async with store.unit() as conn:
            await conn.execute(text("DROP TABLE playbook_versions"))
            await conn.execute(text("UPDATE settings SET value = '3' WHERE key = 'schema_version'"))
    finally:
        await store.close()
    folder = folder_with(tmp_path, echo=ECHO.format(text="嗨"))
    async with TestBot.running(folder, config=CONFIG, database=backend.database) as bot:
        assert texts(await bot.say("u1", "hi", room="r1")) == ["嗨"]
        assert await versions(bot) == [("echo.yaml", "start-up")]


def test_qunguan_run_after_a_bad_edit_runs_the_last_good_version_and_says_so_in_chinese(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(f"database: {backend.database}\n", "utf-8")
    folder_with(tmp_path, echo=ECHO.format(text="旧的回答"))
    runner = CliRunner()
    first = runner.invoke(app, ["run"], input="")
    assert first.exit_code == 0, first.output
    folder_with(tmp_path, echo=TYPO)
    again = runner.invoke(app, ["run"], input="hi\n")
    assert again.exit_code == 0, again.output
    lines = again.output.splitlines()
    assert f"playbooks/echo.yaml:{REPYL}" in lines
    assert [line for line in lines if re.fullmatch(r"playbooks/echo\.yaml：有错误，改用 \S+ \S+ 的旧版本运行", line)]
    assert "已加载：1 个剧本在运行，1 个文件有错误" in lines
    assert any(line.endswith("旧的回答") for line in lines), again.output
