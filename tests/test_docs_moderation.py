"""docs/moderation.md stays true: the playbooks it shows are the shipped ones, its other examples load and pass,
and the quality figures it states are the measured ones (tests/test_moderation_quality.py measures them)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.config import Config
from bot.playbook.errors import Problems
from bot.playbook.library import load_folder, load_texts
from bot.registry import load_abilities
from bot.scenario import parse_scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "moderation.md").read_text("utf-8")
SHIPPED = ROOT / "playbooks" / "moderation"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def shown(kind: str) -> list[str]:
    """The YAML blocks that are playbooks (`id:`), scenarios (`steps:`) or config.yaml excerpts (neither)."""
    playbook = [b for b in BLOCKS if re.search(r"^id:", b, re.M)]
    scenario = [b for b in BLOCKS if re.search(r"^steps:", b, re.M)]
    return {"playbook": playbook, "scenario": scenario, "config": [b for b in BLOCKS if b not in playbook + scenario]}[
        kind
    ]


def test_the_playbooks_shown_are_the_shipped_ones_without_their_notes() -> None:
    """What a shipped playbook does is shown whole; only its description and most of the word list are left out."""
    shipped = {p.stem: yaml.safe_load(p.read_text("utf-8")) for p in SHIPPED.glob("*.yaml")}
    shown_ids = []
    for block in shown("playbook"):
        data = yaml.safe_load(block)
        if data["id"] not in shipped:
            continue
        shown_ids.append(data["id"])
        real = dict(shipped[data["id"]])
        del real["description"]
        for name, words in data.pop("wordlists", {}).items():
            assert set(words) <= set(real["wordlists"][name]), f"{data['id']}: words the shipped list does not have"
        real.pop("wordlists", None)
        assert data == real, data["id"]
    assert sorted(shown_ids) == ["anti-ad", "anti-flood", "banned-words"]


def test_the_other_playbooks_shown_load_without_problems_or_warnings() -> None:
    others = {f"playbooks/{yaml.safe_load(b)['id']}.yaml": b for b in shown("playbook")}
    others = {k: v for k, v in others.items() if Path(k).stem not in {p.stem for p in SHIPPED.glob("*.yaml")}}
    assert others
    loaded = load_texts(others)
    assert (loaded.problems, loaded.warnings) == ([], [])


def test_the_config_shown_is_valid() -> None:
    load_abilities()
    blocks = shown("config")
    assert any("moderation:" in b for b in blocks) and any("alerts:" in b for b in blocks)
    for block in blocks:
        Config.model_validate(yaml.safe_load(block))


async def test_the_scenario_shown_passes_on_the_shipped_playbooks(tmp_path: Path) -> None:
    (text,) = shown("scenario")
    file = tmp_path / "doc.yaml"
    file.write_text(text, "utf-8")
    problems = Problems()
    scenario = parse_scenario(file, file.name, problems)
    assert scenario is not None, [str(p) for p in problems.sorted()]
    result = await run_scenario(scenario, load_folder(ROOT / "playbooks"), Config())
    assert result.passed, result.detail
