"""Where the CLI finds the playbooks: a folder that is not there stops every command with a clear message,
a file too large to be a playbook is refused unread, and the folder is given once."""

from __future__ import annotations

import importlib.metadata
import shutil
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.playbook.library import load_folder

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
HUGE = 100 * 1024 * 1024


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# `run` would start the simulator on the (empty) stdin; the others would find nothing to check or test.
COMMANDS = [["check"], ["test"], ["run"], ["reload", "--wait", "0"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_playbooks_folder_named_in_config_that_does_not_exist_stops_the_command(
    shop: Path, command: list[str]
) -> None:
    """Typically a typo in config.yaml or the wrong working directory: say which folder and where it was named."""
    (shop / "config.yaml").write_text("playbooks: playbook\n", "utf-8")
    result = runner.invoke(app, [*command, "--config", "config.yaml"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"找不到剧本文件夹 playbook（{shop / 'playbook'}），它来自 config.yaml 里的 'playbooks: playbook'"
    ]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_playbooks_folder_given_on_the_command_line_that_does_not_exist_stops_the_command(
    shop: Path, command: list[str]
) -> None:
    result = runner.invoke(app, [*command, "--playbooks", "nowhere"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [f"找不到剧本文件夹 nowhere（{shop / 'nowhere'}），它来自 --playbooks"]


@pytest.mark.parametrize(
    ("config", "source"),
    [
        (None, "默认值（这里没有 config.yaml）"),
        ("timezone: Asia/Shanghai\n", "默认值（config.yaml 里没有设置 'playbooks:'）"),
    ],
    ids=["no-config-yaml", "config-yaml-without-playbooks"],
)
def test_the_default_playbooks_folder_missing_says_it_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str | None, source: str
) -> None:
    """`qunguan check` in the wrong directory: the folder it looked for, and that it was only the default."""
    monkeypatch.chdir(tmp_path)
    if config is not None:
        (tmp_path / "config.yaml").write_text(config, "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [f"找不到剧本文件夹 playbooks（{tmp_path / 'playbooks'}），它来自{source}"]


def test_a_file_where_the_folder_should_be_is_not_a_playbooks_folder(shop: Path) -> None:
    (shop / "rules.yaml").write_text("id: x\n", "utf-8")
    result = runner.invoke(app, ["check", "rules.yaml"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [f"rules.yaml（{shop / 'rules.yaml'}）不是文件夹，它来自命令行参数"]


def test_a_100_mb_playbook_is_refused_as_too_large_without_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pasted log or a generated dump, not a playbook: the limit is named and the file is never read whole."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "ok.yaml").write_text("id: ok\nwhen: [{join: {}}]\ndo: [{reply: 欢迎}]\n", "utf-8")
    with (folder / "huge.yaml").open("w", encoding="utf-8") as fh:
        fh.write("id: huge\nwhen: [{join: {}}]\ndo: [{reply: 欢迎}]\nx: [")
        fh.truncate(HUGE)  # sparse: 100 MB on paper, nothing on disk
    monkeypatch.chdir(tmp_path)
    tracemalloc.start()
    try:
        loaded = load_folder(Path("playbooks"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [str(p) for p in loaded.problems] == [
        "playbooks/huge.yaml:1:1: the file is 100.0 MB; a playbook may be at most 1 MB: split it into several files"
    ]
    assert [pb.id for pb in loaded.playbooks] == ["ok"]
    assert peak < 10 * 1024 * 1024, f"{peak / 1024**2:.0f} MB used to refuse it"


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"qunguan {importlib.metadata.version('qunguan')}\n"


def test_check_with_a_path_and_playbooks_option_is_an_error_not_a_silent_choice(shop: Path) -> None:
    (shop / "other").mkdir()
    result = runner.invoke(app, ["check", "playbooks", "--playbooks", "other"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        "剧本文件夹给了两次（playbooks 和 --playbooks other）：只写一个，例如 qunguan check playbooks"
    ]
