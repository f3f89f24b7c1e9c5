"""The local simulator, driven through piped stdin as a script would drive it."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

from bot.config import Config
from bot.connectors.simulator import run_simulator
from bot.playbook.library import load_folder, load_texts

ROOT = Path(__file__).resolve().parent.parent


async def simulate(lines: list[str], database: Path, playbooks: object = None) -> str:
    out = io.StringIO()
    config = Config()
    loaded = playbooks or load_folder(ROOT / "playbooks")
    await run_simulator(config, loaded, database=str(database), stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
    return out.getvalue()


async def test_a_member_checks_in_and_asks_for_points(tmp_path: Path) -> None:
    out = await simulate(["签到", "签到", "/积分"], tmp_path / "sim.db")
    assert "【会员福利1群】群管小助手：小王 签到成功！连续 1 天，+5 分，共 5 分" in out
    assert "今天已经签到过啦" in out
    assert "小王，你当前有 5 积分，已连续签到 1 天" in out


async def test_state_and_clock_persist_between_runs(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    await simulate(["签到", "/time +1d"], db)
    out = await simulate(["签到", "/积分"], db)
    assert "连续 2 天" in out
    assert "你当前有 10 积分，已连续签到 2 天" in out


async def test_switching_member_room_join_leave_and_private(tmp_path: Path) -> None:
    out = await simulate(
        ["/as u2 小李", "/room 会员福利2群", "/join u1", "/private", "查积分", "/group", "/leave", "/who"],
        tmp_path / "sim.db",
    )
    assert "【会员福利2群】群管小助手：@小李 欢迎 小李 加入「会员福利2群」" in out
    assert "【私聊 → 小李】群管小助手：小李，你当前有 10 积分" in out
    assert "小李 退出了「会员福利2群」" in out
    assert "你是 小李（u2），在群「会员福利2群」" in out


async def test_time_travel_fires_due_schedules_in_order(tmp_path: Path) -> None:
    playbooks = load_texts(
        {
            "playbooks/hourly.yaml": "id: hourly\nwhen:\n  - schedule: {every: 1h}\n"
            "do:\n  - say: \"整点报时 {{ now.strftime('%H:%M') }}\"\n"
        }
    )
    out = await simulate(["大家好", "/time +3h"], tmp_path / "sim.db", playbooks)
    assert out.count("整点报时") == 3
    assert "（期间执行了 3 个定时剧本）" in out


async def test_help_and_bad_time_give_clear_chinese_answers(tmp_path: Path) -> None:
    out = await simulate(["/?", "/time tomorrow", "/as"], tmp_path / "sim.db")
    assert "模拟器命令" in out
    assert "用法：/time +1d" in out
    assert "用法：/as ID [名字]" in out


async def test_member_text_that_looks_like_a_template_is_just_text(tmp_path: Path) -> None:
    playbooks = load_texts(
        {
            "playbooks/echo.yaml": "id: echo\nwhen:\n  - message: {regex: '^echo '}\n"
            "do:\n  - reply: '你说：{{ message.text }}'\n"
        }
    )
    out = await simulate(["echo {{ 7*7 }}"], tmp_path / "sim.db", playbooks)
    assert "你说：echo {{ 7*7 }}" in out
    assert "49" not in out


def test_qunguan_run_with_piped_stdin_uses_the_simulator_and_exits_at_eof(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input="签到\n/积分\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "签到成功！连续 1 天" in done.stdout
    assert "你当前有 5 积分" in done.stdout
    assert (tmp_path / "data" / "qunguan.db").exists()
    assert "Traceback" not in done.stderr
