"""The examples of the language contract behave as written, not only load."""

from __future__ import annotations

from pathlib import Path

import contract_examples
import pytest
import yaml

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
@pytest.mark.parametrize(
    ("copy", "shared"),
    [
        (contract_examples.CONTRACT, contract_examples.SHARED),
        (contract_examples.MODERATION, contract_examples.SHARED_MODERATION),
    ],
    ids=["PLAYBOOKS.md", "MODERATION.md"],
)
def test_the_copy_of_the_contract_is_current(copy: Path, shared: Path) -> None:
    assert shared.is_file(), f"../shared/{shared.name} is missing"
    assert copy.read_text("utf-8") == shared.read_text("utf-8"), (
        f"../shared/{shared.name} changed: copy it to tests/contract/{copy.name} and make the tests pass"
    )


# MODERATION.md's examples as written, every line exercised: the `has` kinds and the `ads` word list warn and
# reply with warn.count; the third warning removes, says so in the group and alerts staff; a newcomer
# (days_in_room < 1) is removed at once; both flood triggers warn and reply.
MODERATION_SCENARIO = """
name: MODERATION.md 的两个例子
start: "2026-11-23 10:00"
config: {alerts: {room: staffroom}}
rooms:
  - {id: r1, topic: 会员福利1群}
  - {id: staffroom, topic: 店员群, managed: false}
members:
  - {id: u1, name: 小王, joined: "2026-10-01 09:00"}
  - {id: u2, name: 小李, joined: "2026-10-01 09:00"}
  - {id: u3, name: 小张, joined: "2026-10-01 09:00"}
  - {id: u4, name: 小赵, joined: "2026-10-01 09:00"}
  - {id: u8, name: 新来的}
steps:
  - say: {member: u1, room: r1, kind: link, title: 秒杀, url: "https://t.cn/a"}
  - expect: {to: r1, contains: 请勿发广告，这是第 1 次提醒（3 次将被移出）, mentions: u1}
  - check: {member: u1, warnings: 1}
  - say: {member: u1, room: r1, text: "加 微-信 abc1234 详聊"}
  - expect: {to: r1, contains: 这是第 2 次提醒, mentions: u1}
  - say: {member: u1, room: r1, kind: image, qr: "https://u.wechat.com/x"}
  - expect: {removed: u1, from: r1}
  - expect: {to: r1, contains: 小王 发广告，已移出本群}
  - expect: {to: staffroom, contains: 已移出 小王（会员福利1群）：发广告}
  - expect_none: {to: r1}
  - check: {member: u1, warnings: 3, rooms: [staffroom]}
  - say: {member: u2, room: r1, kind: miniprogram, title: 天天领现金, url: wx9f8e7d6c5b4a3f2e}
  - expect: {to: r1, contains: 这是第 1 次提醒, mentions: u2}
  - say: {member: u2, room: r1, kind: card, title: 兼职客服}
  - expect: {to: r1, contains: 这是第 2 次提醒, mentions: u2}
  - join: {member: u8, room: r1}
  - say: {member: u8, room: r1, text: 兼职刷单，日结}
  - expect: {removed: u8, from: r1}
  - expect: {to: r1, contains: 新来的 发广告，已移出本群}
  - expect: {to: staffroom, contains: 已移出 新来的（会员福利1群）：发广告}
  - check: {member: u8, warnings: 1}
  - say: {member: u3, room: r1, text: 在吗}
  - say: {member: u3, room: r1, text: 店长}
  - say: {member: u3, room: r1, text: 有人吗}
  - say: {member: u3, room: r1, text: 快回我}
  - say: {member: u3, room: r1, text: 急}
  - expect_none: {to: r1}
  - say: {member: u3, room: r1, text: 急急急}
  - expect: {to: r1, contains: 请不要刷屏哦～, mentions: u3}
  - check: {member: u3, warnings: 1}
  - say: {member: u4, room: r1, text: 有货吗}
  - advance: 50s
  - say: {member: u4, room: r1, text: 有货吗}
  - advance: 50s
  - expect_none: {to: r1}
  - say: {member: u4, room: r1, text: 有货吗}
  - expect: {to: r1, contains: 请不要刷屏哦～, mentions: u4}
  - check: {member: u4, warnings: 1}
"""


def moderation_examples() -> dict[str, str]:
    """MODERATION.md's example playbooks, exactly as written."""
    examples = contract_examples.playbooks(contract_examples.MODERATION)
    return {f"playbooks/{yaml.safe_load(text)['id']}.yaml": text for text in examples}


async def run_moderation_scenario(tmp_path: Path, examples: dict[str, str]) -> list[str]:
    playbooks = load_texts(examples)
    assert playbooks.problems == playbooks.warnings == []
    file = tmp_path / "moderation-contract.yaml"
    file.write_text(MODERATION_SCENARIO, "utf-8")
    problems = Problems()
    scenario = parse_scenario(file, file.name, problems)
    assert scenario is not None, [str(p) for p in problems.sorted()]
    result = await run_scenario(scenario, playbooks, Config())
    return [] if result.passed else result.detail


async def test_the_moderation_contracts_examples_work_as_written(tmp_path: Path) -> None:
    examples = moderation_examples()
    assert sorted(examples) == ["playbooks/anti-ad.yaml", "playbooks/anti-flood.yaml"]
    assert await run_moderation_scenario(tmp_path, examples) == []


async def test_the_moderation_scenario_fails_without_the_anti_flood_example(tmp_path: Path) -> None:
    """The scenario really exercises the examples: take one away and the flood steps break."""
    examples = moderation_examples()
    del examples["playbooks/anti-flood.yaml"]
    detail = await run_moderation_scenario(tmp_path, examples)
    assert detail and "expected a message to r1" in detail[0] and "请不要刷屏" in detail[0]
