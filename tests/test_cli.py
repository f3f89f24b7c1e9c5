"""The `qunguan` command as operators use it: exit codes and what it prints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import ELSEWHERE, app

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = len(list((ROOT / "playbooks" / "tests").glob("*.yaml")))  # streams add scenarios in parallel
runner = CliRunner()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped playbooks in a folder with no config.yaml, as the working directory."""
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_passes_on_shipped_playbooks() -> None:
    result = runner.invoke(app, ["check", str(ROOT / "playbooks"), "--config", str(ROOT / "config.yaml")])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()  # no problem and no warning either
    shipped = [
        p for p in (ROOT / "playbooks").rglob("*.yaml") if "tests" not in p.relative_to(ROOT / "playbooks").parts
    ]
    assert line.startswith("OK：") and line.endswith(f"playbooks 里有 {len(shipped)} 个剧本"), line


def test_check_works_outside_the_project_without_config(shop: Path) -> None:
    result = runner.invoke(app, ["check", "playbooks"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK：")


def test_check_reports_every_problem_of_every_file_and_exits_1(shop: Path) -> None:
    (shop / "playbooks" / "broken.yaml").write_text("id: broken\nwhen:\n  - join: {}\ndo:\n  - pionts: 5\n", "utf-8")
    (shop / "playbooks" / "bad-yaml.yaml").write_text("id: x\nwhen: [\n", "utf-8")
    result = runner.invoke(app, ["check", "playbooks"])
    assert result.exit_code == 1
    assert "playbooks/broken.yaml:5:5: 未知的动作 'pionts'（是不是 'points'？）" in result.output
    assert "playbooks/bad-yaml.yaml:3:1: YAML 语法错误" in result.output
    assert "Traceback" not in result.output


def test_check_on_an_empty_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["check", "empty"])
    assert result.exit_code == 0
    assert "OK：empty 里有 0 个剧本" in result.output


def test_check_on_a_missing_folder_is_an_error(shop: Path) -> None:
    result = runner.invoke(app, ["check", "nowhere"])
    assert result.exit_code == 2
    assert "找不到剧本文件夹 nowhere" in result.output


def test_a_named_config_file_that_is_missing_is_an_error(shop: Path) -> None:
    result = runner.invoke(app, ["check", "--config", "missing.yaml"])
    assert result.exit_code == 2
    assert "missing.yaml:1:1: 找不到配置文件" in result.output


def test_a_broken_config_is_reported_with_its_line(shop: Path) -> None:
    (shop / "config.yaml").write_text("timezone: Mars/Olympus\nstaf:\n  owner: [x]\n", "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
    assert "config.yaml:1:11: 'timezone' 必须是 IANA 时区，如 Asia/Shanghai；现在是 'Mars/Olympus'" in result.output
    assert "config.yaml:2:1: '配置' 里有未知的键 'staf'（是不是 'staff'？）" in result.output


@pytest.mark.slow
def test_test_runs_the_shipped_scenarios(shop: Path) -> None:
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 0, result.output
    assert "PASS 签到连续两天" in result.output
    assert result.output.strip().endswith(f"{SCENARIOS} passed, 0 failed")


@pytest.mark.slow
def test_test_finds_the_playbooks_beside_a_tests_folder(shop: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    result = runner.invoke(app, ["test", str(shop / "playbooks" / "tests")])
    assert result.exit_code == 0, result.output
    assert f"{SCENARIOS} passed, 0 failed" in result.output


@pytest.mark.slow
def test_test_failure_lists_what_was_sent_and_exits_1(shop: Path) -> None:
    (shop / "playbooks" / "tests" / "wrong.yaml").write_text(
        "name: 写错的期望\nrooms: [{id: r1, topic: 群}]\nmembers: [{id: u1, name: 小王}]\nsteps:\n"
        "  - say: {member: u1, room: r1, text: 签到}\n  - expect: {to: r1, contains: 连续 9 天}\n",
        "utf-8",
    )
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 1
    assert "FAIL 写错的期望" in result.output
    assert "step 2 (expect) at playbooks/tests/wrong.yaml:6:5" in result.output
    assert "→ r1: 小王 签到成功！连续 1 天" in result.output
    assert f"{SCENARIOS} passed, 1 failed" in result.output


def test_test_refuses_to_run_against_broken_playbooks(shop: Path) -> None:
    (shop / "playbooks" / "broken.yaml").write_text("id: Broken\n", "utf-8")
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 1
    assert "先改好再测试" in result.output


def test_test_with_no_scenarios_fails_instead_of_passing_silently(shop: Path) -> None:
    shutil.rmtree(shop / "playbooks" / "tests")
    (shop / "playbooks" / "tests").mkdir()
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 1
    assert "里没有场景文件" in result.output


def test_schema_prints_json_naming_the_actions() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert '"checkin"' in result.output


@pytest.mark.slow
def test_python_dash_m_bot_is_the_same_command() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for command in ("run", "check", "test", "schema"):
        assert command in done.stdout


def test_run_rejects_an_unknown_connector(shop: Path) -> None:
    result = runner.invoke(app, ["run", "--connector", "telegram"])
    assert result.exit_code == 2
    assert "未知的连接器 'telegram'；可用的有：simulator、wechaty" in result.output


def test_python_dash_m_bot_runs_its_command_with_the_collector_on() -> None:
    """Start-up imports with the collector off; the command itself (a bot running for weeks) collects as ever,
    and what start-up built is frozen out of the collector's walks."""
    probe = (
        "import gc, runpy, bot.cli\n"
        "bot.cli.app = lambda: print(gc.isenabled(), gc.get_freeze_count() > 1000)\n"
        "runpy.run_module('bot', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_check_imports_none_of_the_other_commands(shop: Path) -> None:
    """`qunguan check` runs on every save in an editor: the console, backups, the fleet load only for theirs."""
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['qunguan', 'check', 'playbooks']\n"
        "try:\n"
        "    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, sorted(m for m in sys.modules if m.endswith('_cli') or m == 'bot.console.server'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 []"


@pytest.mark.parametrize("command", sorted(ELSEWHERE))
def test_each_command_held_elsewhere_is_listed_and_answers_help(command: str) -> None:
    listed = runner.invoke(app, ["--help"])
    assert listed.exit_code == 0
    assert f" {command} " in listed.output
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: root {command}" in result.output


def test_a_mistyped_command_is_told_the_closest_of_all() -> None:
    result = runner.invoke(app, ["restor"])
    assert result.exit_code == 2
    assert "Did you mean 'restore'" in result.output
