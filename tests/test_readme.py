"""README.md stays true: its tour shows the shipped files and the output the commands really print."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")
runner = CliRunner()


def _block_after(heading: str, lang: str) -> str:
    """The first ```lang block after a heading."""
    start = README.index(heading)
    match = re.compile(rf"```{lang}\n(.*?)```", re.S).search(README, start)
    assert match, f"no {lang} block after {heading!r}"
    return match.group(1)


def _command_output(heading: str) -> tuple[str, list[str]]:
    lines = _block_after(heading, "text").splitlines()
    assert lines[0].startswith("$ "), lines[0]
    return lines[0][2:], lines[1:]


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_playbook_shown_is_the_shipped_one() -> None:
    assert _block_after("### 2. Write a playbook", "yaml") == (ROOT / "playbooks/daily-checkin.yaml").read_text("utf-8")


def test_the_check_example_prints_what_readme_shows(shop: Path) -> None:
    command, expected = _command_output("### 3. Check it")
    assert command == "qunguan check"
    file = shop / "playbooks" / "daily-checkin.yaml"
    lines = file.read_text("utf-8").splitlines(keepends=True)
    assert lines[8].strip().startswith("- checkin:"), "README says the misspelling is on line 9"
    lines[8] = lines[8].replace("checkin:", "chekin:")
    file.write_text("".join(lines), "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert result.output.splitlines() == expected


@pytest.mark.slow
def test_the_test_example_prints_what_readme_shows(shop: Path) -> None:
    command, expected = _command_output("### 4. Test it")
    assert command == "qunguan test"
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 0, result.output
    output = result.output.splitlines()
    shown = [line for line in expected if line != "..."]
    assert all(line in output for line in shown), (shown, output)
    assert output[-1] == expected[-1]


def test_the_scenario_shown_is_the_shipped_one() -> None:
    assert _block_after("### 4. Test it", "yaml") == (ROOT / "playbooks/tests/checkin.yaml").read_text("utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    """`.ci/run` is the README's second command to the letter: what CI proves is what a user runs."""
    commands = re.findall(r"```sh\n(.*?)\n```", README[README.index("## Two commands") :], re.S)
    ci = (ROOT / ".ci/run").read_text("utf-8").strip().splitlines()[-1]
    assert ci == commands[1]


def test_the_moderation_section_names_the_shipped_playbooks_and_the_guide() -> None:
    """Each shipped moderation playbook is named with its file, id and name, and the staff guide it links exists."""
    section = README[README.index("### 6. Moderation") : README.index("## Commands")]
    rows = re.findall(r"\| `playbooks/moderation/([\w-]+)\.yaml` \| `([\w-]+)` \| (\S+) \|", section)
    shipped = {p.stem: yaml.safe_load(p.read_text("utf-8")) for p in (ROOT / "playbooks/moderation").glob("*.yaml")}
    assert sorted(rows) == sorted((stem, data["id"], data["name"]) for stem, data in shipped.items())
    for link in re.findall(r"\]\(([^)#]+)\)", section):
        assert (ROOT / link).is_file(), link
    assert "docs/moderation.md" in section
