"""The examples of the language contract behave as written, not only load."""

from __future__ import annotations

from pathlib import Path

import contract_examples
import pytest

from bot.config import Config
from bot.playbook.errors import Problems
from bot.playbook.library import PlaybookSet, load_folder, load_texts
from bot.playbook.loader import parse_yaml
from bot.registry import load_abilities
from bot.scenario import parse_scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent


def runnable_contract_playbooks() -> dict[str, str]:
    registry = load_abilities()
    out = {}
    for text in contract_examples.playbooks():
        problems = Problems()
        doc = parse_yaml(text, "contract.yaml", problems)
        assert doc is not None, [str(p) for p in problems.sorted()]
        if contract_examples.uses_only_registered(doc.data, registry):
            out[f"playbooks/{doc.data['id']}.yaml"] = text
    return out


async def run_contract_scenario(tmp_path: Path, playbooks: PlaybookSet) -> list[str]:
    (scenario_text,) = contract_examples.scenarios()
    file = tmp_path / "contract-scenario.yaml"
    file.write_text(scenario_text, "utf-8")
    problems = Problems()
    scenario = parse_scenario(file, file.name, problems)
    assert scenario is not None, [str(p) for p in problems.sorted()]
    result = await run_scenario(scenario, playbooks, Config())
    return [] if result.passed else result.detail


def test_the_contract_examples_this_version_covers() -> None:
    assert sorted(runnable_contract_playbooks()) == [
        "playbooks/daily-checkin.yaml",
        "playbooks/my-points.yaml",
        "playbooks/reactivation.yaml",
        "playbooks/welcome.yaml",
    ]


async def test_the_contract_scenario_passes_on_the_contract_examples(tmp_path: Path) -> None:
    playbooks = load_texts(runnable_contract_playbooks())
    assert not playbooks.problems
    assert await run_contract_scenario(tmp_path, playbooks) == []


async def test_the_contract_scenario_passes_on_the_shipped_playbooks(tmp_path: Path) -> None:
    playbooks = load_folder(ROOT / "playbooks")
    assert not playbooks.problems
    assert await run_contract_scenario(tmp_path, playbooks) == []


async def test_the_contract_scenario_fails_without_the_welcome_playbook(tmp_path: Path) -> None:
    """The scenario really exercises the playbooks: take one away and it says which step broke."""
    examples = runnable_contract_playbooks()
    del examples["playbooks/welcome.yaml"]
    detail = await run_contract_scenario(tmp_path, load_texts(examples))
    assert detail and "step 2 (expect)" in detail[0]


@pytest.mark.skipif(not contract_examples.SHARED.is_file(), reason="no ../shared beside this clone to compare with")
def test_the_copy_of_the_contract_is_current() -> None:
    assert contract_examples.CONTRACT.read_text("utf-8") == contract_examples.SHARED.read_text("utf-8"), (
        "../shared/PLAYBOOKS.md changed: copy it to tests/contract/PLAYBOOKS.md and make the tests pass"
    )
